"""Finite-difference gradient checking, used by the tests and the tutorials.

``check_gradients`` (one op, through a random projection) and ``check_full_loss`` (a whole model's scalar loss)
compare a hand-written backward pass with central differences, raise on a mismatch, and keep the worst error per
op in ``WORST`` (the test suite prints it at the end of a run).

A layer's backward pass is checked through a random projection: loss = sum(out * dout), whose gradient with
respect to the layer's output is dout. Central differences in float64 with step h = 1e-5: for the O(1) losses
used here the rounding error eps|f|/h (~1e-11) and the truncation error h^2 |f'''| / 6 (~1e-11) are both far
below the 1e-7 tolerance, where h = 1e-6 let rounding reach 1e-7 on parameters with small gradients.
"""
from collections import defaultdict

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


GRAD_TOL = 1e-7          # smooth ops, float64 central differences (the project's tolerance)
REF_TOL = 1e-12          # library vs reference/, both float64: only summation order differs
WORST = defaultdict(float)   # op -> worst relative error seen by check_gradients / check_full_loss in this process


def record(op, err, tol=GRAD_TOL):
    """Remember ``err`` as a figure of ``op`` (see ``WORST``) and raise AssertionError when it exceeds ``tol``."""
    WORST[op] = max(WORST[op], err)
    if err > tol:
        raise AssertionError(f"{op}: relative error {err:.2e} > {tol:.0e}")


def check_gradients(op, forward, inputs, analytic, dout, tol=GRAD_TOL):
    """Compare ``analytic[name]`` with the finite-difference gradient of sum(forward() * dout) with respect to
    ``inputs[name]`` for every name (float64 arrays that ``forward`` reads, perturbed in place and restored); record
    the worst error under ``op`` and raise AssertionError when it exceeds ``tol``.

    The error is ``rel_error`` over the op's whole gradient (all inputs and parameters as one vector). Per input
    it would measure finite-difference noise, not the backward pass, whenever one input's gradient is ~1e-5 of the
    others' (a near-uniform softmax over T = 2 frames with M = 1 leaves d/dprev_h at 5e-6 while d/dA is 0.3): the
    difference's absolute error, ~1e-12 here, is set by |f|, shared by all inputs. -> the error.
    """
    names = list(inputs)
    num = {name: numeric_gradient_projected(forward, inputs[name], dout) for name in names}
    err = rel_error(np.concatenate([num[n].ravel() for n in names]),
                    np.concatenate([np.asarray(analytic[n]).ravel() for n in names]))
    WORST[op] = max(WORST[op], err)
    if err > tol:
        detail = ", ".join(f"d/d{n} {rel_error(num[n], analytic[n]):.1e}" for n in names)
        raise AssertionError(f"{op}: relative error {err:.2e} > {tol:.0e} (per input: {detail})")
    return err


def check_full_loss(op, loss_fn, targets, analytic, tol=GRAD_TOL):
    """Whole-model check: the finite-difference gradient of the scalar ``loss_fn()`` with respect to every array
    in ``targets`` (parameters and inputs) against ``analytic`` (same keys), as one vector; see check_gradients
    for why one vector. -> the error."""
    if set(analytic) != set(targets):
        raise AssertionError(f"{op}: gradients for {sorted(analytic)}, expected {sorted(targets)}")
    num = np.concatenate([numeric_gradient(loss_fn, x).ravel() for x in targets.values()])
    ana = np.concatenate([np.asarray(analytic[k]).ravel() for k in targets])
    err = rel_error(num, ana)
    record(op, err, tol)
    return err


def check_model_loss(op, model, first, y, second=None, seed=3, tol=GRAD_TOL):
    """``check_full_loss`` of a model's whole loss: the finite-difference gradient of ``model.loss`` (dropout on,
    with the same masks every call: a fresh Generator of ``seed``) with respect to every parameter and input
    against ``model.loss_and_input_grads`` -> the error."""
    loss_fn = lambda: model.loss(first, y, second, rng=np.random.default_rng(seed))[0]  # noqa: E731
    _, grads, dinputs = model.loss_and_input_grads(first, y, second, rng=np.random.default_rng(seed))
    names = model.inputs
    targets = {**model.params, **dict(zip(names, (first, second)))}
    return check_full_loss(op, loss_fn, targets, {**grads, **dinputs}, tol)
