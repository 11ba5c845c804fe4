"""A training run's ``--out`` folder: never overwritten silently, never shared by two processes.

``claim(out, resume, overwrite)`` is a context manager around a run:

- a lock file ``<out>/.lock`` (created exclusively; it holds the process id, host and start time) stops a second
  process from using a busy folder, naming the holder. A lock left by a process of this host that no longer runs
  is recognised as stale, said, and taken over;
- a folder that holds another run's files is refused unless ``resume`` (continue it) or ``overwrite`` (its files
  are removed first, and the output says so);
- the lock is removed when the run ends, however it ends;
- ``<name>.partial`` files of the run's own names, left by a process killed while writing (SIGKILL, a power cut),
  are removed once the lock is held (no other process can be writing them then).

``claim_results(folder, record, key, origin, ...)`` does the same for the results ``localize`` and ``evaluate
--json`` write: the lock, the stale partial files, and no silent replacement of results that another checkpoint
(or checkpoints) produced. Each results file records where it came from (``record``'s ``key``); a rerun for the same
origin replaces its own results, other results are refused unless ``overwrite``.
"""
import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path

from ..checks import RunError

RUN_FILES = ("config.json", "metrics.jsonl", "checkpoint.npz", "best.npz", "result.json", "curves.png",
             "test_scores.npy", "test_labels.npy", "validation_scores.npy", "validation_labels.npy", "tubes.json",
             "localization.json")
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


def remove_partials(folder, patterns, log=print):
    """Remove ``<name>.partial`` files in ``folder`` (not below it) whose name matches one of ``patterns`` (file
    names or globs): the leftovers of a process killed while writing. Call it holding the folder's lock."""
    stale = sorted({p for pattern in patterns for p in Path(folder).glob(pattern + ".partial") if p.is_file()})
    for p in stale:
        p.unlink(missing_ok=True)
    if stale:
        log(f"{folder}: removed {len(stale)} partial files left by a process that was stopped while writing "
            f"({', '.join(p.name for p in stale[:3])}{', ...' if len(stale) > 3 else ''})")
    return stale


@contextmanager
def locked(folder, log=print):
    """Hold ``folder``'s lock (created exclusively; a stale one taken over) while the block runs; yields the
    folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = _acquire(folder, log)
    try:
        yield folder
    finally:
        lock.unlink(missing_ok=True)


def holds_run(out):
    """The run files of ``out`` (names), empty when it holds no run."""
    return [name for name in RUN_FILES if (out / name).exists()]


@contextmanager
def claim(out, resume=False, overwrite=False, log=print):
    """Lock ``out`` for this run and check what it holds (module docstring); yields the folder."""
    with locked(out, log) as out:
        remove_partials(out, RUN_FILES + RUN_PICTURES[:-1], log)
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


def recorded_origin(path, key):
    """The ``key`` a results JSON file records (what produced it) -> the value, or None when the file is not JSON,
    not an object or records nothing under ``key``."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data.get(key) if isinstance(data, dict) else None


@contextmanager
def claim_results(folder, record, key, origin, others=(), pictures=(), overwrite=False, what="--out", home=None,
                  log=print):
    """Lock ``folder`` for writing results: the file ``record`` (a JSON object that will record ``origin`` under
    ``key``), the files ``others`` and the pictures matching the globs ``pictures``. Partial files of these names
    are removed. Results already there are replaced when ``record`` records the same ``origin``; otherwise (another
    origin, or none readable) they are refused (RunFolderError naming the file and what it holds) unless
    ``overwrite``. Replaced results are removed before the block runs, pictures included, so that nothing of the
    previous results stays mixed with the new ones; pictures with no results file beside them (a run stopped
    before it wrote its results) are removed too. A folder holding a training run (its config.json, checkpoint,
    ...) is refused unless it is ``home`` (the run the results are of), with or without ``overwrite``. Yields the
    folder."""
    folder = Path(folder)
    training = [n for n in RUN_FILES if n not in (record, *others) and (folder / n).exists()]
    if training and (home is None or folder.resolve() != Path(home).resolve()):
        raise RunFolderError(f"{what} {folder} holds a training run ({', '.join(training)}) that these results are "
                             f"not of; give an empty folder, or the run's own folder")
    with locked(folder, log) as folder:
        remove_partials(folder, (record, *others, *pictures), log)
        files = [folder / n for n in (record, *others) if (folder / n).exists()]
        drawn = sorted({p for g in pictures for p in folder.glob(g) if p.is_file()})
        if files:
            there = recorded_origin(folder / record, key) if (folder / record).exists() else None
            if there != origin and not overwrite:
                held = (f"the results of {_listed(there)}" if there is not None else
                        "results that record no checkpoint (damaged, or written by an older version)")
                raise RunFolderError(f"{what} {folder}: {', '.join(p.name for p in files)} there hold {held}, not "
                                     f"of {_listed(origin)}; give --overwrite to replace them, or another {what}")
            if there != origin:
                log(f"--overwrite: removed the previous results from {folder} ({len(files) + len(drawn)} files)")
        for p in files + drawn:
            p.unlink(missing_ok=True)
        yield folder


def _listed(origin):
    return " + ".join(map(str, origin)) if isinstance(origin, (list, tuple)) else str(origin)
