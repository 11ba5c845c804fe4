"""The feature cache: extraction writes one memory-mapped .npy per video, resumes, skips and reports bad videos,
and the loader rejects feature files of the wrong shape with an error naming the file."""
import numpy as np
import pytest

from tinyalstm.data.datasets import DatasetError
from tinyalstm.data.features import FeatureError, extract_features, feature_path, gather_window, load_features
from tinyalstm.models.frame_encoder import FrameEncoder


def _videos():
    r = np.random.default_rng(0)
    return {f"Cls{i % 2}/v_{i}": r.integers(0, 256, size=(5 + i, 16, 16, 3)).astype(np.uint8) for i in range(4)}


def test_extract_then_load_matches_the_encoder(tmp_path):
    enc = FrameEncoder(3, 16, 2, widths=(4, 3))
    videos = _videos()
    report = extract_features(videos.items(), lambda v: v, enc.features, tmp_path, enc.feature_shape,
                              dtype=np.float32, batch=3, progress=False)
    assert report.count == 0
    for key, frames in videos.items():
        feats = load_features(tmp_path, key, enc.feature_shape)
        assert isinstance(feats, np.memmap)
        np.testing.assert_allclose(feats, enc.features(frames), rtol=1e-6, atol=1e-6)
    assert not list(tmp_path.rglob("*.partial"))


def test_resume_skips_cached_videos_and_bad_videos_are_reported(tmp_path):
    enc = FrameEncoder(3, 16, 2, widths=(4, 3))
    videos = _videos()
    calls = []

    def frames_of(v):
        calls.append(len(v))
        if len(v) == 6:
            raise OSError("corrupt.avi: moov atom not found")
        return v

    report = extract_features(videos.items(), frames_of, enc.features, tmp_path, enc.feature_shape, progress=False)
    assert report.names == ["Cls1/v_1"]
    assert "moov atom" in report.summary() and "1 skipped" in report.summary()
    # a leftover partial file from a killed pass is not mistaken for a finished one
    feature_path(tmp_path, "Cls0/v_0").unlink()
    feature_path(tmp_path, "Cls0/v_0").with_suffix(".npy.partial").write_bytes(b"half")
    calls.clear()
    extract_features(videos.items(), frames_of, enc.features, tmp_path, enc.feature_shape, progress=False)
    assert sorted(calls) == [5, 6]            # only the deleted one and the bad one are decoded again
    assert load_features(tmp_path, "Cls0/v_0", enc.feature_shape).shape == (5, 3, 4, 4)


def test_bad_feature_files_name_the_file(tmp_path):
    np.save(tmp_path / "wrong.npy", np.zeros((4, 3, 5, 5), np.float32))
    np.save(tmp_path / "flat.npy", np.zeros((4, 75), np.float32))
    np.save(tmp_path / "empty.npy", np.zeros((0, 3, 4, 4), np.float32))
    np.save(tmp_path / "ints.npy", np.zeros((2, 3, 4, 4), np.int64))
    (tmp_path / "junk.npy").write_bytes(b"not an npy file")
    cases = {"wrong": r"wrong.npy: expected \(frames, 3, 4, 4\)", "flat": "flat.npy: expected features of shape",
             "empty": "empty.npy: expected features", "ints": "ints.npy: expected a float dtype",
             "junk": "junk.npy: not a readable", "missing": "missing.npy: feature file not found"}
    for key, message in cases.items():
        with pytest.raises(FeatureError, match=message):
            load_features(tmp_path, key, (3, 4, 4))


def test_gather_window_pads_with_the_last_frame():
    feats = np.arange(3, dtype=np.float16).reshape(3, 1, 1, 1)
    np.testing.assert_array_equal(gather_window(feats, [1, 2, 3, 4]).ravel(), [1, 2, 2, 2])


def test_feature_split_in_the_ucf101_layout(tmp_path):
    """Features computed elsewhere: <root>/<Class>/<video>.npy + ucfTrainTestlist/; a file of the wrong shape and
    a line naming a missing file are skipped and reported by name."""
    from tinyalstm.data.features import load_feature_split
    lists = tmp_path / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_text("1 Jump\r\n2 Run\r\n")
    (lists / "trainlist01.txt").write_text("Jump/v_Jump_g01_c01.avi 1\r\nRun/v_Run_g01_c01.avi 2\r\n"
                                           "Run/v_Run_g01_c02.avi 2\r\nJump/v_Jump_g01_c09.avi 1\r\n")
    for name, shape in [("Jump/v_Jump_g01_c01", (6, 4, 3, 3)), ("Run/v_Run_g01_c01", (9, 4, 3, 3)),
                        ("Run/v_Run_g01_c02", (9, 4, 2, 2))]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        np.save(tmp_path / f"{name}.npy", np.ones(shape, np.float16))
    split = load_feature_split(tmp_path, 1, "train", feature_shape=(4, 3, 3))
    assert [(s.name, s.label) for s in split.samples] == [("Jump/v_Jump_g01_c01.avi", 0), ("Run/v_Run_g01_c01.avi", 1)]
    assert split.report.count == 2
    reasons = dict(split.report.skipped)
    assert "v_Run_g01_c02.npy: expected (frames, 4, 3, 3)" in reasons["Run/v_Run_g01_c02.avi"]
    assert "v_Jump_g01_c09.npy" in reasons["Jump/v_Jump_g01_c09.avi"]
    with pytest.raises(DatasetError, match=r"trainlist01.txt, line 4: .*v_Jump_g01_c09.npy"):
        load_feature_split(tmp_path, 1, "train", feature_shape=(4, 3, 3), on_error="raise")
    (lists / "trainlist01.txt").write_text("Run/v_Run_g01_c02.avi 2\n")
    with pytest.raises(FeatureError, match="v_Run_g01_c02.npy: expected"):
        load_feature_split(tmp_path, 1, "train", feature_shape=(4, 3, 3), on_error="raise")
