"""An ordered parallel map over worker processes, for the data pipeline's long passes (``features.extract_features``
with ``workers > 1``: decoding, optical flow, encoding).

``ordered_map(fn, shared, items, workers)`` yields ``fn(shared, item)`` for every item, in the order of ``items``
whatever order they finish in, so a pass on N workers gives the same files and the same skip report, in the same
order, as on one. ``shared`` (the callables and settings of the pass) is sent once to each worker; each task
carries one item, and at most 2 x workers items are in flight, so memory is bounded per worker.

- Workers are started with "spawn": a fresh interpreter holds no copy of the caller's threads (BLAS pools,
  progress bars, ffmpeg watchdogs), locks or GPU context, which "fork" would duplicate mid-state. Spawned workers
  import the caller's main module, so a script using them needs the usual ``if __name__ == "__main__":`` guard.
- Each worker has one BLAS thread (``OMP_NUM_THREADS=1`` and kin, set in the environment it starts with, since
  NumPy reads them when it loads), so N workers use N cores rather than N BLAS pools each; and the caller's
  device (``TINYALSTM_DEVICE``).
- What travels to the workers must pickle: module-level functions, ``functools.partial`` of them, bound methods of
  picklable objects; not lambdas or closures (``check_picklable`` says which argument is not).
- Warnings raised in a worker are raised again in the caller, in order; an exception stops the map and is raised
  in the caller as itself (exceptions that do not unpickle by default, such as ``run.storage.DiskFullError``, are
  rebuilt from their attributes).
- Ctrl-C (or any exception) stops the map: nothing new starts, each worker unwinds the item in hand (SIGTERM
  becomes KeyboardInterrupt there: storage removes its ``.partial`` file, video.py kills its ffmpeg) and exits;
  workers still alive after ``STOP_GRACE`` seconds are killed, and ``cleanup(item)`` runs for the items that were
  in flight.
"""
import copyreg
import multiprocessing
import os
import pickle
import signal
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing.connection import wait as wait_for_exit

from .. import backend

WORKER_THREADS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                      "NUMEXPR_NUM_THREADS")
STOP_GRACE = 10.0      # seconds a stopped worker has to unwind its item before it is killed


def check_picklable(workers, **named):
    """A TypeError naming the first of ``named`` (name=object) that cannot travel to worker processes."""
    for what, obj in named.items():
        try:
            pickle.dumps(obj)
        except Exception as err:  # noqa: BLE001 -- any pickling failure means the same thing here
            raise TypeError(f"workers={workers}: {what} must be picklable to reach the worker processes (a "
                            f"module-level function, a functools.partial of one, a bound method of a picklable "
                            f"object; not a lambda or a closure), got {obj!r}: {err}") from None


def ordered_map(fn, shared, items, workers, bar=iter, cleanup=None):
    """``fn(shared, item)`` for every item of ``items`` (a list) on ``workers`` spawned processes -> a generator
    of the results in the order of ``items`` (module docstring). ``bar`` wraps the stream of completions (a
    progress bar advancing as items finish); ``cleanup(item)`` runs in the caller for the items in flight when the
    map is stopped."""
    env = {**dict.fromkeys(WORKER_THREADS_ENV, "1"), "TINYALSTM_DEVICE": backend.get_device()}
    pending, finished, merged = {}, {}, 0        # future -> index in items; index -> done future; next to yield
    queue = iter(enumerate(items))
    pool = None

    def submit_more():
        while len(pending) < 2 * workers:
            i, item = next(queue, (None, None))
            if i is None:
                return
            with _environment(env):              # ProcessPoolExecutor starts its workers inside submit()
                pending[pool.submit(_work, item)] = i

    def completions():                           # one per finished item
        submit_more()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in sorted(done, key=pending.get):
                finished[pending.pop(f)] = f
                yield f
            submit_more()

    try:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(fn, shared))
        for _ in bar(completions()):
            while merged in finished:
                result, caught = _result(finished.pop(merged), items[merged])
                for message, category, filename, lineno in caught:      # as if raised here, in order
                    warnings.warn_explicit(message, category, filename, lineno)
                yield result
                merged += 1
    except BaseException:
        if pool is not None:
            _stop(pool, [items[i] for i in pending.values()], cleanup)
        raise
    pool.shutdown()


