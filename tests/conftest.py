"""Shared test settings: the hypothesis profile, the ``gpu`` marker, and at the end of a run the table "worst
relative gradient error per op" (finite differences vs the hand-written backward pass, from
``tinyalstm.gradcheck.WORST``), the figure the README quotes; and the small dataset folders several tests write in
official layouts (features, Hollywood2, ActivityNet).
"""
import json
import os

import imageio_ffmpeg
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from tinyalstm.data import synthetic
from tinyalstm.data.hollywood2 import ACTIONS
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


def write_feature_folder(root, streams, classes, videos_per_class=4, rows=10, seed=0):
    """A --dataset features folder: <root>/<modality>/<Class>/<video>.npy + ucfTrainTestlist/. ``streams``:
    {modality: (rows per input row, feature shape)}, drawn in that order; video v of a class has rows + v input
    rows; class c has a bright feature c (learnable). -> {key: input rows}."""
    r = np.random.default_rng(seed)
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("".join(f"{i + 1} {c}\r\n" for i, c in enumerate(classes)))
    train_lines, test_lines, counts = [], [], {}
    for c, name in enumerate(classes):
        for v in range(videos_per_class):
            key = f"{name}/v_{name}_g{v + 1:02d}_c01"
            counts[key] = rows + v
            for m, (per_row, shape) in streams.items():
                x = r.normal(size=(per_row * (rows + v), *shape)).astype(np.float32)
                x[:, c] += 1.5
                (root / m / name).mkdir(parents=True, exist_ok=True)
                np.save(root / m / f"{key}.npy", x)
            (test_lines if v == 0 else train_lines).append(f"{key}.avi" + ("" if v == 0 else f" {c + 1}"))
    (lists / "trainlist01.txt").write_text("\r\n".join(train_lines) + "\r\n")
    (lists / "testlist01.txt").write_text("\r\n".join(test_lines) + "\r\n")
    return counts


def _features_dataset(root, videos_per_class=4, frames=10, shape=(4, 3, 3), seed=0):
    """<root>/{rgb,flow}/<Class>/<video>.npy maps + ucfTrainTestlist/ (write_feature_folder)."""
    write_feature_folder(root, {"rgb": (1, shape), "flow": (1, shape)}, FEATURE_CLASSES, videos_per_class, frames,
                         seed)
    return root


@pytest.fixture
def feats(tmp_path):
    """A tiny --dataset features folder: 3 classes, 4 videos each (1 test, 3 train in groups g02-g04)."""
    return _features_dataset(tmp_path / "feats")


FPS = 25
ANET_TAXONOMY = [{"nodeId": 0, "nodeName": "Root", "parentId": None, "parentName": None},
            {"nodeId": 1, "nodeName": "Sports", "parentId": 0, "parentName": "Root"},
            {"nodeId": 2, "nodeName": "Surfing", "parentId": 1, "parentName": "Sports"},
            {"nodeId": 3, "nodeName": "Archery", "parentId": 1, "parentName": "Sports"},
            {"nodeId": 4, "nodeName": "Household", "parentId": 0, "parentName": "Root"},
            {"nodeId": 5, "nodeName": "Ironing clothes", "parentId": 4, "parentName": "Household"}]


def write_mp4(path, n_frames, size=32):
    """A video whose frame k is filled with grey level 4k + 20, to tell frames apart after decoding."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w = imageio_ffmpeg.write_frames(str(path), (size, size), fps=FPS, codec="libx264", macro_block_size=1,
                                    pix_fmt_out="yuv420p", ffmpeg_log_level="error", output_params=["-crf", "0"])
    w.send(None)
    for k in range(n_frames):
        w.send(np.full((size, size, 3), 4 * k + 20, np.uint8))
    w.close()


def anet_entry(subset, duration, *segments):
    return {"subset": subset, "duration": duration, "resolution": "32x32", "url": "https://www.youtube.com/",
            "annotations": [{"segment": list(seg), "label": label} for seg, label in segments]}


# each motion class of the benchmark stands for four of the 12 actions, so every clip carries four labels and every
# action has positive clips in both lists
HOLLYWOOD2_MOTIONS = {"MoveLeft": ACTIONS[0:4], "MoveRight": ACTIONS[4:8], "MoveUp": ACTIONS[8:12]}


def write_hollywood2(root, train_groups=(1, 2), test_groups=(3,)):
    """A Hollywood2-layout folder of 32 px XVID clips (one motion each) -> {clip: its set of actions}."""
    base = root / "Hollywood2"
    (base / "ClipSets").mkdir(parents=True)
    (base / "AVIClips").mkdir()
    labels = {}
    for subset, groups in (("train", train_groups), ("test", test_groups)):
        n = 0
        for motion, actions in HOLLYWOOD2_MOTIONS.items():
            for g in groups:
                n += 1
                clip = f"actioncliptrain{n:05d}" if subset == "train" else f"actioncliptest{n:05d}"
                frames, _ = synthetic.render_video(motion, g, 1, frames=12, size=32, distractors=1, clutter=2,
                                                   classes=list(HOLLYWOOD2_MOTIONS))
                synthetic.write_avi(base / "AVIClips" / f"{clip}.avi", frames)
                labels[clip] = set(actions)
        for action in ACTIONS:
            clips = [c for c in labels if subset in c]
            (base / "ClipSets" / f"{action}_{subset}.txt").write_text(
                "".join(f"{c}  {1 if action in labels[c] else -1}\n" for c in clips))
        (base / "ClipSets" / f"actions_{subset}.txt").write_text("not a class list\n")
    return labels

@pytest.fixture
def hollywood2_folder(tmp_path):
    """A Hollywood2-layout folder (write_hollywood2) -> (its root, {clip: its set of actions})."""
    root = tmp_path / "hoha2"
    return root, write_hollywood2(root)


@pytest.fixture
def activitynet_folder(tmp_path):
    """An ActivityNet-layout folder: activity_net.v1-3.min.json and 50-frame MP4 videos; training has 7 segments of
    4 videos (3 classes), validation 3 videos; one training video is missing (to be named in the skip report)."""
    root = tmp_path / "an"
    database = {f"t{i}": anet_entry("training", 2.0, ((0.0, 1.0), "Surfing"), ((1.0, 2.0), "Archery"))
                for i in range(3)}
    database.update({"v0": anet_entry("validation", 2.0, ((0.2, 1.6), "Surfing")),
                     "v1": anet_entry("validation", 2.0, ((0.0, 2.0), "Archery")),
                     "v2": anet_entry("validation", 2.0, ((0.0, 1.0), "Ironing clothes")),
                     "t3": anet_entry("training", 2.0, ((0.0, 2.0), "Ironing clothes")),
                     "gone": anet_entry("training", 2.0, ((0.0, 2.0), "Surfing"))})
    for vid in database:
        if vid != "gone":
            write_mp4(root / "videos" / f"v_{vid}.mp4", 50)
    (root / "activity_net.v1-3.min.json").write_text(json.dumps({"taxonomy": ANET_TAXONOMY, "database": database}))
    return root


@pytest.fixture(scope="module")
def one_torch_thread():
    """PyTorch on one thread while a module's tests run (restored after), where torch is installed: the feature
    extractor's tests feed its networks a few tiny frames, which a second thread only slows (on a busy 2-core
    machine OpenMP's synchronisation made each VGG-16 call 10x slower)."""
    try:
        import torch
    except ImportError:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
