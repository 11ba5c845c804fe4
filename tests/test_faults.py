"""Bad input and faults, as a user meets them: each case ends in one clear message (or a named refusal) with its
exit status, and nothing written before is lost. Real subprocess runs of the commands where the process boundary
matters (exit codes, signals, tracebacks); a full disk is simulated (no tmpfs can be mounted here)."""
import errno
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tinyalstm import train
from tinyalstm.run import checkpoints, storage
from tinyalstm.run.checkpoints import CheckpointError, read_checkpoint
from tinyalstm.run.folder import RunFolderError


def _args(root, out, epochs=2, extra=()):
    return ["--dataset", "features", "--root", str(root), "--model", "convlstm", "--epochs", str(epochs), "--out",
            str(out), "--frames", "4", "--hidden", "3", "--fc-dim", "6", "--batch-size", "3", "--lr", "0.01",
            "--eval-windows", "2", *extra]


def _cli(module, *argv, env=None):
    return subprocess.run([sys.executable, "-m", module, *map(str, argv)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def _snapshot(out):
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file() and p.name != ".lock"}


@pytest.fixture
def finished(feats, tmp_path):
    out = tmp_path / "run"
    train.main(_args(feats, out))
    return feats, out


# -- messages and exit codes -----------------------------------------------------------------------------------

def test_a_data_error_is_one_message_and_exit_1_and_debug_adds_the_traceback(tmp_path):
    (tmp_path / "f" / "ucfTrainTestlist").mkdir(parents=True)
    argv = ("--dataset", "features", "--root", tmp_path / "f", "--out", tmp_path / "o")
    res = _cli("tinyalstm.train", *argv)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "error: --root" in res.stderr and "no rgb/ folder" in res.stderr
    assert "Traceback" in _cli("tinyalstm.train", *argv, "--debug").stderr
    assert "Traceback" in _cli("tinyalstm.train", *argv, env={"TINYALSTM_DEBUG": "1"}).stderr


def test_a_usage_error_exits_2():
    res = _cli("tinyalstm.train", "--epochs", "0")
    assert res.returncode == 2 and "--epochs: expected an integer >= 1" in res.stderr


@pytest.mark.parametrize("damage", ["truncated", "flipped", "random", "empty"])
def test_a_damaged_checkpoint_is_named_not_a_traceback(finished, damage):
    _, out = finished
    ckpt = out / "checkpoint.npz"
    data = bytearray(ckpt.read_bytes())
    bad = out / f"{damage}.npz"
    if damage == "truncated":
        bad.write_bytes(bytes(data[:len(data) // 2]))
    elif damage == "flipped":
        for i in range(len(data) // 3, len(data) // 3 + 64):
            data[i] ^= 0xFF
        bad.write_bytes(bytes(data))
    elif damage == "random":
        bad.write_bytes(np.random.default_rng(0).bytes(4000))
    else:
        bad.write_bytes(b"")
    res = _cli("tinyalstm.evaluate", "--checkpoint", bad)
    assert res.returncode == 1 and "Traceback" not in res.stderr and "unsafely" not in res.stderr
    assert str(bad) in res.stderr and ("corrupt" in res.stderr or "not a tinyalstm checkpoint" in res.stderr)


def test_parameters_that_do_not_match_their_checksum_are_refused(finished):
    _, out = finished
    ckpt = out / "checkpoint.npz"
    with np.load(ckpt) as z:
        arrays = {k: z[k] for k in z.files}
    name = next(k for k in arrays if k.startswith("param/"))
    arrays[name] = arrays[name] + 1.0                     # a well-formed file whose parameters were changed
    forged = out / "forged.npz"
    np.savez(forged, **arrays)
    with pytest.raises(CheckpointError, match="do not match the checksum"):
        read_checkpoint(forged)
    assert read_checkpoint(ckpt)["epoch"] == 2            # the real one reads


# -- run folders -----------------------------------------------------------------------------------------------

def test_a_finished_run_is_not_replaced_without_resume_or_overwrite(finished, capsys):
    feats, out = finished
    before = _snapshot(out)
    with pytest.raises(RunFolderError, match="holds another run"):
        train.main(_args(feats, out, epochs=3))
    assert _snapshot(out) == before                       # checkpoint, metrics, config: untouched
    train.main(_args(feats, out, epochs=1, extra=["--overwrite"]))
    assert "--overwrite: removed the previous run" in capsys.readouterr().out
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 1


def test_a_refused_resume_leaves_config_json_as_it_was_and_names_every_difference(finished):
    feats, out = finished
    before = (out / "config.json").read_bytes()
    with pytest.raises(CheckpointError) as err:
        train.main(_args(feats, out, epochs=3, extra=["--resume", "--lr", "0.02", "--seed", "5"]))
    assert "--lr: 0.01 there, 0.02 here" in str(err.value) and "--seed: 0 there, 5 here" in str(err.value)
    assert (out / "config.json").read_bytes() == before
    with pytest.raises(CheckpointError, match="already trained 2 epochs"):
        train.main(_args(feats, out, epochs=1, extra=["--resume"]))
    result = train.main(_args(feats, out, epochs=3, extra=["--resume"]))
    assert result["epochs"] == 3 and result["resumed_after_epoch"] == 2     # result.json says what was trained


def test_a_busy_folder_is_refused_naming_the_holder_and_a_stale_lock_is_taken_over(feats, tmp_path, capsys):
    import socket
    out = tmp_path / "busy"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / ".lock").write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname(), "started": "now"}))
        with pytest.raises(RunFolderError, match=f"in use by process {holder.pid}"):
            train.main(_args(feats, out))
        assert not (out / "config.json").exists()
    finally:
        holder.kill()
        holder.wait()
    train.main(_args(feats, out, epochs=1))               # the holder is gone: its lock is stale
    assert f"stale lock of process {holder.pid}" in capsys.readouterr().out
    assert not (out / ".lock").exists()                   # released at the end


def test_two_processes_on_one_folder(feats, tmp_path):
    out = tmp_path / "two"
    first = subprocess.Popen([sys.executable, "-m", "tinyalstm.train", *_args(feats, out, epochs=100_000)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not (out / "metrics.jsonl").exists():
            assert first.poll() is None and time.time() < deadline
            time.sleep(0.05)
        second = _cli("tinyalstm.train", *_args(feats, out, epochs=1, extra=["--resume"]))
        assert second.returncode == 1 and f"in use by process {first.pid}" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)
    assert first.returncode == 143


# -- signals ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_training_stops_cleanly_and_keeps_the_checkpoint(feats, tmp_path, signum, code):
    out = tmp_path / "sig"
    proc = subprocess.Popen([sys.executable, "-m", "tinyalstm.train", *_args(feats, out, epochs=500)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "metrics.jsonl").exists() or len((out / "metrics.jsonl").read_text().splitlines()) < 2:
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code and "Traceback" not in stderr
    assert "interrupted in epoch" in stdout and "continue with --resume" in stdout
    kept = read_checkpoint(out / "checkpoint.npz")        # intact, and no partial file beside it
    assert kept["epoch"] >= 2 and not list(out.glob("*.partial"))
    assert not (out / ".lock").exists()


# -- a full disk -----------------------------------------------------------------------------------------------

def test_a_full_disk_is_named_and_the_last_checkpoint_survives(finished, monkeypatch):
    feats, out = finished
    before = (out / "checkpoint.npz").read_bytes()
    monkeypatch.setattr(storage, "free_bytes", lambda folder: 1000)
    with pytest.raises(storage.DiskFullError) as err:
        train.main(_args(feats, out, epochs=3, extra=["--resume"]))
    message = str(err.value)
    assert "no space left for" in message and "MiB" in message and "free there" in message
    assert (out / "checkpoint.npz").read_bytes() == before and not list(out.glob("*.partial"))


def test_a_write_that_meets_a_full_disk_removes_its_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "x.npy"
    storage.save_npy(target, np.zeros(3))

    def full(f, array):
        f.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(storage.np, "save", full)
    with pytest.raises(storage.DiskFullError, match="x.npy"):
        storage.save_npy(target, np.ones(3))
    monkeypatch.undo()
    np.testing.assert_array_equal(np.load(target), np.zeros(3))     # the previous version stays
    assert not list(tmp_path.glob("*.partial"))


def test_the_cli_names_a_full_disk_in_one_line(tmp_path):
    from tinyalstm.run.cli import describe
    assert "no space left for" in describe(storage.DiskFullError(tmp_path / "f.npy", 2 ** 21, 10))
    assert "no space left on the device writing" in describe(OSError(errno.ENOSPC, "No space", "/x/y"))
    assert describe(RuntimeError("boom")).startswith("unexpected RuntimeError: boom")
    # a refused checkpoint or run folder is an exception of the library (never SystemExit), which the CLI prints as
    # its own message, without "unexpected"
    from tinyalstm.checks import RunError
    for error in (checkpoints.CheckpointError, RunFolderError):
        assert issubclass(error, RunError) and not issubclass(error, SystemExit)
        assert describe(error("x.npz: not a checkpoint")) == "x.npz: not a checkpoint"


# -- checks before the expensive work --------------------------------------------------------------------------

def test_a_bad_size_is_refused_before_anything_is_decoded(tmp_path):
    res = _cli("tinyalstm.train", "--size", "100", "--out", tmp_path / "o")
    assert res.returncode == 2 and "--size: expected a multiple of 8" in res.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(__import__("tinyalstm").backend.cupy_or_none() is not None, reason="a GPU is present")
def test_cuda_without_a_gpu_is_one_message(tmp_path):
    res = _cli("tinyalstm.train", "--device", "cuda", "--out", tmp_path / "o")
    assert res.returncode == 1 and "Traceback" not in res.stderr and "--device cuda: CuPy" in res.stderr


# -- feature files ---------------------------------------------------------------------------------------------

def test_bad_feature_files_are_named_and_the_shape_is_decided_by_the_files(feats, tmp_path, capsys):
    rgb = feats / "rgb"
    first = rgb / "Jump" / "v_Jump_g02_c01.npy"                    # the first listed file gets an odd shape
    np.save(first, np.ones((10, 4, 2, 2), np.float32))
    pickled = rgb / "Run" / "v_Run_g02_c01.npy"
    np.save(pickled, np.array([{"a": 1}] * 3, dtype=object), allow_pickle=True)
    ints = rgb / "Run" / "v_Run_g03_c01.npy"
    np.save(ints, np.ones((10, 4, 3, 3), np.int32))
    truncated = rgb / "Swim" / "v_Swim_g02_c01.npy"
    truncated.write_bytes(truncated.read_bytes()[:200])
    nan = rgb / "Swim" / "v_Swim_g03_c01.npy"
    x = np.load(nan)
    x[5, 1, 0, 0] = np.nan
    np.save(nan, x)
    res = train.main(_args(feats, tmp_path / "o", epochs=1))
    out = capsys.readouterr().out
    assert "5 skipped (named below)" in out
    for path, why in [(first, "got maps of (4, 2, 2)"), (pickled, "Python objects"), (ints, "float dtype"),
                      (truncated, "truncated or damaged"), (nan, "NaN or inf values (first in frame 5)")]:
        line = next((ln for ln in out.splitlines() if str(path) in ln), "")
        assert why in line, (path, why, out)
    config = json.loads((tmp_path / "o" / "config.json").read_text())
    assert config["feature_shape"] == [4, 3, 3]                    # the most common shape, not the first file's
    assert config["train_videos"] + config["test_videos"] == 12 - 5 and res["test_accuracy"] >= 0


# -- split lists -----------------------------------------------------------------------------------------------

def test_split_lists_written_by_hand(feats, tmp_path):
    from tinyalstm.data.datasets import DatasetError
    lists = feats / "ucfTrainTestlist"
    train_list = (lists / "trainlist01.txt").read_text()
    first = train_list.splitlines()[0]
    (lists / "trainlist01.txt").write_text(train_list + first + "\r\n")            # a line listed twice
    res = train.main(_args(feats, tmp_path / "dup", epochs=1))
    assert res["test_accuracy"] >= 0
    config = json.loads((tmp_path / "dup" / "config.json").read_text())
    assert config["train_videos"] == 9                                             # counted once
    (lists / "trainlist01.txt").write_bytes(b"Jump/v_Jump_g02_c01.avi 1\r\nRun/caf\xe9.avi 2\r\n")
    with pytest.raises(DatasetError, match=r"trainlist01.txt, line 2: not UTF-8 text"):
        train.main(_args(feats, tmp_path / "latin1", epochs=1))
    test_list = (lists / "testlist01.txt").read_text()
    (lists / "trainlist01.txt").write_text(train_list + test_list.splitlines()[0].split()[0] + " 1\r\n")
    with pytest.raises(DatasetError, match="1 videos are in both the training and the test list"):
        train.main(_args(feats, tmp_path / "leak", epochs=1))
    (lists / "trainlist01.txt").write_text("".join(ln + "\r\n" for ln in train_list.splitlines()
                                                   if not ln.startswith("Swim/")))
    with pytest.raises(DatasetError, match="1 of 3 classes have no training videos"):
        train.main(_args(feats, tmp_path / "empty", epochs=1))


def test_a_root_that_is_not_the_dataset_and_a_missing_split_list(tmp_path):
    (tmp_path / "notucf").mkdir()
    res = _cli("tinyalstm.train", "--dataset", "ucf101", "--root", tmp_path / "notucf", "--out", tmp_path / "o")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "split lists (ucfTrainTestlist/ with classInd.txt) not found; looked in" in res.stderr


def test_train_resume_from_a_damaged_checkpoint_is_named(finished):
    feats, out = finished
    ckpt = out / "checkpoint.npz"
    ckpt.write_bytes(ckpt.read_bytes()[:300])
    res = _cli("tinyalstm.train", *_args(feats, out, epochs=3, extra=["--resume"]))
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert str(ckpt) in res.stderr and "truncated, corrupt" in res.stderr


def test_a_missing_feature_file_is_named(feats, tmp_path, capsys):
    (feats / "rgb" / "Run" / "v_Run_g04_c01.npy").unlink()
    train.main(_args(feats, tmp_path / "o", epochs=1))
    out = capsys.readouterr().out
    assert "1 skipped (named below)" in out and "v_Run_g04_c01" in out


def test_the_feature_cache_on_a_full_disk_names_the_file_and_leaves_no_partial(tmp_path, monkeypatch):
    from tinyalstm.data.features import extract_features
    monkeypatch.setattr(storage, "free_bytes", lambda folder: 10)
    frames = np.zeros((3, 8, 8, 3), np.uint8)
    with pytest.raises(storage.DiskFullError, match=r"Jump/v_Jump_g01_c01\.npy: it needs"):
        extract_features([("Jump/v_Jump_g01_c01", None)], lambda v: frames, lambda f: f, tmp_path, (8, 8, 3),
                         dtype=np.uint8, progress=False)
    assert not list(tmp_path.rglob("*.partial")) and not list(tmp_path.rglob("*.npy"))


def test_an_interrupted_write_leaves_neither_a_partial_nor_a_half_file(tmp_path):
    def interrupted(tmp):
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        storage.write_atomic(tmp_path / "x.json", interrupted)
    assert list(tmp_path.iterdir()) == []
