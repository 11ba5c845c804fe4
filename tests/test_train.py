"""The training CLI end to end on tiny data: outputs, determinism, resume after a kill equals an uninterrupted run,
the NaN stop keeps the last good checkpoint, bad arguments, and the whole video pipeline on a tiny synthetic set."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tinyalstm import train
from tinyalstm.checks import RunError
from tinyalstm.experiment.evaluation import fuse_runs
from tinyalstm.metrics import mean_average_precision

CLASSES = ["Jump", "Run", "Swim"]             # the classes of the ``feats`` fixture (conftest.py)


def _args(root, out, model="convlstm", epochs=3, extra=()):
    return ["--dataset", "features", "--root", str(root), "--model", model, "--epochs", str(epochs), "--out",
            str(out), "--frames", "4", "--hidden", "3", "--fc-dim", "6", "--batch-size", "3", "--lr", "0.01",
            "--eval-windows", "2", *extra]


def _metrics(out):
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


@pytest.mark.parametrize("model", ["lstm", "alstm", "alstm-b", "alstm-spatial", "alstm-motion", "convalstm",
                                   "videolstm"])
def test_every_model_trains_and_writes_its_outputs(feats, tmp_path, model):
    out = tmp_path / model
    res = train.main(_args(feats, out, model, epochs=2))
    assert 0 <= res["test_accuracy"] <= 1 and 0 <= res["test_map"] <= 1
    for name in ("config.json", "metrics.jsonl", "checkpoint.npz", "result.json", "test_scores.npy"):
        assert (out / name).is_file(), name
    assert len(_metrics(out)) == 2
    assert np.load(out / "test_scores.npy").shape == (len(CLASSES), len(CLASSES))


def test_same_seed_same_metrics_and_resume_after_kill_equals_an_uninterrupted_run(feats, tmp_path):
    train.main(_args(feats, tmp_path / "a", epochs=4))
    train.main(_args(feats, tmp_path / "b", epochs=4))
    assert _metrics(tmp_path / "a") == _metrics(tmp_path / "b")            # determinism on the CPU

    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "tinyalstm.train", *_args(feats, out, epochs=60)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while not (out / "metrics.jsonl").exists() or len(_metrics(out)) < 2:
        assert proc.poll() is None and time.time() < deadline, "training ended or stalled before the kill"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(_metrics(out))
    assert 2 <= done < 60
    train.main(_args(feats, out, epochs=4 if done < 4 else done + 1, extra=["--resume"]))
    full = tmp_path / "full"
    train.main(_args(feats, full, epochs=4 if done < 4 else done + 1))
    assert _metrics(out) == _metrics(full)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(feats, tmp_path, monkeypatch, capsys):
    from tinyalstm.models import ConvLSTM
    real_loss, calls = ConvLSTM.loss, []

    def loss(self, *a, **kw):
        calls.append(1)
        value, grads = real_loss(self, *a, **kw)
        return (float("nan") if len(calls) > 3 else value), grads     # epoch 1 has 3 batches

    monkeypatch.setattr(ConvLSTM, "loss", loss)
    out = tmp_path / "nan"
    assert train.main(_args(feats, out, epochs=3)) is None
    assert "stopped at epoch 2: non-finite loss" in capsys.readouterr().out
    with np.load(out / "checkpoint.npz") as z:
        assert int(z["epoch"]) == 1
        assert all(np.isfinite(z[k]).all() for k in z.files if k.startswith("param/"))


def test_bad_arguments_name_the_option(tmp_path, capsys):
    for argv, message in [(["--dataset", "ucf101"], "--root is required"),
                          (["--dataset", "ucf101", "--root", str(tmp_path / "nope")], "not a folder"),
                          (["--epochs", "0"], "--epochs: expected an integer >= 1"),
                          (["--encoder-epochs", "-1"], "--encoder-epochs: expected an integer >= 0"),
                          (["--lr", "-1"], "--lr: expected a positive number")]:
        with pytest.raises(SystemExit):
            train.parse_args(argv)
        assert message in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="no flow/ folder"):
        (tmp_path / "f" / "ucfTrainTestlist").mkdir(parents=True)
        (tmp_path / "f" / "rgb").mkdir()
        train.main(["--dataset", "features", "--root", str(tmp_path / "f"), "--model", "videolstm", "--out",
                    str(tmp_path / "o")])


def test_a_validation_split_scores_the_epochs_and_the_test_set_waits(feats, tmp_path):
    out = tmp_path / "val"
    res = train.main(_args(feats, out, "convlstm", epochs=2, extra=("--validation", "0.34")))
    config = json.loads((out / "config.json").read_text())
    assert config["validation_videos"] == 3 and config["train_videos"] == 6   # 1 of 3 groups, every class
    rows = _metrics(out)
    assert all("val_acc" in r and "test_acc" not in r for r in rows)          # no epoch looks at the test set
    assert 0 <= res["validation_accuracy"] <= 1 and 0 <= res["test_accuracy"] <= 1
    with pytest.raises(RunError, match="validation"):                       # resume with another split: refused
        train.main(_args(feats, out, "convlstm", epochs=3, extra=("--resume",)))


def test_videolstm_trains_its_two_streams_and_fuses_them_by_product(feats, tmp_path, capsys):
    """The default VideoLSTM run is the paper's Table 3 model: its flow stream is the same run as a ConvALSTM on
    flow trained alone with the same options (scores equal), and the fused figures are those of the product of the
    two streams' normalised video scores, on validation and test."""
    extra = ("--validation", "0.34")
    res = train.main(_args(feats, tmp_path / "two", "videolstm", epochs=2, extra=extra))
    alone = train.main(_args(feats, tmp_path / "flow", "convalstm", epochs=2, extra=(*extra, "--modality", "flow")))
    stream = tmp_path / "two" / "flow-stream"
    for subset in ("test", "validation"):
        np.testing.assert_array_equal(np.load(stream / f"{subset}_scores.npy"),
                                      np.load(tmp_path / "flow" / f"{subset}_scores.npy"))
        p, q = (np.load(d / f"{subset}_scores.npy") for d in (tmp_path / "two", stream))
        fused = (p / p.sum(1, keepdims=True)) * (q / q.sum(1, keepdims=True))
        labels = np.load(stream / f"{subset}_labels.npy")
        assert res["two_stream"][f"{subset}_accuracy"] == np.mean(fused.argmax(1) == labels)
    assert res["two_stream"]["flow_stream"]["test_accuracy"] == alone["test_accuracy"]
    assert json.loads((tmp_path / "two" / "result.json").read_text())["two_stream"] == res["two_stream"]
    said = capsys.readouterr().out
    assert f"two streams fused by product (VideoLSTM Table 3): test acc {res['two_stream']['test_accuracy']:.3f}" \
        in said
    # the fusion of two runs' saved scores (the experiments' Table 3 too) refuses what it cannot fuse, by name
    other = tmp_path / "other"
    other.mkdir()
    scores, labels = np.load(stream / "test_scores.npy"), np.load(stream / "test_labels.npy")
    np.save(other / "test_scores.npy", scores[:-1])
    np.save(other / "test_labels.npy", labels[:-1])
    with pytest.raises(RunError, match="do not match"):
        fuse_runs(stream, other)
    np.save(other / "test_scores.npy", scores)
    np.save(other / "test_labels.npy", (labels + 1) % len(CLASSES))
    with pytest.raises(RunError, match="scored on different test videos"):
        fuse_runs(stream, other)
    (other / "test_scores.npy").write_bytes(b"half a file")
    with pytest.raises(RunError, match=f"{other / 'test_scores.npy'}: unreadable"):
        fuse_runs(stream, other)
    one = train.main(_args(feats, tmp_path / "one", "videolstm", epochs=2, extra=(*extra, "--no-two-stream")))
    assert "two_stream" not in one and not (tmp_path / "one" / "flow-stream").exists()
    assert one["test_accuracy"] == res["test_accuracy"]                    # the RGB stream is the same run
    with pytest.raises(SystemExit):
        train.parse_args(_args(feats, tmp_path / "x", "convalstm", extra=("--two-stream",)))
    assert "--two-stream: the two-stream model is VideoLSTM's" in capsys.readouterr().err


