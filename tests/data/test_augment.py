"""Flips: RGB frames mirrored; flow images mirrored with the horizontal component negated in the uint8 encoding,
checked against the flow computed on the mirrored video itself; the pipeline caches and reads the mirrored maps,
for training (--flip) and for aLSTM's test protocol (--test-chunks), written out here by hand."""
import json

import numpy as np
import pytest

from tinyalstm.data.augment import flip_frames
from tinyalstm.data.flow import image_to_flow, video_flow


def _moving_square(T=5, size=32, step=1):
    frames = np.full((T, size, size, 3), 40, np.uint8)
    for t in range(T):
        frames[t, 12:20, 6 + step * t:14 + step * t] = 220           # an 8 px square moving right
    frames[:, 2:5, 24:28] = 120                                         # something still, off-centre
    return frames


def test_rgb_frames_are_mirrored():
    f = _moving_square()
    out = flip_frames(f, "rgb")
    np.testing.assert_array_equal(out, f[:, :, ::-1])
    np.testing.assert_array_equal(flip_frames(out, "rgb"), f)          # twice is the identity


def test_flipped_flow_is_the_flow_of_the_mirrored_video():
    frames = _moving_square()
    flipped = flip_frames(video_flow(frames), "flow")
    mirrored = video_flow(frames[:, :, ::-1].copy())
    u_flip, u_mirror = image_to_flow(flipped)[..., 0], image_to_flow(mirrored)[..., 0]
    moving = np.abs(image_to_flow(mirrored)).sum(axis=-1) > 0.3
    assert moving.any()
    assert np.median(u_mirror[moving]) < -0.3                           # the mirrored square moves left
    assert np.abs(u_flip - u_mirror).mean() < 0.05                      # px: the flip equals recomputing
    assert np.abs(image_to_flow(flipped)[..., 1] - image_to_flow(mirrored)[..., 1]).mean() < 0.05
    with pytest.raises(ValueError, match="uint8 flow images"):
        flip_frames(frames, "flow")


def test_training_with_flips_caches_and_reads_the_mirrored_maps(tmp_path):
    from tinyalstm import train
    from tinyalstm.data import synthetic
    from tinyalstm.data.windows import WindowReader
    from tinyalstm.models import model_spec
    from tinyalstm.experiment.parts import run_data
    synthetic.generate(tmp_path / "syn", classes=3, groups=3, clips=1, frames=12, size=32, distractors=1, clutter=2)
    out = tmp_path / "run"
    argv = ["--root", str(tmp_path / "syn"), "--out", str(out), "--epochs", "1", "--encoder-epochs", "1", "--size",
            "32", "--frames", "6", "--hidden", "3", "--fc-dim", "6", "--eval-windows", "1", "--rgb-encoder", "scratch",
            "--flip"]
    assert train.main(argv)["test_accuracy"] >= 0
    config = json.loads((out / "config.json").read_text())
    data = run_data(config, log=lambda msg: None)
    assert set(data.flipped_roots) == {"rgb", "flow"}
    cached = {p.relative_to(data.flipped_roots["rgb"]).with_suffix("").as_posix()
              for p in data.flipped_roots["rgb"].rglob("*.npy")}
    assert cached == {k for k, _ in data.train + data.test}             # every video, mirrored once
    reader = WindowReader(data, model_spec("videolstm"), "rgb")
    key, idx = data.train[0][0], np.arange(6)
    plain, _, plain_flow = reader.batch([data.train[0]], [idx], np.float32)
    mirrored, _, mirrored_flow = reader.batch([data.train[0]], [idx], np.float32, flips=[True])
    assert not np.allclose(plain, mirrored) and not np.allclose(plain_flow, mirrored_flow)
    np.testing.assert_allclose(mirrored[0], np.asarray(reader.features(key, "rgb", flipped=True)[idx], np.float32))
    with pytest.raises(SystemExit):
        train.parse_args(["--dataset", "features", "--root", str(tmp_path), "--flip"])


def test_alstm_test_protocol_averages_random_chunks_and_their_mirrored_copies(tmp_path):
    import zlib

    from tinyalstm import train
    from tinyalstm.run.checkpoints import read_config
    from tinyalstm.data import synthetic
    from tinyalstm.data.windows import chunk_windows
    from tinyalstm.experiment.evaluation import evaluate_checkpoint
    from tinyalstm.experiment.parts import load_run
    synthetic.generate(tmp_path / "syn", classes=3, groups=3, clips=1, frames=12, size=32, distractors=1, clutter=2)
    out = tmp_path / "chunks"
    res = train.main(["--root", str(tmp_path / "syn"), "--out", str(out), "--model", "alstm", "--epochs", "1",
                      "--encoder-epochs", "1", "--size", "32", "--frames", "6", "--hidden", "3", "--eval-windows",
                      "1", "--rgb-encoder", "scratch", "--test-chunks", "4"])
    assert res["test_protocol"].startswith("4 random chunks")
    tested = np.load(out / "test_scores.npy")
    config = read_config(out / "checkpoint.npz")
    data, model, reader = load_run(config, out / "checkpoint.npz", log=lambda msg: None)
    by_hand = []
    for key, _ in data.test:                       # the protocol written out: 4 chunks, then the same 4 mirrored
        wins = chunk_windows(reader.length(key), 6, 4, np.random.default_rng(zlib.crc32(key.encode())))
        plain = model.predict(*reader.batch([(key, 0)] * 4, list(wins), model.dtype)[::2])[0]
        first, _, second = reader.batch([(key, 0)] * 4, list(wins), model.dtype, flips=[True] * 4)
        mirrored = model.predict(first, second)[0]
        by_hand.append(np.concatenate([plain, mirrored]).mean(axis=0))
    np.testing.assert_allclose(tested, np.stack(by_hand), rtol=1e-5)
    windows_only = evaluate_checkpoint(out / "checkpoint.npz", chunks=0, log=lambda msg: None)[0]
    assert not np.allclose(windows_only, tested)  # the 25-window protocol scores differently
