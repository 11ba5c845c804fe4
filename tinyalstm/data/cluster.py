"""The data pipeline's per-video passes on a Dask cluster (``--scheduler tcp://host:8786``): connecting to its
scheduler, and checking that its workers see the files a pass reads and writes.

A cluster is Dask's distributed scheduler, a process of its own (``dask scheduler``), and workers on any number
of machines (``dask worker tcp://host:8786``), each with tinyalstm installed. ``features.extract_features(...,
scheduler=...)`` runs one task per video there through ``workers.ordered_map``, the merge that serves local
worker processes too, so the files and the skip report are those of one worker.

Where the outputs are written: by the workers, into the cache folder, as local workers do. The cache folder must
then be on a filesystem that this machine and every worker share at the same path (NFS, Lustre, ...), like the
videos. Why not send the results back for this machine to write: a task carries a video's path, not its bytes, so
the workers read the dataset from a shared filesystem anyway; writing there too keeps the outputs (a video's
frames and flow images, megabytes each) off this machine's network link and memory, and keeps features.py's
atomic writes and resumption as they are. ``check_shared`` checks this before a pass: this machine writes a file
into the cache folder and every worker must read it back and write one of its own there, and read the pass's first
input file; a worker that cannot is named, with the folder, in one paragraph (``ClusterError``).

Dask is optional (the ``cluster`` extra): it is imported here, inside the functions, only when a scheduler is
given, so importing tinyalstm never needs it.
"""
import os
import secrets
import socket
from contextlib import contextmanager
from pathlib import Path

INSTALL = ("install the cluster extra (pip install -e '.[cluster]' in the repository, which adds "
           "dask[distributed]) here and on every worker")


class ClusterError(RuntimeError):
    """No scheduler at the address, no worker, workers that cannot see a pass's files, or no Dask installed; the
    message names what and says what to do."""


def _distributed():
    try:
        import distributed          # optional: the cluster extra
    except ImportError:
        raise ClusterError(f"--scheduler: running on a Dask cluster needs Dask's distributed scheduler: "
                           f"{INSTALL}") from None
    return distributed


@contextmanager
def connected(scheduler):
    """``scheduler``: None, a scheduler's address ('tcp://host:8786') or a ``distributed.Client`` -> a context
    giving the Client (None for None); one made here from an address is closed at the end."""
    if scheduler is None or not isinstance(scheduler, str):
        yield scheduler
        return
    client = connect(scheduler)
    try:
        yield client
    finally:
        client.close()


def connect(address):
    """A ``distributed.Client`` of the scheduler at ``address`` with at least one worker, or a ClusterError
    saying why not. Both waits are Dask's connect timeout (``distributed.comm.timeouts.connect``, 30 s unless
    set, e.g. ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=60s``)."""
    distributed = _distributed()
    from dask import config         # installed with distributed
    from dask.utils import parse_timedelta
    from distributed.comm import get_address_host_port
    wait = config.get("distributed.comm.timeouts.connect")
    try:
        get_address_host_port(address)
    except ValueError as err:       # before Client: one that fails on its address hangs at exit to close itself
        raise ClusterError(f"--scheduler {address}: not a Dask scheduler's address ({err}); expected "
                           f"tcp://HOST:PORT, as `dask scheduler` prints it (port 8786 by default)") from None
    try:
        client = distributed.Client(address, set_as_default=False)
    except (OSError, ValueError, TimeoutError) as err:
        raise ClusterError(f"--scheduler {address}: no Dask scheduler answered there ({err}). Start one with "
                           f"`dask scheduler` (it prints its address, tcp://HOST:8786 by default) and workers with "
                           f"`dask worker tcp://HOST:8786` on each machine, or check the address and that this "
                           f"machine reaches it (the wait is Dask's distributed.comm.timeouts.connect, "
                           f"{wait})") from None
    try:
        client.wait_for_workers(1, timeout=parse_timedelta(wait))
    except (OSError, TimeoutError):
        client.close()
        raise ClusterError(f"--scheduler {address}: the Dask scheduler there has no worker (none joined within "
                           f"{wait}): start them with `dask worker {address}` on each machine, with tinyalstm "
                           f"installed and the data on a shared filesystem") from None
    return client


def check_scheduler(scheduler):
    """Connect to ``scheduler`` (an address, a Client or None) and disconnect: a ClusterError now, before any
    work, rather than at the first pass that needs the cluster."""
    with connected(scheduler):
        pass


def check_shared(client, folder, inputs=()):
    """Every worker of ``client``'s cluster sees the cache folder ``folder`` at the same path as this machine and
    can write there, and reads the files ``inputs`` (paths, e.g. a pass's first video) -> None, or a ClusterError
    naming the folder or file and the worker (module docstring). Inputs that this machine cannot read either are
    left to the pass, which skips and reports them as one worker would. Creates ``folder``."""
    folder = Path(os.path.abspath(folder))
    folder.mkdir(parents=True, exist_ok=True)
    # an input that cannot be read here either is the pass's to skip and report, not a fault of the cluster
    inputs = [str(p) for p in inputs if os.access(p, os.R_OK)]
    token = secrets.token_hex(8)
    probe = folder / f".cluster-check-{token}"
    probe.write_text(token)
    try:
        answers = client.run(_sees, str(probe), token, inputs, on_error="return")
    finally:
        probe.unlink(missing_ok=True)
    problems = []
    for worker, answer in sorted(answers.items()):
        if isinstance(answer, BaseException):       # e.g. tinyalstm not installed there
            problems.append(f"worker {worker} cannot run tinyalstm's code ({type(answer).__name__}: {answer}): "
                            f"install tinyalstm, with the cluster extra, on every worker")
        elif answer[1] is not None:
            problems.append(f"worker {worker} on {answer[0]} {answer[1]}")
    if problems:
        more = f" (and {len(problems) - 1} more workers)" if len(problems) > 1 else ""
        raise ClusterError(f"the Dask workers write each video's files into the cache folder {folder} themselves, "
                           f"and read the videos or frames it is made from, at the same paths as this machine: "
                           f"{problems[0]}{more}. Put the data and the cache (--work) on a filesystem shared by "
                           f"this machine and every worker (NFS, Lustre, ...), mounted at the same path, or run "
                           f"without --scheduler")


def _sees(probe, token, inputs):
    """On a worker: -> (its host name, what it cannot do with ``probe`` (the file this machine wrote, holding
    ``token``), its folder or ``inputs``, or None)."""
    host = socket.gethostname()
    try:
        seen = Path(probe).read_text()
    except OSError as err:
        return host, f"does not see it ({probe}, written here, is not there: {err.strerror})"
    if seen != token:
        return host, f"sees another folder at that path ({probe} holds other content there)"
    mine = Path(f"{probe}-{host}-{os.getpid()}")
    try:
        mine.write_text(token)
        mine.unlink()
    except OSError as err:
        return host, f"cannot write there ({err.strerror})"
    for path in inputs:
        try:
            with open(path, "rb"):
                pass
        except OSError as err:
            relative = "" if os.path.isabs(path) else (" (a relative path: each worker reads it from its own "
                                                       "working folder; give absolute paths)")
            return host, f"cannot read {path} ({err.strerror}){relative}"
    return host, None