def test_the_defaults_are_the_recipe_chosen_on_validation(tmp_path):
    """No options: the two-stream VideoLSTM for 8 epochs on maps of the fine-tuned pretrained RGB encoder (the
    choices docs/pretraining.md made on the validation split); other models keep 15 epochs, and datasets whose
    frames are not of the synthetic world train their RGB encoder from scratch."""
    args = train.parse_args([])
    assert (args.model, args.two_stream, args.epochs, args.rgb_encoder) == ("videolstm", True, 8, "finetuned")
    args = train.parse_args(["--no-two-stream"])
    assert (args.two_stream, args.epochs) == (False, 15)
    assert train.parse_args(["--model", "convlstm"]).epochs == 15
    assert train.parse_args(["--dataset", "ucf101", "--root", str(tmp_path)]).rgb_encoder == "scratch"
    assert train.parse_args(["--epochs", "3", "--rgb-encoder", "frozen"]).epochs == 3


def test_the_video_pipeline_on_a_tiny_synthetic_dataset(tmp_path):
    """Generate -> decode -> flow -> frame encoders (ConvNet baseline) -> feature cache -> VideoLSTM."""
    from tinyalstm.data import synthetic
    synthetic.generate(tmp_path / "syn", classes=3, groups=3, clips=1, frames=12, size=32, distractors=1, clutter=2)
    out = tmp_path / "run"
    res = train.main(["--root", str(tmp_path / "syn"), "--out", str(out), "--epochs", "1", "--encoder-epochs",
                      "1", "--size", "32", "--frames", "6", "--hidden", "3", "--fc-dim", "6", "--eval-windows", "1",
                      "--rgb-encoder", "scratch"])
    assert set(res["convnet"]) == {"rgb", "flow"}
    assert (out / "result.json").is_file()
    shown = [p.name.split("_")[1] for p in out.glob("attention_*.png")]        # attention_<Class>_<video>.png
    assert len(shown) == 3 and len(set(shown)) == 3                            # one test video per class shown
    saved = json.loads((out / "result.json").read_text())["localization"]      # the benchmark has ground truth
    assert list(saved["recall"]) == ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6"] and saved["videos"] > 0
    assert 0 < saved["box_share"] < 1 and 0 <= saved["attention_in_box"] <= 1
    assert 0 < saved["box_share_outside"] < 1 and 0 <= saved["attention_in_box_outside"] <= 1   # before/after
    assert list((tmp_path / "syn" / ".tinyalstm-work").glob("*/features/*/*/*.npy"))


