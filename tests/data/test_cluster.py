"""The per-video passes on a Dask cluster (data/cluster.py, the Dask backend of workers.ordered_map), on a local
cluster of two worker processes: the pipeline writes the files and the skip report of one worker, a rerun
recomputes nothing, the ordered map keeps its contract (order, warnings, exceptions, Ctrl-C), and the faults a
user meets are one paragraph each: no scheduler at the address, workers that cannot see the cache folder or the
videos, Dask not installed."""
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import distributed
import numpy as np
import pytest

from tinyalstm.data import synthetic
from tinyalstm.data.cluster import ClusterError, check_shared, connect
from tinyalstm.data.datasets import load_ucf101
from tinyalstm.data.features import extract_features
from tinyalstm.data.pipeline import prepare_video_features
from tinyalstm.data.workers import ThreadWarnings, ordered_map
from tinyalstm.run.storage import DiskFullError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as local:
        yield local


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as c:
        yield c


def _tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(Path(root).rglob("*")) if p.is_file()}


def _masked(report):
    # ffmpeg's messages hold pointer values ("[in#0 @ 0x55d0...]") that differ from run to run, workers or not
    return [(name, re.sub(r"0x[0-9a-f]+", "0x?", reason)) for name, reason in report.skipped]


def _benchmark(root):
    """The built-in benchmark, tiny (2 classes x 3 groups, 8 frames of 32 x 32), one training video corrupt ->
    the corrupt video's name."""
    synthetic.generate(root, classes=2, groups=3, clips=1, frames=8, size=32, distractors=1, clutter=2)
    bad = next(s for s in load_ucf101(root, 1, "train") if "g03" in s.name)
    Path(bad.path).write_bytes(b"RIFF not really a video" * 20)
    return bad.name[:-4]


def test_the_pipeline_on_a_cluster_writes_the_files_and_report_of_one_worker(cluster, tmp_path):
    """Decoding + flow, the frame encoder's maps and the mirrored maps on the cluster (the scheduler's address, as
    --scheduler gives it), against one worker in this process; then a rerun on the cluster recomputes nothing."""
    root = tmp_path / "syn"
    bad = _benchmark(root)
    kw = dict(size=16, widths=(4, 4), enc_epochs=1, per_video=2, flip=True, log=lambda s: None)
    one = prepare_video_features("synthetic", root, 1, ["flow"], tmp_path / "one", workers=1, **kw)
    on = prepare_video_features("synthetic", root, 1, ["flow"], tmp_path / "cluster",
                                scheduler=cluster.scheduler_address, **kw)
    a, b = _tree(tmp_path / "one"), _tree(tmp_path / "cluster")
    assert len([k for k in a if k.endswith(".npy")]) == 5 * 3 and a.keys() == b.keys()
    # the maps' records hold the times of each folder's own frame files; the frames' records (the videos') match
    own_times = {k for k in a if k.endswith("inputs.json") and not k.startswith("frames/")}
    assert all(a[k] == b[k] for k in a if k not in own_times), [k for k in a if a[k] != b[k]]
    assert [n for n, _ in one.report.skipped] == [bad] and _masked(on.report) == _masked(one.report)
    assert on.train == one.train and on.test == one.test
    assert not list(tmp_path.rglob("*.partial")) and not list(tmp_path.rglob(".cluster-check-*"))

    times = {p: p.stat().st_mtime_ns for p in (tmp_path / "cluster").rglob("*") if p.is_file()}
    lines = []
    again = prepare_video_features("synthetic", root, 1, ["flow"], tmp_path / "cluster",
                                   scheduler=cluster.scheduler_address, **{**kw, "log": lines.append})
    assert {p: p.stat().st_mtime_ns for p in times} == times, "a rerun rewrote files"
    assert not [s for s in lines if "recomputed" in s or "training the frame encoder" in s], lines
    assert _masked(again.report) == _masked(one.report)          # the bad video is tried again and named again


# The ordered map's contract, item by item. These run on the cluster's workers, which import this module.

def _slow_square(delay, x):
    time.sleep(delay * (x % 3))        # later items finish first
    if x % 2:
        warnings.warn(f"odd {x}", UserWarning)
    return x * x


def _disk_full(_, x):
    if x == 2:
        raise DiskFullError(Path("somewhere") / "v.npy", 3 << 20, 1 << 20)   # no default unpickling
    time.sleep(0.5)
    return x


def test_the_ordered_map_on_a_cluster_keeps_order_warnings_and_exceptions(client):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = list(ordered_map(_slow_square, 0.05, list(range(8)), client=client))
    assert out == [x * x for x in range(8)]
    assert [str(w.message) for w in caught] == ["odd 1", "odd 3", "odd 5", "odd 7"]
    assert all(w.category is UserWarning for w in caught)

    cleaned = []
    with pytest.raises(DiskFullError, match=r"somewhere/v\.npy: it needs 3\.0 MiB"):
        list(ordered_map(_disk_full, None, list(range(20)), cleanup=cleaned.append, client=client))
    assert cleaned and min(cleaned) > 2 and len(cleaned) <= 4    # in flight: at most 2 x 2 worker threads
    _no_task_left(client)


