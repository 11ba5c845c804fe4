"""The feature cache: extraction writes one memory-mapped .npy per video, resumes, skips and reports bad videos,
and the loader rejects feature files of the wrong shape with an error naming the file. With worker processes it
writes the same bytes and the same report as one worker, and Ctrl-C stops it without leaving processes or partial
files behind."""
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from tinyalstm.data import synthetic
from tinyalstm.data.datasets import DatasetError, load_ucf101
from tinyalstm.data.features import FeatureError, extract_features, feature_path, gather_window, load_features
from tinyalstm.data.video import read_video
from tinyalstm.models.frame_encoder import FrameEncoder
from tinyalstm.run.storage import DiskFullError


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


# ---------------------------------------------------------------------------------------- worker processes
# The callables below run in spawned worker processes, which import this module by name: module level.

def _read_late(item):
    """item (delay s, path): the video at 16x16 after a delay (to make later videos finish first)."""
    delay, path = item
    time.sleep(delay)
    return read_video(path, size=16)


def _full_disk(frames):
    raise DiskFullError("somewhere/v.npy", 3 * 2 ** 20, 5)


def _openblas_threads():
    """OpenBLAS's thread count in this process (the library NumPy's wheels ship), or None when not found."""
    libs = Path(np.__file__).parent.parent / "numpy.libs"
    for lib in sorted(libs.glob("libscipy_openblas*.so")) if libs.is_dir() else []:
        for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_", "openblas_get_num_threads"):
            fn = getattr(ctypes.CDLL(str(lib)), name, None)
            if fn is not None:
                return int(fn())
    return None


def _blas_threads_as_maps(frames):
    np.ones((64, 64)) @ np.ones((64, 64))          # BLAS initialised and used
    return np.full((len(frames), 1, 1, 1), _openblas_threads(), np.float32)


def _recorded(text):
    """The videos a record beside a cache names (features.InputRecord, or a frame encoder's training and test
    videos)."""
    saved = json.loads(text)
    return sorted(saved["entries"]) if "entries" in saved else {k: sorted(v) for k, v in saved.items()}


