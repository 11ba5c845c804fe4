"""Given vector features, as the aLSTM paper uses them (sec. 4.1): input-data one C3D vector per chunk, (N, dv), in
flow/; attended-data one VGG vector per frame, (T, da), in rgb/; T = r N (the T = 2N experiment: r = 2). Each
modality gets its own feature size, the vector models read the rows as they are, windows count input steps and
read r attended rows per step, and bad files are skipped and named."""
import json

import numpy as np
import pytest

from tinyalstm import train
from tinyalstm.data.features import load_feature_split, validate_feature_files
from tinyalstm.data.pipeline import prepare_given_features
from tinyalstm.data.windows import WindowReader, rows_per_input_step
from tinyalstm.models import aLSTM, model_spec
from tinyalstm.run.checkpoints import read_checkpoint

from conftest import write_feature_folder      # the feature-folder writer the map tests use

CLASSES = ["Jump", "Run", "Swim"]
DV, DA = 5, 3                         # the input-data's and the attended-data's feature sizes (C3D 4096, VGG 1000)


def write_vector_features(root, r=2, dv=DV, da=DA, videos_per_class=4, rows=6, maps=False):
    """<root>/flow/<Class>/<video>.npy (N, dv) and <root>/rgb/... (r N, da) + ucfTrainTestlist/ -> {key: N}.
    Video v of a class has N = rows + v input rows; class c lifts feature c (learnable). ``maps``: (rows, D, 2, 2)
    files instead (to check r with maps)."""
    extra = (2, 2) if maps else ()
    return write_feature_folder(root, {"flow": (1, (dv, *extra)), "rgb": (r, (da, *extra))}, CLASSES,
                                videos_per_class, rows, seed=1)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))      # the NaN verdicts cache stays in here


def _quiet(msg):
    pass


def test_each_modality_has_its_own_vector_size_and_the_windows_read_two_attended_rows_per_step(tmp_path):
    counts = write_vector_features(tmp_path / "f", r=2)
    data = prepare_given_features(tmp_path / "f", 1, ["flow", "rgb"], log=_quiet)
    assert data.shapes == {"flow": (DV,), "rgb": (DA,)} and data.feature_shape == (DV,)
    assert data.rates == {"flow": 1, "rgb": 2} and data.report.count == 0
    assert len(data.train) == 9 and len(data.test) == 3
    key, label = data.train[0]
    reader = WindowReader(data, model_spec("alstm"), "rgb")
    assert reader.length(key) == counts[key]                      # in input steps, not attended rows
    flow = np.load(tmp_path / "f" / "flow" / f"{key}.npy")
    rgb = np.load(tmp_path / "f" / "rgb" / f"{key}.npy")
    assert rgb.shape == (2 * counts[key], DA)
    V, y, A = reader.batch([(key, label)], [np.array([1, 2, 3])], np.float64)
    assert V.shape == (1, 3, DV) and A.shape == (1, 6, DA) and y.tolist() == [label]
    np.testing.assert_array_equal(V[0], flow[[1, 2, 3]])          # the vectors as they are, not pooled
    np.testing.assert_array_equal(A[0], rgb[[2, 3, 4, 5, 6, 7]])  # rows 2i, 2i + 1 of every step i
    last = counts[key] - 1                                        # a padded window repeats the last step's rows
    _, _, A = reader.batch([(key, label)], [np.array([last - 1, last, last])], np.float64)
    np.testing.assert_array_equal(A[0], rgb[[2 * last - 2, 2 * last - 1, 2 * last, 2 * last + 1, 2 * last,
                                             2 * last + 1]])
    # the aLSTM model takes A (B, 2F, da) beside V (B, F, dv): attention over 2F rows at each of F steps
    model = aLSTM(DV, DA, 4, 4, len(CLASSES))
    V, y, A = reader.batch(data.train[:2], [np.arange(4), np.arange(4)], np.float32)
    probs, att = model.predict(V, A)
    assert probs.shape == (2, len(CLASSES)) and att.shape == (2, 4, 8)
    np.testing.assert_allclose(np.asarray(att).sum(axis=2), 1, rtol=1e-5)


def test_a_single_stream_vector_model_reads_its_modality_as_it_is(tmp_path):
    write_vector_features(tmp_path / "f", r=2)
    data = prepare_given_features(tmp_path / "f", 1, ["rgb"], log=_quiet)
    assert data.shapes == {"rgb": (DA,)} and data.rates == {"rgb": 1}
    key, label = data.test[0]
    reader = WindowReader(data, model_spec("lstm"), "rgb")
    rgb = np.load(tmp_path / "f" / "rgb" / f"{key}.npy")
    assert reader.length(key) == len(rgb)
    V, _, A = reader.batch([(key, label)], [np.array([0, 5, 9])], np.float64)
    assert A is None
    np.testing.assert_array_equal(V[0], rgb[[0, 5, 9]])


