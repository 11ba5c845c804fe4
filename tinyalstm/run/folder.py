"""A training run's ``--out`` folder: never overwritten silently, never shared by two processes.

``claim(out, resume, overwrite)`` is a context manager around a run:

- a lock file ``<out>/.lock`` (created exclusively; it holds the process id, host and start time) stops a second
  process from using a busy folder, naming the holder. A lock left by a process of this host that no longer runs
  is recognised as stale, said, and taken over;
- a folder that holds another run's files is refused unless ``resume`` (continue it) or ``overwrite`` (its files
  are removed first, and the output says so);
- the lock is removed when the run ends, however it ends.
"""
import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path

from ..checks import RunError

RUN_FILES = ("config.json", "metrics.jsonl", "checkpoint.npz", "best.npz", "result.json", "curves.png",
             "test_scores.npy", "test_labels.npy", "tubes.json", "localization.json")
RUN_PICTURES = ("attention_*.png", "localization_*.png", "highlight_*.png", "*.partial")
LOCK = ".lock"


class RunFolderError(RunError):
    """An --out folder that this run may not use; the message says why and what to do (exit status 1)."""


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:         # someone else's process: alive
        return True
    return True


def _acquire(out, log):
    lock = out / LOCK
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = json.loads(lock.read_text())
                pid, host = int(holder["pid"]), str(holder["host"])
            except (OSError, ValueError, KeyError, TypeError):
                raise RunFolderError(f"--out {out}: a lock file {lock} is there but unreadable; if no run uses this "
                                     f"folder, remove it and rerun") from None
            if host != me["host"]:
                raise RunFolderError(f"--out {out} is in use by process {pid} on {host} (since "
                                     f"{holder.get('started')}); if that run is gone, remove {lock}") from None
            if _alive(pid):
                raise RunFolderError(f"--out {out} is in use by process {pid} (running since "
                                     f"{holder.get('started')}); wait for it, stop it, or use another --out") from None
            log(f"--out {out}: removing a stale lock of process {pid}, which no longer runs")
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        return lock
    raise RunFolderError(f"--out {out}: could not take the lock {lock}; another process is taking it too")


def holds_run(out):
    """The run files of ``out`` (names), empty when it holds no run."""
    return [name for name in RUN_FILES if (out / name).exists()]


@contextmanager
def claim(out, resume=False, overwrite=False, log=print):
    """Lock ``out`` for this run and check what it holds (module docstring); yields the folder."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lock = _acquire(out, log)
    try:
        present = holds_run(out)
        if present and not (resume or overwrite):
            raise RunFolderError(f"--out {out} holds another run ({', '.join(present)}); give --resume to continue "
                                 f"it, --overwrite to replace it, or another --out")
        if present and overwrite:
            removed = [out / n for n in present] + [p for g in RUN_PICTURES for p in out.glob(g)]
            for p in removed:
                p.unlink(missing_ok=True)
            log(f"--overwrite: removed the previous run's {len(removed)} files from {out}")
        yield out
    finally:
        lock.unlink(missing_ok=True)