def test_ctrl_c_on_the_client_cancels_what_is_in_flight(client):
    """Ctrl-C reaches the caller where it waits for completions (here: the progress bar it iterates)."""
    def interrupted(completions):
        for i, done in enumerate(completions):
            if i == 1:
                raise KeyboardInterrupt
            yield done

    cleaned = []
    with pytest.raises(KeyboardInterrupt):
        list(ordered_map(_slow_square, 0.1, list(range(30)), bar=interrupted, cleanup=cleaned.append,
                         client=client))
    assert 0 < len(cleaned) <= 4 and max(cleaned) < 6, cleaned     # the items in flight, no more
    _no_task_left(client)


def _no_task_left(client, timeout=10):
    deadline = time.monotonic() + timeout
    while client.run_on_scheduler(_task_count) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.run_on_scheduler(_task_count) == 0


def _task_count(dask_scheduler):
    return len(dask_scheduler.tasks)


def test_thread_warnings_keep_each_threads_own():
    """A Dask worker runs tasks in threads: each task gets its own warnings, all of them, in order, and the
    process's warning state is as before when the last one ends."""
    recorder = ThreadWarnings()
    before = (list(warnings.filters), warnings.showwarning)
    turns = [threading.Event() for _ in range(6)]
    got = {}

    def task(name, mine):            # the two threads' warnings interleave: a0 b1 a2 b3 a4 b5
        with recorder.record() as caught:
            for i in mine:
                turns[i - 1].wait(5) if i else None
                warnings.warn(f"{name}{i}", RuntimeWarning)      # the same place each time: all recorded
                turns[i].set()
        got[name] = [m for m, *_ in caught]

    threads = [threading.Thread(target=task, args=("a", [0, 2, 4])),
               threading.Thread(target=task, args=("b", [1, 3, 5]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert got == {"a": ["a0", "a2", "a4"], "b": ["b1", "b3", "b5"]}
    assert (list(warnings.filters), warnings.showwarning) == before


@pytest.fixture(scope="module")
def hidden_worker(tmp_path_factory):
    """A cluster whose one worker runs in a mount namespace of its own, where ``hidden`` is an empty tmpfs: it
    does not see what this machine writes there (a folder that is not on a shared filesystem)."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode:
        pytest.skip("needs unshare -m (root or user namespaces) to give a worker a filesystem of its own")
    hidden = tmp_path_factory.mktemp("hidden")
    with distributed.LocalCluster(n_workers=0, processes=True, dashboard_address=":0") as local:
        worker = subprocess.Popen(
            ["unshare", "-m", "sh", "-c", f"mount -t tmpfs tmpfs {hidden} && exec {sys.executable} -m dask worker "
             f"{local.scheduler_address} --nthreads 1 --no-dashboard"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            with distributed.Client(local, set_as_default=False) as c:
                c.wait_for_workers(1, timeout=60)
                yield c, hidden
        finally:
            worker.terminate()
            worker.wait(30)


def test_workers_that_cannot_see_the_cache_folder_or_the_videos_are_named(hidden_worker, tmp_path):
    client, hidden = hidden_worker
    (worker,) = client.nthreads()
    with pytest.raises(ClusterError) as err:
        check_shared(client, hidden / "cache")
    message = str(err.value)
    assert f"cache folder {hidden / 'cache'}" in message and f"worker {worker}" in message
    assert "does not see it" in message and "\n" not in message

    video = hidden / "v.avi"
    video.write_bytes(b"a video")
    with pytest.raises(ClusterError, match=f"worker {re.escape(worker)} on .* cannot read {re.escape(str(video))}"):
        extract_features([("v", video)], np.asarray, np.asarray, tmp_path / "cache", (1, 1, 1), progress=False,
                         source_of=str, scheduler=client)
    assert not list((tmp_path / "cache").glob("*.npy"))


def test_an_unreachable_scheduler_is_one_paragraph_and_exit_1(tmp_path):
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"}
    proc = subprocess.run([sys.executable, "-m", "tinyalstm.train", "--scheduler", "tcp://127.0.0.1:9",
                           "--out", str(tmp_path / "run"), "--epochs", "1"],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    error = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "--scheduler tcp://127.0.0.1:9: no Dask scheduler answered there" in error[0]
    assert "dask scheduler" in error[0] and "1s" in error[0]
    with pytest.raises(ClusterError, match="--scheduler host-without-port: not a Dask scheduler's address"):
        connect("host-without-port")


def test_dask_is_optional(monkeypatch):
    """Importing tinyalstm never imports Dask; asking for a cluster without it says which extra to install."""
    code = ("import sys; sys.modules['dask'] = sys.modules['distributed'] = None\n"
            "import tinyalstm, tinyalstm.train, tinyalstm.evaluate, tinyalstm.data.pipeline, tinyalstm.data.cluster")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ClusterError, match=r"install the cluster extra \(pip install -e '\.\[cluster\]'"):
        extract_features([("v", np.zeros((1, 1, 1, 1), np.uint8))], np.asarray, np.asarray, "unused", (1, 1, 1),
                         progress=False, scheduler="tcp://127.0.0.1:8786")
