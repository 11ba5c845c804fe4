"""Finite-difference gradient checking (CONVENTIONS.md, "Verification"), used by the tests and the tutorials.

A layer's backward pass is checked through a random projection: loss = sum(out * dout), whose gradient with
respect to the layer's output is dout. Central differences in float64 with step h = 1e-5: for the O(1) losses
used here the rounding error eps|f|/h (~1e-11) and the truncation error h^2 |f'''| / 6 (~1e-11) are both far
below the 1e-7 tolerance, where h = 1e-6 let rounding reach 1e-7 on parameters with small gradients.
"""
import numpy as np


def numeric_gradient(f, x, h=1e-5):
    """Central-difference gradient of the scalar function ``f()`` with respect to array ``x``, changed in place
    and restored. x must be a float64 NumPy array that ``f`` reads."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        fp = f()
        x[i] = old - h
        fm = f()
        x[i] = old
        grad[i] = (fp - fm) / (2.0 * h)
    return grad


def numeric_gradient_projected(f, x, dout, h=1e-5):
    """Gradient of sum(f() * dout) with respect to x: the finite-difference counterpart of a backward pass fed
    with upstream gradient dout."""
    return numeric_gradient(lambda: float(np.sum(f() * dout)), x, h)


def rel_error(a, b):
    """max|a - b| / max(1e-8, max(|a| + |b|)): the worst difference relative to the gradient's scale.

    Normalising by the largest entry rather than entry by entry keeps near-zero entries (whose finite difference
    is dominated by rounding) from reporting a huge relative error for an absolute error of 1e-11.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1e-8, float(np.max(np.abs(a) + np.abs(b)))))
