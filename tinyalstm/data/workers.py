"""An ordered parallel map, for the data pipeline's long passes (``features.extract_features``: decoding, optical
flow, encoding), on local worker processes or on the workers of a Dask cluster.

``ordered_map(fn, shared, items, workers)`` yields ``fn(shared, item)`` for every item, in the order of ``items``
whatever order they finish in, so a pass on N workers gives the same files and the same skip report, in the same
order, as on one. ``shared`` (the callables and settings of the pass) is sent once to each worker; each task
carries one item, and at most 2 x (worker processes, or a cluster's worker threads) items are in flight, so memory
is bounded per worker. One loop merges the results whichever runs the items (the backend switch ``client``):

- ``workers`` local processes (the default), started with "spawn": a fresh interpreter holds no copy of the
  caller's threads (BLAS pools, progress bars, ffmpeg watchdogs), locks or GPU context, which "fork" would
  duplicate mid-state. Spawned workers import the caller's main module, so a script using them needs the usual
  ``if __name__ == "__main__":`` guard. Each has one BLAS thread (``OMP_NUM_THREADS=1`` and kin, set in the
  environment it starts with, since NumPy reads them when it loads), so N workers use N cores rather than N BLAS
  pools each; and the caller's device (``TINYALSTM_DEVICE``).
- ``client``, a ``distributed.Client``: the items run as tasks on its cluster (``cluster.py``), ``shared`` is
  scattered once to every worker, and each task runs on the caller's device. Dask's nannies start worker
  processes with one BLAS thread already (its ``distributed.nanny.pre-spawn-environ``).

What travels to the workers must pickle: module-level functions, ``functools.partial`` of them, bound methods of
picklable objects; not lambdas or closures (``check_picklable`` says which argument is not; Dask's cloudpickle
would take them, but the local workers would not, and one pass runs on either).

- Warnings raised in a worker are raised again in the caller, in order; an exception stops the map and is raised
  in the caller as itself (exceptions that do not unpickle by default, such as ``run.storage.DiskFullError``, are
  rebuilt from their attributes). A Dask worker runs several tasks at once in threads, so each task's warnings
  are recorded per thread (``ThreadWarnings``), not with ``warnings.catch_warnings``, which swaps process-wide
  state under the other threads.
- Ctrl-C (or any exception) stops the map: nothing new starts and ``cleanup(item)`` runs for the items that were
  in flight. Local workers unwind the item in hand (SIGTERM becomes KeyboardInterrupt there: storage removes its
  ``.partial`` file, video.py kills its ffmpeg) and exit; workers still alive after ``STOP_GRACE`` seconds are
  killed. On a cluster the tasks not yet started are cancelled; one already running cannot be interrupted (Dask
  runs it in a thread of a worker other people may share) and runs to its end, where the atomic write leaves a
  complete file, which a rerun reuses, or none.
"""
import copyreg
import multiprocessing
import os
import pickle
import signal
import threading
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


def check_picklable(where, **named):
    """A TypeError naming the first of ``named`` (name=object) that cannot travel to worker processes; ``where``
    (e.g. "workers=2") begins the message."""
    for what, obj in named.items():
        try:
            pickle.dumps(obj)
        except Exception as err:  # noqa: BLE001 -- any pickling failure means the same thing here
            raise TypeError(f"{where}: {what} must be picklable to reach the worker processes (a "
                            f"module-level function, a functools.partial of one, a bound method of a picklable "
                            f"object; not a lambda or a closure), got {obj!r}: {err}") from None


def ordered_map(fn, shared, items, workers=1, bar=iter, cleanup=None, client=None):
    """``fn(shared, item)`` for every item of ``items`` (a list) on ``workers`` spawned processes, or on the
    cluster of ``client`` (a ``distributed.Client``; ``workers`` is then not used) -> a generator of the results
    in the order of ``items`` (module docstring). ``bar`` wraps the stream of completions (a progress bar
    advancing as items finish); ``cleanup(item)`` runs in the caller for the items in flight when the map is
    stopped."""
    runner = None
    pending, finished, merged = {}, {}, 0        # future -> index in items; index -> done future; next to yield
    queue = iter(enumerate(items))

    def submit_more():
        while len(pending) < runner.slots:
            i, item = next(queue, (None, None))
            if i is None:
                return
            pending[runner.submit(item)] = i

    def completions():                           # one per finished item
        submit_more()
        while pending:
            for f in sorted(runner.wait(pending), key=pending.get):
                finished[pending.pop(f)] = f
                yield f
            submit_more()

    try:
        runner = _OnCluster(client, fn, shared) if client is not None else _OnProcesses(workers, fn, shared)
        for _ in bar(completions()):
            while merged in finished:
                result, caught = runner.result(finished.pop(merged), items[merged])
                for message, category, filename, lineno in caught:      # as if raised here, in order
                    warnings.warn_explicit(message, category, filename, lineno)
                yield result
                merged += 1
    except BaseException:
        if runner is not None:
            runner.stop(list(pending) + list(finished.values()))
            for i in pending.values() if cleanup else ():
                cleanup(items[i])
        raise
    runner.close()