def test_a_regenerated_synthetic_root_gets_a_fresh_cache(tmp_path):
    """Regenerating a synthetic --root with other options keeps the video names; its cache must not be reused."""
    from tinyalstm.data import pipeline, synthetic
    kw = dict(classes=3, groups=3, clips=1, frames=12, size=32, distractors=1, clutter=2)
    synthetic.generate(tmp_path / "syn", **kw)
    first = pipeline.default_work("synthetic", tmp_path / "syn")
    assert pipeline.default_work("synthetic", tmp_path / "syn") == first
    synthetic.generate(tmp_path / "syn", context=1.0, force=True, **kw)
    assert pipeline.default_work("synthetic", tmp_path / "syn") != first
    assert pipeline.default_work("ucf101", tmp_path / "a") != pipeline.default_work("ucf101", tmp_path / "b")


def test_evaluate_checkpoints_and_late_fusion(feats, tmp_path, capsys):
    """evaluate reproduces the training run's final scores from its checkpoint, and the fused row equals the
    product of the two models' normalised probabilities, computed here from the runs' own saved scores."""
    from tinyalstm import evaluate
    train.main(_args(feats, tmp_path / "rgb", epochs=2))
    train.main(_args(feats, tmp_path / "flow", epochs=2, extra=["--modality", "flow"]))
    res = evaluate.main(["--checkpoint", str(tmp_path / "rgb" / "checkpoint.npz"), "--fuse",
                         str(tmp_path / "flow" / "checkpoint.npz")])
    a, b = np.load(tmp_path / "rgb" / "test_scores.npy"), np.load(tmp_path / "flow" / "test_scores.npy")
    labels = np.arange(len(CLASSES))                        # one test video per class, in classInd order
    pa, pb = a / a.sum(1, keepdims=True), b / b.sum(1, keepdims=True)
    fused = pa * pb
    assert res["convlstm (rgb)"]["accuracy"] == json.loads((tmp_path / "rgb" / "result.json").read_text())[
        "test_accuracy"]
    assert res["late fusion (product)"]["accuracy"] == float((fused.argmax(1) == labels).mean())
    assert "late fusion (product)" in capsys.readouterr().out
    with pytest.raises(RunError, match="file not found"):
        evaluate.main(["--checkpoint", str(tmp_path / "nope.npz")])
    train.main(_args(feats, tmp_path / "rgb2", epochs=2, extra=["--seed", "3"]))   # a third model, weighted
    res = evaluate.main(["--checkpoint", str(tmp_path / "rgb" / "checkpoint.npz"), "--fuse",
                         str(tmp_path / "flow" / "checkpoint.npz"), str(tmp_path / "rgb2" / "checkpoint.npz"),
                         "--weights", "1", "2", "0.5", "--fusion", "sum"])
    c = np.load(tmp_path / "rgb2" / "test_scores.npy")
    avg = (pa + 2 * pb + 0.5 * c / c.sum(1, keepdims=True)) / 3.5
    row = res["late fusion (sum, weights 1 2 0.5)"]
    assert row["accuracy"] == float((avg.argmax(1) == labels).mean())
    assert row["map"] == pytest.approx(mean_average_precision(avg, labels))
    assert "convlstm (rgb)'" in res                                         # two rgb models, both listed


