"""Shared test settings: the hypothesis profile, the ``gpu`` marker, and at the end of a run the table "worst
relative gradient error per op" (finite differences vs the hand-written backward pass, from
``tinyalstm.gradcheck.WORST``), the figure the README quotes.
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from tinyalstm.gradcheck import WORST

settings.register_profile("ci", max_examples=12, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_terminal_summary(terminalreporter):
    if WORST:
        terminalreporter.write_sep("-", "worst relative gradient error per op (finite differences, float64)")
        for op in sorted(WORST):
            terminalreporter.write_line(f"{op:40s} {WORST[op]:.2e}")


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs CuPy and an NVIDIA GPU (skipped otherwise)")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


FEATURE_CLASSES = ["Jump", "Run", "Swim"]


def _features_dataset(root, videos_per_class=4, frames=10, shape=(4, 3, 3), seed=0):
    """<root>/{rgb,flow}/<Class>/<video>.npy + ucfTrainTestlist/: class c has a bright channel c (learnable)."""
    r = np.random.default_rng(seed)
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("".join(f"{i + 1} {c}\r\n" for i, c in enumerate(FEATURE_CLASSES)))
    train_lines, test_lines = [], []
    for c, name in enumerate(FEATURE_CLASSES):
        for v in range(videos_per_class):
            key = f"{name}/v_{name}_g{v + 1:02d}_c01"
            for m in ("rgb", "flow"):
                x = r.normal(size=(frames + v, *shape)).astype(np.float32)
                x[:, c] += 1.5
                (root / m / name).mkdir(parents=True, exist_ok=True)
                np.save(root / m / f"{key}.npy", x)
            (test_lines if v == 0 else train_lines).append(f"{key}.avi" + ("" if v == 0 else f" {c + 1}"))
    (lists / "trainlist01.txt").write_text("\r\n".join(train_lines) + "\r\n")
    (lists / "testlist01.txt").write_text("\r\n".join(test_lines) + "\r\n")
    return root


@pytest.fixture
def feats(tmp_path):
    """A tiny --dataset features folder: 3 classes, 4 videos each (1 test, 3 train in groups g02-g04)."""
    return _features_dataset(tmp_path / "feats")