def test_rows_per_input_step_is_one_integer_for_the_dataset():
    rows = {"flow": {"a": 18, "b": 20, "c": 10, "d": 7}, "rgb": {"a": 37, "b": 40, "c": 20, "d": 14}}
    r, bad = rows_per_input_step(rows, "flow", "rgb")
    assert r == 2 and list(bad) == ["a"]
    assert bad["a"].startswith("rgb has 37 rows, flow 18: not 2 per input step")
    # r = 1: one row fewer (flow beside RGB frames) is kept, a video with twice the rows is not
    rows = {"flow": {"a": 9, "b": 20, "c": 10}, "rgb": {"a": 10, "b": 20, "c": 20}}
    r, bad = rows_per_input_step(rows, "flow", "rgb")
    assert r == 1 and list(bad) == ["c"] and "rgb has 20 rows, flow 10: not 1 per input step" in bad["c"]
    assert rows_per_input_step({"flow": {"a": 3}}, "flow", "flow") == (1, {})


def test_bad_vector_files_are_named_and_each_shape_is_decided_by_its_own_modality(tmp_path):
    root = tmp_path / "f"
    counts = write_vector_features(root, r=2, videos_per_class=6)    # g01 test, g02-g06 train
    rgb, flow = root / "rgb", root / "flow"
    damage = {
        rgb / "Jump" / "v_Jump_g02_c01.npy": (np.ones((12, 7), np.float32), f"expected (frames, {DA}), got vectors "
                                                                            "of (7,)"),
        rgb / "Jump" / "v_Jump_g03_c01.npy": (np.ones((14, DA, 2, 2), np.float32), "got maps of"),
        rgb / "Jump" / "v_Jump_g04_c01.npy": (np.ones(14, np.float32), "expected features of shape"),
        rgb / "Run" / "v_Run_g02_c01.npy": (np.ones((14, DA, 2), np.float32), "expected features of shape"),
        rgb / "Run" / "v_Run_g03_c01.npy": (np.ones((16, DA), np.int16), "float dtype"),
        rgb / "Run" / "v_Run_g04_c01.npy": (np.array([{"a": 1}] * 3, dtype=object), "Python objects"),
        flow / "Swim" / "v_Swim_g02_c01.npy": (np.ones((7, DA), np.float32), f"expected (frames, {DV}), got "
                                                                          f"vectors of ({DA},)"),
    }
    for path, (x, _) in damage.items():
        np.save(path, x, allow_pickle=x.dtype == object)
    truncated = rgb / "Swim" / "v_Swim_g03_c01.npy"
    truncated.write_bytes(truncated.read_bytes()[:200])
    nan = flow / "Swim" / "v_Swim_g04_c01.npy"
    x = np.load(nan)
    x[4, 2] = np.nan
    np.save(nan, x)
    odd = rgb / "Jump" / "v_Jump_g05_c01.npy"                 # 2 N + 1 attended rows
    n = counts["Jump/v_Jump_g05_c01"]
    np.save(odd, np.ones((2 * n + 1, DA), np.float32))
    damage.update({truncated: (None, "truncated or damaged"), nan: (None, "NaN or inf values (first in frame 4)"),
                   odd: (None, f"rgb has {2 * n + 1} rows, flow {n}: not 2 per input step")})

    lines = []
    data = prepare_given_features(root, 1, ["flow", "rgb"], log=lines.append)
    assert data.shapes == {"flow": (DV,), "rgb": (DA,)} and data.rates["rgb"] == 2
    for path, (_, why) in damage.items():
        named = [reason for name, reason in data.report.skipped if path.stem in name]
        assert len(named) == 1 and why in named[0], (path, why, data.report.skipped)
    assert data.report.count == len(damage)
    kept = {key for key, _ in data.train + data.test}
    assert len(kept) == 18 - len(damage) and not any(p.stem in k for k in kept for p in damage)
    assert f"{len(damage)} skipped (named below)" in lines[0] and "rgb vectors (3,)" in lines[0]
    assert all(p.stem in "\n".join(lines) for p in damage)


def test_maps_and_vectors_in_one_modality_keep_the_most_common_kind(tmp_path):
    from tinyalstm.data.datasets import Sample, SkipReport
    paths = []
    for i, shape in enumerate([(4, 6), (5, 6), (6, 6), (4, 6, 2, 2)]):
        paths.append(tmp_path / f"v{i}.npy")
        np.save(paths[-1], np.ones(shape, np.float32))
    report = SkipReport()
    kept, shape = validate_feature_files({"train": [Sample(str(p), 0, f"{p.stem}.avi") for p in paths]}, report)
    assert shape == (6,) and [s.path for s in kept["train"]] == [str(p) for p in paths[:3]]
    assert report.names == ["v3.avi"] and "got maps of (6, 2, 2) (3 of the 4 readable files have (6,))" in \
        report.reasons[0]