def _tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(Path(root).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small_videos(tmp_path_factory):
    """(key, (delay, path)) of 6 generated AVI videos with an empty and a corrupt file among them; the empty one is
    read late, so with two workers the videos after it, the corrupt one too, finish first."""
    root = tmp_path_factory.mktemp("videos")
    synthetic.generate(root, classes=2, groups=3, clips=1, frames=8, size=32, distractors=1, clutter=2)
    items = [(s.name[:-4], (0.0, s.path)) for sub in ("train", "test") for s in load_ucf101(root, 1, sub)]
    (root / "empty.avi").write_bytes(b"")
    (root / "corrupt.avi").write_bytes(b"RIFF not really a video" * 20)
    items.insert(1, ("Bad/empty", (1.0, str(root / "empty.avi"))))
    items.insert(4, ("Bad/corrupt", (0.0, str(root / "corrupt.avi"))))
    return items


def test_two_workers_write_the_same_bytes_and_report_as_one(small_videos, tmp_path):
    enc = FrameEncoder(3, 16, 2, widths=(4, 3))
    reports = {w: extract_features(small_videos, _read_late, enc.features, tmp_path / f"w{w}", enc.feature_shape,
                                   progress=False, workers=w) for w in (1, 2)}
    one, two = _tree(tmp_path / "w1"), _tree(tmp_path / "w2")
    assert len(one) == len(small_videos) - 2 and one.keys() == two.keys()
    assert all(one[k] == two[k] for k in one), [k for k in one if one[k] != two[k]]
    # ffmpeg's messages hold pointer values ("[in#0 @ 0x55d0...]") that differ from run to run, workers or not
    masked = {w: [(n, re.sub(r"0x[0-9a-f]+", "0x?", r)) for n, r in rep.skipped] for w, rep in reports.items()}
    assert [n for n, _ in masked[1]] == ["Bad/empty", "Bad/corrupt"]
    assert masked[2] == masked[1] and reports[2].damaged == reports[1].damaged
    assert not list(tmp_path.rglob("*.partial"))


def test_workers_need_picklable_callables_and_relay_the_encoders_errors(small_videos, tmp_path):
    enc = FrameEncoder(3, 16, 2, widths=(4, 3))
    with pytest.raises(TypeError, match="frames_of must be picklable"):
        extract_features(small_videos, lambda v: read_video(v[1], size=16), enc.features, tmp_path,
                         enc.feature_shape, progress=False, workers=2)
    with pytest.raises(ValueError, match="workers: expected an integer >= 1"):
        extract_features(small_videos, _read_late, enc.features, tmp_path, enc.feature_shape, workers=0)
    quick = [(k, (0.0, path)) for k, (_, path) in small_videos[1:5]]
    with pytest.raises(DiskFullError, match=r"somewhere/v\.npy: it needs 3\.0 MiB"):   # raised in a worker
        extract_features(quick, _read_late, _full_disk, tmp_path, enc.feature_shape, progress=False, workers=2)
    assert not list(tmp_path.rglob("*.npy*"))


def test_each_worker_runs_one_blas_thread(tmp_path):
    if _openblas_threads() is None:
        pytest.skip("NumPy's BLAS is not the OpenBLAS its wheels ship: no thread count to read")
    frames = np.zeros((2, 4, 4, 3), np.uint8)
    extract_features([(f"v{i}", frames) for i in range(4)], np.asarray, _blas_threads_as_maps, tmp_path, (1, 1, 1),
                     dtype=np.float32, progress=False, workers=2)
    assert [float(load_features(tmp_path, f"v{i}").max()) for i in range(4)] == [1.0] * 4


INTERRUPTED = textwrap.dedent("""\
    import faulthandler, signal, subprocess, sys
    from pathlib import Path
    import numpy as np
    from tinyalstm.data.features import extract_features

    def slow(path):                          # a video that takes a minute, with a child process, like ffmpeg
        path = Path(path)
        path.with_name(path.name + ".npy.partial").write_bytes(b"half")     # as if halfway through its write
        # The child outlives the group's Ctrl-C (it ignores SIGINT), so the item is still in hand when the parent
        # stops the workers: had it died, the item would end on its own, racing the parent's KeyboardInterrupt.
        child = subprocess.Popen(["sleep", "60"], preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        try:
            path.with_name(path.name + ".started").touch()
            child.wait()
        finally:
            child.kill()
            child.wait()
            path.with_name(path.name + ".unwound").touch()
        return np.zeros((1, 1, 1, 1), np.uint8)

    if __name__ == "__main__":
        faulthandler.register(signal.SIGUSR1, all_threads=True)     # where it hangs, if it ever does (the test asks)
        out = Path(sys.argv[1])
        try:
            extract_features([(f"v{i}", str(out / f"v{i}")) for i in range(6)], slow, np.asarray, out, (1, 1, 1),
                             dtype=np.uint8, progress=False, workers=2)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(130)
    """)


def _hang_report(proc):
    """The stacks of a hung script's threads (its faulthandler, on SIGUSR1) and the processes of its group."""
    group = []
    for pid in _group_alive(proc.pid):
        try:
            group.append(f"{pid}: " + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            pass
    proc.send_signal(signal.SIGUSR1)
    try:
        _, stderr = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
    return "processes of its group:\n" + "\n".join(group) + f"\nits stderr:\n{stderr}"


def _group_alive(pgid):
    """Live (non-zombie) processes of process group ``pgid``, from /proc."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_ctrl_c_stops_the_workers_and_leaves_no_process_or_partial_file(tmp_path):
    """Ctrl-C in a terminal signals the whole process group; here a child run in its own group gets that."""
    script = tmp_path / "interrupted.py"
    script.write_text(INTERRUPTED)
    out = tmp_path / "out"
    out.mkdir()
    # SIGINT back to its default in the script, whatever the suite inherited: a shell that starts the suite in the
    # background (``cmd &``) hands it SIGINT ignored, and Python installs its KeyboardInterrupt only over a default.
    proc = subprocess.Popen([sys.executable, str(script), str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60
        while len(list(out.glob("*.started"))) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert len(list(out.glob("*.started"))) == 2, proc.communicate()
        os.killpg(proc.pid, signal.SIGINT)
        try:
            stdout, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"no exit 30 s after Ctrl-C; {_hang_report(proc)}") from None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130 and "interrupted" in stdout, stderr
    assert "Traceback" not in stderr, stderr
    started = sorted(p.stem for p in out.glob("*.started"))
    assert sorted(p.stem for p in out.glob("*.unwound")) == started      # each worker unwound its video
    time.sleep(0.2)
    assert _group_alive(proc.pid) == []                                  # no worker, no `sleep` left
    assert not list(out.glob("*.partial")) and not list(out.glob("*.npy"))


def test_the_pipeline_gives_the_same_files_with_two_workers(tmp_path):
    """prepare_video_features' callables reach the workers (decoding + flow, maps, mirrored maps), with the same
    bytes as in one process. (Flow only, to keep it short: its decoding is the RGB stage's.)"""
    from tinyalstm.data.pipeline import prepare_video_features
    root = tmp_path / "syn"
    synthetic.generate(root, classes=2, groups=3, clips=1, frames=8, size=32, distractors=1, clutter=2)
    kw = dict(size=16, widths=(4, 4), enc_epochs=1, per_video=2, flip=True, log=lambda s: None)
    data = {w: prepare_video_features("synthetic", root, 1, ["flow"], tmp_path / f"work{w}", workers=w, **kw)
            for w in (1, 2)}
    one, two = _tree(tmp_path / "work1"), _tree(tmp_path / "work2")
    assert len([k for k in one if k.endswith(".npy")]) == 6 * 3 and one.keys() == two.keys()
    # the records of what each cache was made from hold the times of each folder's own frame files: same videos
    records = {k for k in one if k.endswith("inputs.json")}
    assert all(_recorded(one[k]) == _recorded(two[k]) for k in records)
    assert all(one[k] == two[k] for k in one if k not in records), [k for k in one if one[k] != two[k]]
    assert data[2].train == data[1].train and data[2].report.skipped == data[1].report.skipped == []