@contextmanager
def _environment(changes):
    """os.environ with ``changes`` inside the block (what a process started there inherits), restored after."""
    saved = {k: os.environ.get(k) for k in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _result(future, item):
    try:
        return future.result()
    except BrokenProcessPool as err:
        raise BrokenProcessPool(f"a worker process died abruptly (killed, out of memory or crashed) while {item!r} "
                                f"or an item after it was in flight; rerun with one worker to see which") from err


def _stop(pool, in_flight, cleanup):
    """Stop the pool now: nothing new starts, each worker unwinds its item (SIGTERM, see ``_on_terminate``) and
    exits, stragglers are killed after STOP_GRACE seconds, then ``cleanup`` runs for the items in flight."""
    procs = list((getattr(pool, "_processes", None) or {}).values())    # the executor's own handle on them
    pool.shutdown(wait=False, cancel_futures=True)      # its manager thread cancels what has not started
    for p in procs:
        p.terminate()
    for p in _running(procs, STOP_GRACE):
        p.kill()
    _running(procs, STOP_GRACE)
    for item in in_flight if cleanup else ():
        cleanup(item)


def _running(procs, timeout):
    """Wait until every process of ``procs`` has exited or ``timeout`` seconds have passed -> those still running."""
    deadline = time.monotonic() + timeout
    running = {p.sentinel: p for p in procs}
    while running and deadline > time.monotonic():
        for sentinel in wait_for_exit(list(running), timeout=deadline - time.monotonic()):
            del running[sentinel]
    return list(running.values())


# ------------------------------------------------------------------------------ inside a worker process

_worker = {"fn": None, "shared": None, "busy": False, "stopping": False}


def _start_worker(fn, shared):
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C reaches the whole process group: the parent decides
    signal.signal(signal.SIGTERM, _on_terminate)
    _worker.update(fn=fn, shared=shared)


def _on_terminate(signum, frame):
    if _worker["stopping"]:
        return                         # already unwinding (the executor signals too): let the cleanup finish
    if not _worker["busy"]:
        os._exit(1)                    # waiting for work: nothing to undo
    _worker["stopping"] = True
    raise KeyboardInterrupt            # unwinds the item in hand: storage removes its .partial, video.py its ffmpeg


def _work(item):
    """-> (fn's result, warnings raised meanwhile as (message, category, filename, lineno))."""
    _worker["busy"] = True
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")          # the parent's filters decide when they are raised there
            result = _worker["fn"](_worker["shared"], item)
    except BaseException as err:
        if _worker["stopping"]:
            os._exit(1)                # unwound: leave without taking more work
        _make_picklable(err)
        raise
    finally:
        _worker["busy"] = False
    return result, [(str(w.message), w.category, w.filename, w.lineno) for w in caught]


def _make_picklable(err):
    """Exceptions whose __init__ takes other arguments than their ``args`` (run.storage.DiskFullError) do not unpickle
    by default; register a reduction that rebuilds them from their attributes, so the parent raises the same."""
    try:
        pickle.loads(pickle.dumps(err))
    except Exception:  # noqa: BLE001 -- whatever goes wrong, the rebuild below avoids it
        copyreg.pickle(type(err), _reduce_exception)


def _reduce_exception(err):
    slots = {k: getattr(err, k) for k in ("errno", "strerror", "filename", "filename2")} if isinstance(
        err, OSError) else {}
    return _rebuild_exception, (type(err), err.args, slots, dict(err.__dict__))


def _rebuild_exception(cls, args, slots, state):
    err = cls.__new__(cls)
    err.args = args
    for k, v in slots.items():
        setattr(err, k, v)
    err.__dict__.update(state)
    return err
