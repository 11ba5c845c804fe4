"""Every file a run writes goes through ``write_atomic``: written next to its place as ``<name>.partial`` and
renamed onto it when complete, after checking that the disk has room. A full disk, a crash or a signal therefore
never leaves a half-written file under the real name (the previous version, e.g. the last good checkpoint, stays),
the partial file is removed, and a full disk is reported as ``DiskFullError`` naming the path, the space needed and
the space left. Files are written with ordinary writes, never through a memory map: a memory-mapped write that
meets a full disk kills the process (SIGBUS) with no message.
"""
import errno
import json
import os
import shutil
from pathlib import Path

import numpy as np

# Room kept free beyond a file's own size: filesystems need some for metadata, and a disk filled to the last byte
# breaks everything else on the machine.
MARGIN = 16 * 2 ** 20


class DiskFullError(OSError):
    """Not enough space for a file: names the path, the bytes needed and the bytes left."""

    def __init__(self, path, needed, left):
        super().__init__(errno.ENOSPC, f"no space left for {path}: it needs {_size(needed)}, {_size(left)} are "
                                       f"free there. Free some space (or use another --out / --work) and rerun",
                         str(path))

    def __str__(self):
        return self.strerror


def _size(n):
    return f"{n / 2 ** 20:.1f} MiB" if n >= 2 ** 20 else f"{n} bytes"


def free_bytes(folder):
    return shutil.disk_usage(folder).free


def write_atomic(path, write, nbytes=0):
    """Write ``path`` by calling ``write(partial_path)``; ``nbytes`` the size to expect (checked against the free
    space first, with MARGIN) -> path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    left = free_bytes(path.parent)
    if nbytes + MARGIN > left:
        raise DiskFullError(path, nbytes + MARGIN, left)
    tmp = path.with_name(path.name + ".partial")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        if err.errno == errno.ENOSPC and not isinstance(err, DiskFullError):
            raise DiskFullError(path, nbytes + MARGIN, free_bytes(path.parent)) from None
        raise
    except BaseException:           # a signal or any other error: no partial file left behind
        tmp.unlink(missing_ok=True)
        raise
    return path


def save_npy(path, array):
    """An array as ``.npy``, atomically (see the module docstring)."""
    array = np.asarray(array)

    def write(tmp):
        with open(tmp, "wb") as f:
            np.save(f, array)
    return write_atomic(path, write, array.nbytes + 4096)


def save_npz(path, **arrays):
    """Arrays as one uncompressed ``.npz``, atomically."""
    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return write_atomic(path, write, sum(np.asarray(a).nbytes for a in arrays.values()) + 4096 * len(arrays))


def save_text(path, text):
    """Text (UTF-8), atomically."""
    data = text.encode("utf-8")
    return write_atomic(path, lambda tmp: Path(tmp).write_bytes(data), len(data))


def save_json(path, obj, indent=2):
    """JSON, atomically; values JSON does not know are written as their str()."""
    return save_text(path, json.dumps(obj, indent=indent, default=str))