class _OnProcesses:
    """The local backend: ``workers`` spawned processes (concurrent.futures), each holding ``fn`` and ``shared``."""

    def __init__(self, workers, fn, shared):
        self.slots = 2 * workers
        self.env = {**dict.fromkeys(WORKER_THREADS_ENV, "1"), "TINYALSTM_DEVICE": backend.get_device()}
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_start_worker, initargs=(fn, shared))

    def submit(self, item):
        with _environment(self.env):             # ProcessPoolExecutor starts its workers inside submit()
            return self.pool.submit(_work, item)

    def wait(self, futures):
        return wait(futures, return_when=FIRST_COMPLETED).done

    def result(self, future, item):
        try:
            return future.result()
        except BrokenProcessPool as err:
            raise BrokenProcessPool(f"a worker process died abruptly (killed, out of memory or crashed) while "
                                    f"{item!r} or an item after it was in flight; rerun with one worker to see "
                                    f"which") from err

    def stop(self, futures):
        """Stop the pool now (whichever ``futures`` are left): nothing new starts, each worker unwinds its item
        (SIGTERM, see ``_on_terminate``) and exits, stragglers are killed after STOP_GRACE seconds."""
        procs = list((getattr(self.pool, "_processes", None) or {}).values())    # the executor's own handles
        self.pool.shutdown(wait=False, cancel_futures=True)     # its manager thread cancels what has not started
        for p in procs:
            p.terminate()
        for p in _running(procs, STOP_GRACE):
            p.kill()
        _running(procs, STOP_GRACE)

    def close(self):
        self.pool.shutdown()


class _OnCluster:
    """The Dask backend: tasks on the workers of ``client``'s cluster, ``fn`` and ``shared`` scattered to each
    worker once, the caller's device carried with them."""

    def __init__(self, client, fn, shared):
        from distributed import as_completed     # the cluster extra: imported only when a client is given
        self.client, self.finished = client, as_completed(loop=client.loop)
        self.slots = 2 * max(1, sum(client.nthreads().values()))
        # a list of one, so that the tuple is sent as one object (scatter splits a tuple into its elements)
        [self.shared] = client.scatter([(fn, shared, backend.get_device())], broadcast=True, hash=False)

    def submit(self, item):
        future = self.client.submit(_on_cluster, self.shared, item, pure=False)   # pure=False: never deduplicated
        self.finished.add(future)
        return future

    def wait(self, futures):
        return self.finished.next_batch(block=True)

    def result(self, future, item):
        try:
            return future.result()
        finally:
            future.release()        # now: a traceback holding the future must not keep its task on the scheduler

    def stop(self, futures):
        """Cancel ``futures``: those not started never start and finished ones drop their results; a task
        already running ends on its own (module docstring)."""
        self.client.cancel(futures)
        self.close()

    def close(self):
        self.shared.release()


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


def _running(procs, timeout):
    """Wait until every process of ``procs`` has exited or ``timeout`` seconds have passed -> those still running."""
    deadline = time.monotonic() + timeout
    running = {p.sentinel: p for p in procs}
    while running and deadline > time.monotonic():
        for sentinel in wait_for_exit(list(running), timeout=deadline - time.monotonic()):
            del running[sentinel]
    return list(running.values())


class ThreadWarnings:
    """The warnings raised in the calling thread, recorded while other threads of the process may be recording
    theirs (a Dask worker runs several tasks at once in threads). While any thread records, every warning is
    shown (no once-per-place filtering, so an item's warnings are all recorded, as one worker would raise them)
    and goes to the list of the thread that raised it; warnings of threads that are not recording go where they
    went before. ``with ThreadWarnings().record() as caught:`` -> caught, a list of (message, category,
    filename, lineno)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._local = threading.local()
        self._recording = 0             # threads recording now
        self._restore = None            # catch_warnings entered by the first of them: the process's state before
        self._previous = None           # where warnings of threads not recording go

    @contextmanager
    def record(self):
        caught = []
        with self._lock:
            if self._recording == 0:
                self._restore = warnings.catch_warnings()
                self._restore.__enter__()
                warnings.simplefilter("always")
                self._previous, warnings.showwarning = warnings.showwarning, self._show
            self._recording += 1
        self._local.caught = caught
        try:
            yield caught
        finally:
            self._local.caught = None
            with self._lock:
                self._recording -= 1
                if self._recording == 0:
                    self._restore.__exit__(None, None, None)

    def _show(self, message, category, filename, lineno, file=None, line=None):
        caught = getattr(self._local, "caught", None)
        if caught is None:
            return self._previous(message, category, filename, lineno, file, line)
        caught.append((str(message), category, filename, lineno))


_WARNINGS = ThreadWarnings()


def _recorded(fn, shared, item):
    """-> (fn(shared, item), the warnings raised meanwhile in this thread as (message, category, filename,
    lineno)); an exception propagates, made picklable for the way back."""
    try:
        with _WARNINGS.record() as caught:
            result = fn(shared, item)
    except BaseException as err:
        _make_picklable(err)
        raise
    return result, caught


# ------------------------------------------------------------------------------ inside a Dask worker

def _on_cluster(shared, item):
    """One task on a cluster: ``shared`` is the (fn, shared, device) scattered by ``_OnCluster``."""
    fn, shared, device = shared
    backend.set_device(device)             # as local workers get the caller's TINYALSTM_DEVICE
    return _recorded(fn, shared, item)


# ------------------------------------------------------------------------------ inside a local worker process

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
        return _recorded(_worker["fn"], _worker["shared"], item)
    except BaseException:
        if _worker["stopping"]:
            os._exit(1)                # unwound: leave without taking more work
        raise
    finally:
        _worker["busy"] = False


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
