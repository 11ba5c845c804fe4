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
