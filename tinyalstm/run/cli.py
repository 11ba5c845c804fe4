"""What every command line shares: how it ends.

``run(main)`` is the ``python -m tinyalstm.<command>`` entry of every command. It turns what can go wrong into one
paragraph on stderr and an exit code, instead of a traceback:

- 2: a usage error (argparse's own message);
- 1: a problem with the data, a file or the disk (the message names the file or option and what to do), and any
  unexpected error (named as such, with its type);
- 130 on SIGINT (Ctrl-C) and 143 on SIGTERM: both raise ``Interrupted`` in the main thread, so the code that
  was running finishes cleanly (training says which epoch was interrupted and which checkpoint it keeps; partial
  files are removed).

The traceback is printed too with ``--debug`` (anywhere on the command line) or ``TINYALSTM_DEBUG=1``.
"""
import errno
import os
import signal
import sys

from .storage import DiskFullError


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM, raised where the main thread is; ``code`` is the exit status (130 or 143)."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.code = 128 + signum


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


def describe(err):
    """One paragraph for an exception that ended a command."""
    if isinstance(err, DiskFullError):
        return str(err)                                  # names the path, the space needed and the space left
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        where = f" writing {err.filename}" if err.filename else ""
        return (f"no space left on the device{where}. Free some space (or point --out / --work elsewhere) and "
                f"rerun; with --resume a training run continues from its last checkpoint.")
    if isinstance(err, OSError) and err.filename and err.strerror:
        return f"{err.filename}: {err.strerror}"
    message = str(err) or type(err).__name__
    if type(err).__module__.startswith("tinyalstm") or isinstance(err, (OSError, ValueError)):
        return message
    return f"unexpected {type(err).__name__}: {message} (a bug: rerun with --debug for the traceback and report it)"


def add_scheduler_option(ap):
    """``--scheduler ADDRESS`` on the argparse parser ``ap``: the commands that build the data caches (train,
    evaluate) and extract run their per-video passes on a Dask cluster (``data/cluster.py``)."""
    ap.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="run decoding, optical flow and encoding on a Dask cluster instead of --workers local "
                         "processes: its scheduler's address, tcp://HOST:8786 (start it with `dask scheduler`, and "
                         "`dask worker tcp://HOST:8786` on each machine). Every worker needs tinyalstm with the "
                         "cluster extra, and the dataset and --work folders at the same paths as here, on a shared "
                         "filesystem (checked first); the caches are the same byte for byte")


def run(main, argv=None):
    """Run ``main(argv)`` as a command: the exit codes and messages of the module docstring."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("TINYALSTM_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_interrupted)
    try:
        code = main(argv)
    except SystemExit:
        raise
    except KeyboardInterrupt as err:
        code = getattr(err, "code", 128 + signal.SIGINT)
        print(f"stopped by {signal.Signals(code - 128).name}", file=sys.stderr)
        if debug:
            raise
        sys.exit(code)
    except Exception as err:  # noqa: BLE001 -- the one place every error of a command ends
        if debug:
            raise
        print(f"error: {describe(err)}", file=sys.stderr)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