def test_load_feature_split_reads_vectors(tmp_path):
    write_vector_features(tmp_path / "f", r=1)
    split = load_feature_split(tmp_path / "f" / "flow", 1, "train", feature_shape=(DV,))
    assert len(split.samples) == 9 and split.report.count == 0
    split = load_feature_split(tmp_path / "f" / "flow", 1, "train", feature_shape=(DV, 2, 2))
    assert len(split.samples) == 0 and "got vectors of (5,)" in split.report.reasons[0]


def test_r_with_maps_for_alstm_and_a_model_that_reads_both_inputs_per_frame_is_refused(tmp_path):
    write_vector_features(tmp_path / "f", r=2, da=DV, maps=True)            # maps share one (D, N, N)
    data = prepare_given_features(tmp_path / "f", 1, ["flow", "rgb"], log=_quiet)
    assert data.rates == {"flow": 1, "rgb": 2} and data.feature_shape == (DV, 2, 2)
    key, label = data.test[1]
    rgb = np.load(tmp_path / "f" / "rgb" / f"{key}.npy").astype(np.float64)
    _, _, A = WindowReader(data, model_spec("alstm"), "rgb").batch([(key, label)], [np.array([0, 2])], np.float64)
    np.testing.assert_allclose(A[0], rgb[[0, 1, 4, 5]].mean(axis=(2, 3)))     # pooled maps, two rows per step
    with pytest.raises(ValueError, match="videolstm.*only the aLSTM models"):
        WindowReader(data, model_spec("videolstm"), "rgb")


def _args(root, out, model="alstm", extra=()):
    return ["--dataset", "features", "--root", str(root), "--model", model, "--epochs", "2", "--out", str(out),
            "--frames", "4", "--hidden", "3", "--fc-dim", "6", "--batch-size", "3", "--lr", "0.01",
            "--eval-windows", "2", *extra]


def test_train_alstm_on_vector_features_with_twice_the_attended_rows(tmp_path, monkeypatch, capsys):
    """End to end: the model is built for dv and da and sees V (B, F, dv) beside A (B, 2F, da), in training and in
    the 25-window test; --validation and --patience work as on maps."""
    write_vector_features(tmp_path / "f", r=2, rows=5)
    seen = []
    loss, predict = aLSTM.loss, aLSTM.predict

    def recording_loss(self, first, y, second=None, rng=None):
        seen.append(("loss", first.shape, second.shape))
        return loss(self, first, y, second, rng=rng)

    def recording_predict(self, first, second=None):
        seen.append(("predict", first.shape, second.shape))
        return predict(self, first, second)

    monkeypatch.setattr(aLSTM, "loss", recording_loss)
    monkeypatch.setattr(aLSTM, "predict", recording_predict)
    out = tmp_path / "run"
    res = train.main(_args(tmp_path / "f", out, extra=["--validation", "0.34", "--patience", "1"]))
    assert 0 <= res["test_accuracy"] <= 1 and "validation_accuracy" in res and res["windows"] == 25
    config = json.loads((out / "config.json").read_text())
    assert config["feature_shape"] == [DV] and config["validation_videos"] == 3 and config["train_videos"] == 6
    params = read_checkpoint(out / "checkpoint.npz")["params"]
    assert params["Wx"].shape == (DV, 12) and params["Waa"].shape == (DA, 3) and params["Wk"].shape == (DA, 12)
    losses = [s for s in seen if s[0] == "loss"]
    assert losses and all(s[1][1:] == (4, DV) and s[2][1:] == (8, DA) and s[1][0] == s[2][0] for s in losses)
    assert (("predict", (25, 4, DV), (25, 8, DA))) in seen            # the final test: 25 windows of a video
    assert "2 rgb rows per flow row" in capsys.readouterr().out


def test_a_map_model_given_vector_features_is_one_message(tmp_path):
    write_vector_features(tmp_path / "f", r=1)
    with pytest.raises(ValueError, match=rf"--model convlstm: it reads N x N maps; the rgb features are vectors of "
                                         rf"shape \(frames, {DA}\)"):
        train.main(_args(tmp_path / "f", tmp_path / "o", model="convlstm"))
    with pytest.raises(ValueError, match="model videolstm: .*vectors of shape"):
        WindowReader(prepare_given_features(tmp_path / "f", 1, ["rgb", "flow"], log=_quiet),
                     model_spec("videolstm"), "rgb")
    for flag in (["--flip"], ["--test-chunks", "2"]):                 # no frames to mirror
        with pytest.raises(SystemExit) as err:
            train.main(_args(tmp_path / "f", tmp_path / "o2", extra=flag))
        assert err.value.code == 2
