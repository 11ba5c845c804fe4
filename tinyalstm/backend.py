"""One switch between NumPy (CPU) and CuPy (GPU).

Every layer asks the array it was given which module to use (``array_module(x)``), so the same hand-written
forward and backward code runs on NumPy and on CuPy arrays. Only models, data loaders and CLIs consult the global
device, which comes from ``set_device()`` or the ``TINYALSTM_DEVICE`` environment variable (``cpu`` or ``cuda``;
unset means ``cuda`` when CuPy sees a GPU, else ``cpu``). Importing this module never imports CuPy.
"""
import os

import numpy as np

_DEVICES = ("cpu", "cuda")
_device = None


def cupy_or_none():
    """Return the cupy module if it imports and sees at least one GPU, else None."""
    try:
        import cupy          # optional (the gpu extra): never imported on the CPU path
        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy
    except Exception:  # not installed, no driver, no device: all mean "no GPU here"
        pass
    return None


class DeviceError(RuntimeError):
    """A device that was asked for and is not there."""


def set_device(name):
    """Select ``'cpu'`` or ``'cuda'`` for models created from now on; ``'cuda'`` without a GPU is an error."""
    global _device
    if name not in _DEVICES:
        raise ValueError(f"device: expected one of {_DEVICES}, got {name!r}")
    if name == "cuda" and cupy_or_none() is None:
        raise DeviceError("--device cuda: CuPy is not installed or sees no GPU (install the 'gpu' extra, see "
                          "README), or use --device cpu")
    _device = name


def get_device():
    """The current device name, resolving ``TINYALSTM_DEVICE`` and auto-detection on first use."""
    if _device is None:
        env = os.environ.get("TINYALSTM_DEVICE", "").strip().lower()
        if env:
            set_device(env)
        else:
            set_device("cuda" if cupy_or_none() is not None else "cpu")
    return _device


def xp():
    """The array module of the current device (numpy or cupy)."""
    if get_device() == "cuda":
        import cupy          # optional (the gpu extra): never imported on the CPU path
        return cupy
    return np


def array_module(x):
    """numpy or cupy, whichever owns array ``x`` (numpy for anything that is not a CuPy array)."""
    if type(x).__module__.startswith("cupy"):
        import cupy          # optional (the gpu extra): never imported on the CPU path
        return cupy
    return np


KERNELS, FUSED, PLAIN = "kernels", "fused", "plain"


def implementation(x):
    """Which code runs on array ``x``, decided here and nowhere else:

    - ``"kernels"``: a CuPy array; the layers call our Numba CUDA kernels (``kernels/``) for the convolutions, the
      LSTM gate math and the spatial softmax, and CuPy for the rest;
    - ``"fused"``: a NumPy array; the convolutional models run the CPU's fused recurrences
      (``tinyalstm.fused``), checked against the step-by-step layers;
    - ``"plain"``: the step-by-step layers with array operations only (NumPy or CuPy).

    ``TINYALSTM_KERNELS=0`` turns CuPy arrays to ``"plain"`` (to measure what the kernels buy), and
    ``TINYALSTM_FUSED=0`` NumPy arrays (to compare the fused path with the layers it is checked against)."""
    if array_module(x) is np:
        return FUSED if os.environ.get("TINYALSTM_FUSED", "1") != "0" else PLAIN
    return KERNELS if os.environ.get("TINYALSTM_KERNELS", "1") != "0" else PLAIN


def use_kernels(x):
    """Whether the layers run our CUDA kernels on ``x`` (``implementation``)."""
    return implementation(x) == KERNELS


def use_fused(x):
    """Whether the convolutional models run the fused CPU path on ``x`` (``implementation``)."""
    return implementation(x) == FUSED


def to_device(x, dtype=None):
    """Copy ``x`` to the current device (a no-op for an array already there)."""
    out = xp().asarray(x)
    return out if dtype is None else out.astype(dtype, copy=False)


def to_numpy(x):
    """A NumPy copy of ``x`` (host memory), whichever device it lives on."""
    if array_module(x) is np:
        return np.asarray(x)
    return x.get()
