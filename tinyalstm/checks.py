"""Input validation for the public entry points (models, optimisers, data loaders, CLIs).

Every error names the argument, what was expected and what was received. Inner layer functions do not validate:
they are called with arrays these checks have already passed.
"""
import numpy as np

from .backend import array_module

FLOAT_DTYPES = (np.float32, np.float64)


class RunError(Exception):
    """A run, checkpoint, run folder or combination of options that cannot be used. The message names the file or
    option and says what to do; the commands print it and exit with status 1 (``run.cli.run``). Library code raises
    it and never exits the process."""


def check_float_array(name, x, ndim, sizes=None):
    """Require a float32/float64 array of rank ``ndim`` with finite values.

    ``sizes`` maps an axis to the size it must have, e.g. ``{2: 128}``; returns the array unchanged.
    """
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(f"{name}: expected an array, got {type(x).__name__}")
    if x.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array, got shape {tuple(x.shape)} ({x.ndim}-d)")
    if x.dtype.type not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected dtype float32 or float64, got {x.dtype}")
    for axis, size in (sizes or {}).items():
        if x.shape[axis] != size:
            raise ValueError(f"{name}: expected size {size} on axis {axis}, got shape {tuple(x.shape)}")
    if 0 in x.shape:
        raise ValueError(f"{name}: expected a non-empty array, got shape {tuple(x.shape)}")
    xp = array_module(x)
    if not bool(xp.isfinite(x).all()):
        bad = int((~xp.isfinite(x)).sum())
        raise ValueError(f"{name}: expected finite values, got {bad} NaN or infinite entries")
    return x


def check_labels(name, y, batch, n_classes):
    """Require integer class labels y (batch,) in [0, n_classes)."""
    if not hasattr(y, "shape") or not hasattr(y, "dtype"):
        raise TypeError(f"{name}: expected an integer array, got {type(y).__name__}")
    if y.ndim != 1 or y.shape[0] != batch:
        raise ValueError(f"{name}: expected shape ({batch},), got {tuple(y.shape)}")
    if y.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected an integer dtype, got {y.dtype}")
    if batch and (int(y.min()) < 0 or int(y.max()) >= n_classes):
        raise ValueError(f"{name}: expected labels in [0, {n_classes}), got min {int(y.min())}, max {int(y.max())}")
    return y


def check_multilabels(name, Y, batch, n_classes):
    """Require multi-label targets Y (batch, n_classes) of 0 and 1 (bool, integer or float) -> Y."""
    if not hasattr(Y, "shape") or not hasattr(Y, "dtype"):
        raise TypeError(f"{name}: expected a (batch, classes) array of 0/1 labels, got {type(Y).__name__}")
    if Y.ndim != 2 or tuple(Y.shape) != (batch, n_classes):
        raise ValueError(f"{name}: expected 0/1 labels of shape ({batch}, {n_classes}) for a multi-label model, "
                         f"got {tuple(Y.shape)}")
    if Y.dtype.kind not in "biuf" or (Y.size and not ((Y == 0) | (Y == 1)).all()):
        raise ValueError(f"{name}: expected only 0 and 1 (class absent / present)")
    return Y


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name}: expected one of {tuple(choices)}, got {value!r}")
    return value


def check_positive(name, value, allow_zero=False):
    ok = value >= 0 if allow_zero else value > 0
    if not np.isfinite(value) or not ok:
        raise ValueError(f"{name}: expected a {'non-negative' if allow_zero else 'positive'} finite number, "
                         f"got {value!r}")
    return value


def check_probability(name, value):
    if not (0.0 <= value < 1.0):
        raise ValueError(f"{name}: expected a probability in [0, 1), got {value!r}")
    return value