def test_early_stopping_keeps_and_tests_the_best_epoch_on_validation(feats, tmp_path, capsys):
    from tinyalstm.experiment.evaluation import evaluate_checkpoint
    out = tmp_path / "early"
    res = train.main(_args(feats, out, "convlstm", epochs=40, extra=("--validation", "0.34", "--patience", "2")))
    rows = _metrics(out)
    losses = [r["val_loss"] for r in rows]
    best = int(np.argmin(losses)) + 1
    assert len(rows) < 40 and len(rows) - best == 2                        # stopped 2 epochs after the best
    assert res["chosen_epoch"] == best and "early stop" in capsys.readouterr().out
    tested = np.load(out / "test_scores.npy")
    np.testing.assert_allclose(evaluate_checkpoint(out / "best.npz")[0], tested)       # the kept epoch was tested
    assert not np.allclose(evaluate_checkpoint(out / "checkpoint.npz")[0], tested)    # not the last one
    with pytest.raises(SystemExit):
        train.parse_args(["--patience", "3"])                             # nothing to watch without --validation


def test_fine_tuning_from_a_checkpoint_copies_the_weights_and_restarts_the_class_layer(feats, tmp_path, capsys):
    import shutil
    from tinyalstm.run.checkpoints import read_checkpoint
    first = tmp_path / "first"
    train.main(_args(feats, first, "convlstm", epochs=2))
    source = read_checkpoint(first / "checkpoint.npz")["params"]
    tiny = ("--lr", "1e-12", "--init-from", str(first / "checkpoint.npz"))   # one epoch that moves nothing
    same = tmp_path / "same"
    train.main(_args(feats, same, "convlstm", epochs=1, extra=tiny))
    tuned = read_checkpoint(same / "checkpoint.npz")["params"]
    assert all(np.allclose(tuned[k], source[k], atol=1e-6) for k in source)
    other = tmp_path / "other_classes"                                  # the same videos, one class renamed
    shutil.copytree(feats, other)
    for m in ("rgb", "flow"):
        (other / m / "Swim").rename(other / m / "Dive")
        for f in (other / m / "Dive").iterdir():
            f.rename(f.with_name(f.name.replace("Swim", "Dive")))
    for name in ("classInd.txt", "trainlist01.txt", "testlist01.txt"):
        p = other / "ucfTrainTestlist" / name
        p.write_text(p.read_text().replace("Swim", "Dive"))
    tuned_dir = tmp_path / "tuned"
    train.main(_args(other, tuned_dir, "convlstm", epochs=1, extra=tiny))
    assert "the class layer (Wy, by) starts afresh" in capsys.readouterr().out
    tuned = read_checkpoint(tuned_dir / "checkpoint.npz")["params"]
    assert not np.allclose(tuned["Wy"], source["Wy"])                   # the class layer was not copied
    assert all(np.allclose(tuned[k], source[k], atol=1e-6) for k in source if k not in ("Wy", "by"))
    from tinyalstm.run.checkpoints import CheckpointError
    with pytest.raises(CheckpointError, match="do not fit this run's model"):
        train.main(_args(feats, tmp_path / "bigger", "convlstm", epochs=1, extra=tiny + ("--hidden", "5")))


def test_alstm_models_default_to_sgd_with_the_step_decay_of_their_paper(feats, tmp_path):
    """aLSTM sec. 4.1: SGD, momentum 0.9, lr fixed (0.03 here, 0.01 in the paper), then decayed by a ratio per
    period (here: after --lr-decay-after epochs, once per epoch); the VideoLSTM models keep RMSprop at 1e-3. A
    resumed SGD run equals an uninterrupted one (the velocity is in the checkpoint; the schedule does not depend on
    --epochs)."""
    from tinyalstm.experiment.parts import build_optimizer
    args = train.parse_args(["--model", "alstm"])
    assert (args.optimizer, args.lr, args.momentum, args.lr_decay) == ("sgd", 0.03, 0.9, 0.9)
    assert (train.parse_args([]).optimizer, train.parse_args([]).lr) == ("rmsprop", 1e-3)
    opt = build_optimizer({"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "lr_decay": 0.5, "lr_decay_after": 2,
                           "epochs": 4}, 3)
    lrs = []
    for _ in range(12):                     # 3 steps per epoch: epochs 1-2 fixed, then halved after every epoch
        lrs.append(opt.current_lr())
        opt.t += 1
    assert lrs == pytest.approx([0.01] * 6 + [0.005] * 3 + [0.0025] * 3)
    with pytest.raises(SystemExit):
        train.parse_args(["--model", "convlstm", "--lr-decay", "0.5"])       # rmsprop has no decay

    out, full = tmp_path / "resumed", tmp_path / "full"
    train.main(_args(feats, out, "alstm", epochs=2, extra=["--lr-decay-after", "1"]))
    with np.load(out / "checkpoint.npz") as z:
        assert any(k.startswith("opt/velocity/") for k in z.files)
    train.main(_args(feats, out, "alstm", epochs=4, extra=["--lr-decay-after", "1", "--resume"]))
    train.main(_args(feats, full, "alstm", epochs=4, extra=["--lr-decay-after", "1"]))
    assert _metrics(out) == _metrics(full)
