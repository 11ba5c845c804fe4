"""Faults met through the commands that run children or write results (experiments, evaluate, localize, the
synthetic generators): a signal stops experiments and its training processes at once, damaged files in its run
folders are named, results are not replaced without a word, and options are checked before any work. Real
subprocesses where signals and process groups matter; tiny data throughout."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import FEATURE_CLASSES, write_feature_folder
from tinyalstm import evaluate, experiments, localize, train
from tinyalstm.checks import RunError
from tinyalstm.data import synthetic
from tinyalstm.data.synthetic import multilabel, single
from tinyalstm.run.checkpoints import CheckpointError, read_checkpoint
from tinyalstm.run.folder import RunFolderError

TINY = ["--size", "32", "--frames", "6", "--hidden", "3", "--fc-dim", "6", "--eval-windows", "1",
        "--rgb-encoder", "scratch", "--encoder-epochs", "1"]


@pytest.fixture(scope="module")
def syn(tmp_path_factory):
    root = tmp_path_factory.mktemp("syn") / "syn"
    synthetic.generate(root, classes=3, groups=3, clips=1, frames=12, size=32, distractors=1, clutter=2)
    return root


@pytest.fixture(scope="module")
def feats_run(tmp_path_factory):
    """A finished tiny training run on a --dataset features folder -> its folder (checkpoint.npz)."""
    tmp = tmp_path_factory.mktemp("feats")
    write_feature_folder(tmp / "feats", {"rgb": (1, (4, 3, 3)), "flow": (1, (4, 3, 3))}, FEATURE_CLASSES)
    out = tmp / "run"
    train.main(["--dataset", "features", "--root", str(tmp / "feats"), "--model", "convlstm", "--epochs", "1",
                "--out", str(out), "--frames", "4", "--hidden", "3", "--fc-dim", "6", "--batch-size", "3",
                "--eval-windows", "1"])
    return out


@pytest.fixture(scope="module")
def videolstm_run(syn, tmp_path_factory):
    out = tmp_path_factory.mktemp("vl") / "run"
    train.main(["--root", str(syn), "--out", str(out), "--epochs", "1", *TINY])
    return out


def _pids_of_locks(folder):
    pids = []
    for lock in folder.rglob(".lock"):
        try:
            pids.append(int(json.loads(lock.read_text())["pid"]))
        except (OSError, ValueError, KeyError):
            pass
    return pids


# -- experiments: signals ---------------------------------------------------------------------------------------

def _start_experiments(syn, out, runs, encoder_epochs=1):
    """experiments on the tiny benchmark, its recurrent runs (and with ``encoder_epochs``, its ConvNet runs) far
    longer than a test: the signal always meets a run in progress."""
    argv = ["--root", str(syn), "--seeds", "0", "--epochs", "100000", "--jobs", "1", "--out", str(out), "--runs",
            *runs, "--", *TINY[:-1], str(encoder_epochs)]
    return subprocess.Popen([sys.executable, "-m", "tinyalstm.experiments", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)     # its own terminal group


def _wait_for(proc, ready, limit=120):
    deadline = time.time() + limit
    while not ready():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "the run never started"
        time.sleep(0.05)


@pytest.mark.parametrize("how, code", [("ctrl-c", 130), ("sigterm", 143)])
def test_a_signal_stops_experiments_and_its_running_child_and_starts_no_other_run(syn, tmp_path, how, code):
    out = tmp_path / "exp"
    proc = _start_experiments(syn, out, ["convnet-rgb", "convnet-flow", "convalstm-flow", "videolstm"])
    seed = out / "seed0"
    try:
        # convalstm-flow is queued before videolstm: wait until it has trained an epoch
        metrics = seed / "convalstm-flow" / "metrics.jsonl"
        _wait_for(proc, lambda: metrics.exists() and metrics.read_text().strip())
        t0 = time.time()
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)       # a terminal's Ctrl-C: the whole foreground group
        else:
            proc.send_signal(signal.SIGTERM)        # the experiments process alone
        stdout, stderr = proc.communicate(timeout=30)
        took = time.time() - t0
    finally:
        for pid in [proc.pid] + _pids_of_locks(out):     # never leave a training process behind
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert proc.returncode == code and took < 20 and "Traceback" not in stderr
    assert not (seed / "videolstm").exists()                       # the queued run was not started
    stopped = seed / "convalstm-flow"
    assert not (stopped / ".lock").exists()                        # the child ended (its lock released)
    assert read_checkpoint(stopped / "checkpoint.npz")["epoch"] >= 1        # resumable
    assert "interrupted in epoch" in (stopped / "train.log").read_text()
    assert "rerun the same command to continue" in stdout


def test_sigterm_while_the_first_convnet_run_builds_its_caches(syn, tmp_path):
    out = tmp_path / "exp"
    proc = _start_experiments(syn, out, ["convnet-rgb", "convnet-flow"], encoder_epochs=100000)
    log = out / "seed0" / "convnet-rgb" / "train.log"
    try:
        _wait_for(proc, lambda: log.exists() and "data:" in log.read_text())
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
        time.sleep(0.5)
    finally:
        for pid in [proc.pid] + _pids_of_locks(out):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert proc.returncode == 143
    assert not (out / "seed0" / "convnet-flow").exists()
    assert not (out / "seed0" / "convnet-rgb" / ".lock").exists()
    assert "stopped by SIGTERM" in log.read_text()          # the child ended by its own handler, not killed


# -- experiments: damaged run folders --------------------------------------------------------------------------

def _recorded(syn, out, name="convnet-rgb", model="convnet", modality="rgb"):
    """The folder of run ``name`` (seed 0) and the options experiments records in its options.json."""
    folder = out / "seed0" / name
    folder.mkdir(parents=True)
    return folder, ["--root", str(syn), "--model", model, "--modality", modality, "--seed", "0", "--epochs", "1",
                    "--out", str(folder), *TINY]


@pytest.mark.parametrize("file, content, expected", [
    ("options.json", '["--root", "/x', r"options.json: the options the run was made with is unreadable"),
    ("options.json", '{"--root": 1}', r"options.json: expected the list of the run's train options"),
    ("result.json", '{"test_accuracy": "high"}', r"result.json: field 'test_accuracy' is 'high', expected a number"),
    ("result.json", '{"test_accuracy": 0.5, "chance": NaN}', r"result.json: field 'chance' is nan"),
    ("result.json", '{"test_map": 0.5}', r"result.json: field 'test_accuracy' is missing"),
    ("result.json", '[0.5]', r"result.json: expected a JSON object"),
    ("result.json", '{"test_accuracy": 0.5', r"result.json: the run's result is unreadable"),
])
def test_a_damaged_file_in_an_experiments_run_folder_is_named(syn, tmp_path, file, content, expected):
    out = tmp_path / "exp"
    folder, options = _recorded(syn, out)
    (folder / "options.json").write_text(json.dumps(options))
    (folder / file).write_text(content)
    with pytest.raises(RunError, match=expected) as err:
        experiments.main(["--root", str(syn), "--seeds", "0", "--epochs", "1", "--out", str(out), "--runs",
                          "convnet-rgb", "--", *TINY])
    assert str(folder) in str(err.value) and "delete the run folder" in str(err.value)


# -- localize and evaluate --json: locks, refusals, partial files ----------------------------------------------

def test_localize_refuses_to_replace_another_checkpoints_results(videolstm_run, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    (other / "checkpoint.npz").write_bytes((videolstm_run / "checkpoint.npz").read_bytes())   # another checkpoint
    where = tmp_path / "loc"
    localize.main(["--checkpoint", str(videolstm_run / "checkpoint.npz"), "--out", str(where)])
    first = {p.name: p.read_bytes() for p in where.iterdir()}
    assert json.loads(first["localization.json"])["checkpoint"] == str((videolstm_run / "checkpoint.npz").resolve())
    with pytest.raises(RunFolderError, match=r"localization.json, tubes.json there hold the results of .*run/"
                                             r"checkpoint.npz, not of .*other/checkpoint.npz; give --overwrite"):
        localize.main(["--checkpoint", str(other / "checkpoint.npz"), "--out", str(where)])
    assert {p.name: p.read_bytes() for p in where.iterdir()} == first                # untouched
    (where / "localization_stale.png").write_bytes(b"an overlay of the previous results")
    localize.main(["--checkpoint", str(other / "checkpoint.npz"), "--out", str(where), "--overwrite"])
    assert "--overwrite: removed the previous results" in capsys.readouterr().err
    assert json.loads((where / "localization.json").read_text())["checkpoint"].endswith("other/checkpoint.npz")
    assert not (where / "localization_stale.png").exists() and not (where / ".lock").exists()
    localize.main(["--checkpoint", str(other / "checkpoint.npz"), "--out", str(where)])      # its own: replaced


def test_localize_removes_partial_files_left_by_a_killed_run_and_takes_the_lock(videolstm_run, tmp_path):
    where = tmp_path / "loc"
    where.mkdir()
    for name in ("localization_Jump_v_x.png.partial", "tubes.json.partial", "localization.json.partial"):
        (where / name).write_bytes(b"half")
    (where / "notes.txt.partial").write_bytes(b"not localize's")
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (where / ".lock").write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname(), "started": "now"}))
        with pytest.raises(RunFolderError, match=f"in use by process {holder.pid}"):
            localize.main(["--checkpoint", str(videolstm_run / "checkpoint.npz"), "--out", str(where)])
    finally:
        holder.kill()
        holder.wait()
    localize.main(["--checkpoint", str(videolstm_run / "checkpoint.npz"), "--out", str(where)])
    assert sorted(p.name for p in where.glob("*.partial")) == ["notes.txt.partial"]
    assert (where / "tubes.json").exists() and not (where / ".lock").exists()


def test_localize_into_another_training_runs_folder_is_refused(videolstm_run, feats_run):
    before = sorted(p.name for p in feats_run.iterdir())
    with pytest.raises(RunFolderError, match=r"holds a training run \(config.json, .*\) that these results are not of"):
        localize.main(["--checkpoint", str(videolstm_run / "checkpoint.npz"), "--out", str(feats_run),
                       "--overwrite"])
    assert sorted(p.name for p in feats_run.iterdir()) == before


def test_localize_sigma_wider_than_the_frames_is_refused_before_the_run_is_loaded(videolstm_run, tmp_path):
    with pytest.raises(RunError, match=r"--sigma 100: expected 0 to 32 pixels"):
        localize.main(["--checkpoint", str(videolstm_run / "checkpoint.npz"), "--out", str(tmp_path / "l"),
                       "--sigma", "100"])


def test_evaluate_json_is_not_replaced_without_overwrite(feats_run, tmp_path, capsys):
    ckpt = feats_run / "checkpoint.npz"
    copy = tmp_path / "b" / "checkpoint.npz"
    copy.parent.mkdir()
    copy.write_bytes(ckpt.read_bytes())
    target = tmp_path / "eval" / "scores.json"
    target.parent.mkdir()
    (tmp_path / "eval" / "scores.json.partial").write_bytes(b"half")          # left by a killed evaluate
    evaluate.main(["--checkpoint", str(ckpt), "--windows", "2", "--json", str(target)])
    saved = json.loads(target.read_text())
    assert saved["checkpoints"] == [str(ckpt.resolve())] and "convlstm (rgb)" in saved["results"]
    assert not (tmp_path / "eval" / "scores.json.partial").exists()
    before = target.read_bytes()
    with pytest.raises(RunFolderError, match=r"scores.json there hold the results of .*run/checkpoint.npz, not of "
                                             r".*b/checkpoint.npz; give --overwrite"):
        evaluate.main(["--checkpoint", str(copy), "--windows", "2", "--json", str(target)])
    assert target.read_bytes() == before
    evaluate.main(["--checkpoint", str(ckpt), "--windows", "3", "--json", str(target)])       # its own: replaced
    evaluate.main(["--checkpoint", str(copy), "--json", str(target), "--overwrite", "--windows", "2"])
    assert json.loads(target.read_text())["checkpoints"] == [str(copy.resolve())]
    target.write_text('{"convlstm (rgb)": {"accuracy": 1.0}}')                 # a file that records nothing
    with pytest.raises(RunFolderError, match="record no checkpoint"):
        evaluate.main(["--checkpoint", str(ckpt), "--json", str(target)])


def test_train_removes_partial_files_of_a_killed_run(feats_run, tmp_path):
    import shutil
    out = tmp_path / "run"
    shutil.copytree(feats_run, out)
    config = json.loads((out / "config.json").read_text())
    (out / "checkpoint.npz.partial").write_bytes(b"half a checkpoint")
    (out / "attention_Jump_v.png.partial").write_bytes(b"half")
    train.main(["--dataset", "features", "--root", config["root"], "--model", "convlstm", "--epochs", "2", "--out",
                str(out), "--frames", "4", "--hidden", "3", "--fc-dim", "6", "--batch-size", "3", "--eval-windows",
                "1", "--resume"])
    assert not list(out.glob("*.partial")) and read_checkpoint(out / "checkpoint.npz")["epoch"] == 2


# -- options checked before any work: exit 2 naming the option -------------------------------------------------

def _usage_error(main, argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    return exit_.value.code, capsys.readouterr().err


@pytest.mark.parametrize("argv, said", [
    (["--fuse", "{b}", "--weights", "nan", "1"], "--weights: expected 2 finite non-negative numbers"),
    (["--fuse", "{b}", "--weights", "inf", "1"], "--weights: expected 2 finite"),
    (["--fuse", "{b}", "--weights", "1e308", "1e308"], "--weights: expected 2 finite"),
    (["--chunks", "-3"], "--chunks: expected an integer 0..1000"),
    (["--windows", "100000"], "--windows: expected an integer 1..1000"),
    (["--json", "{dir}/result.json"], "result.json is a training run's own file"),
    (["--json", "{dir}"], "a folder; give a file name"),
    (["--overwrite"], "--overwrite: only with --json"),
])
def test_evaluate_options_are_checked_first(tmp_path, capsys, argv, said):
    # the checkpoints do not exist: an option checked after them would be met as "file not found" (exit 1)
    argv = [a.format(b=tmp_path / "b.npz", dir=tmp_path) for a in argv]
    code, err = _usage_error(evaluate.main, ["--checkpoint", str(tmp_path / "a.npz"), *argv], capsys)
    assert code == 2 and said in err


@pytest.mark.parametrize("argv, said", [
    (["--sigma", "inf"], "--sigma: expected 0 to 1024 pixels, got inf"),
    (["--sigma", "nan"], "--sigma: expected 0 to 1024 pixels, got nan"),
    (["--sigma", "1e9"], "--sigma: expected 0 to 1024 pixels"),
    (["--annotations", "{dir}/nope.pkl"], "nope.pkl: file not found"),
])
def test_localize_options_are_checked_first(tmp_path, capsys, argv, said):
    argv = [a.format(dir=tmp_path) for a in argv]
    code, err = _usage_error(localize.main, ["--checkpoint", str(tmp_path / "a.npz"), *argv], capsys)
    assert code == 2 and said in err


@pytest.mark.parametrize("argv, said", [
    (["--seeds", "-1"], "--seeds: expected non-negative integers"),
    (["--", "--frames", "-3"], "after -- (run convnet-rgb): --frames: expected an integer >= 1"),
    (["--", "--lr", "nan"], "--lr: expected a positive number, got nan"),
    (["--", "--seed", "3"], "after --: --seed is set by this command"),
    (["--", "--out", "x"], "after --: --out is set by this command"),
])
def test_experiments_options_are_checked_first(tmp_path, capsys, argv, said):
    (tmp_path / "file").write_text("--root is a file: a late check would fail on it, not on the option")
    code, err = _usage_error(experiments.main, ["--root", str(tmp_path / "file"), "--out", str(tmp_path / "o"),
                                                *argv], capsys)
    assert code == 2 and said in err and not (tmp_path / "o").exists()


@pytest.mark.parametrize("main, argv, said", [
    (single.main, ["--frames", "100000000"], "frames: expected an integer 8..1000"),
    (single.main, ["--size", "100000"], "size: expected width and height even integers 32..512"),
    (single.main, ["--workers", "100000"], "--workers: expected an integer 1..256"),
    (multilabel.main, ["--frames", "5000"], "frames: expected an integer 8..1000"),
    (multilabel.main, ["--size", "1024x64"], "size: expected width and height even integers 32..512"),
])
def test_the_generators_refuse_absurd_sizes_before_writing(tmp_path, capsys, main, argv, said):
    # --quality 0, checked after these options, keeps a generator that lets them through from rendering them
    code, err = _usage_error(main, ["--out", str(tmp_path / "o"), "--quiet", "--quality", "0", *argv], capsys)
    assert code == 2 and said in err and not (tmp_path / "o").exists()


# -- a checkpoint's metadata, damaged field by field -------------------------------------------------------------

def _config_with(**fields):
    return lambda arrays: arrays.update(config=np.array(json.dumps({**json.loads(str(arrays["config"])),
                                                                    **fields})))


def _without(key):
    def damage(arrays):
        config = json.loads(str(arrays["config"]))
        del config[key]
        arrays["config"] = np.array(json.dumps(config))
    return damage


@pytest.mark.parametrize("damage, said", [
    (_config_with(frames="16"), "configuration field 'frames' is '16', expected an integer >= 1"),
    (_config_with(hidden=3.5), "configuration field 'hidden' is 3.5, expected an integer >= 1"),
    (_config_with(dropout="high"), "configuration field 'dropout' is 'high', expected a finite number in [0, 1)"),
    (_config_with(root=3), "configuration field 'root' is 3, expected a text or null"),
    (_config_with(classes="abc"), "configuration field 'classes' is 'abc', expected a list of texts"),
    (_config_with(model="nosuch"), "configuration field 'model' is 'nosuch', expected one of convnet"),
    (_without("model"), "its stored configuration has no model"),
    (lambda a: a.update(config=np.array("[1, 2]")), "entry 'config' is [1, 2], expected a JSON object"),
    (lambda a: a.update(epoch=np.array("two")), "entry 'epoch' is 'two', expected an integer >= 0"),
    (lambda a: a.update(epoch=np.array(-1)), "entry 'epoch' is -1, expected an integer >= 0"),
    (lambda a: a.update(rng=np.array("[1]")), "entry 'rng' is [1], expected a JSON object"),
    (lambda a: a.update(metrics=np.array('{"a": 1}')), "entry 'metrics' is {'a': 1}, expected a JSON list"),
    (lambda a: a.update({k: v.astype(np.int64) for k, v in a.items() if k.startswith("param/")}),
     "expected floating-point numbers"),
])
def test_damaged_checkpoint_metadata_names_the_file_and_the_field(feats_run, tmp_path, damage, said):
    with np.load(feats_run / "checkpoint.npz") as z:
        arrays = {k: z[k] for k in z.files}
    damage(arrays)
    bad = tmp_path / "damaged.npz"
    np.savez(bad, **arrays)
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(bad)
    assert str(bad) in str(err.value) and said in str(err.value)
