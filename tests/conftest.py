"""Shared test helpers: hypothesis profile, and a per-op record of the worst gradient error seen in the run.

At the end of the session pytest prints the table "worst relative gradient error per op" (finite differences
vs the hand-written backward pass), the figure the closing notes quote.
"""
import os
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from tinyalstm.gradcheck import numeric_gradient, numeric_gradient_projected, rel_error

settings.register_profile("ci", max_examples=12, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

GRAD_TOL = 1e-7          # CONVENTIONS.md: smooth ops, float64 central differences
REF_TOL = 1e-12          # library vs reference/, both float64: only summation order differs
_worst = defaultdict(float)


def check_gradients(op, forward, inputs, analytic, dout, tol=GRAD_TOL):
    """Compare ``analytic[name]`` with the finite-difference gradient of sum(forward() * dout) with respect to
    ``inputs[name]`` for every name; record the worst error under ``op`` and assert it is within ``tol``.

    The error is ``rel_error`` over the op's whole gradient (all inputs and parameters as one vector). Per input
    it would measure finite-difference noise, not the backward pass, whenever one input's gradient is ~1e-5 of the
    others' (hypothesis finds such cases: a near-uniform softmax over T = 2 frames with M = 1 leaves d/dprev_h at
    5e-6 while d/dA is 0.3): the difference's absolute error, ~1e-12 here, is set by |f|, shared by all inputs.
    """
    names = list(inputs)
    num = {name: numeric_gradient_projected(forward, inputs[name], dout) for name in names}
    err = rel_error(np.concatenate([num[n].ravel() for n in names]),
                    np.concatenate([np.asarray(analytic[n]).ravel() for n in names]))
    _worst[op] = max(_worst[op], err)
    if err > tol:
        detail = ", ".join(f"d/d{n} {rel_error(num[n], analytic[n]):.1e}" for n in names)
        raise AssertionError(f"{op}: relative error {err:.2e} > {tol:.0e} (per input: {detail})")


def check_full_loss(op, loss_fn, targets, analytic, tol=GRAD_TOL):
    """Whole-model check: the finite-difference gradient of the scalar ``loss_fn()`` with respect to every array
    in ``targets`` (parameters and inputs) against ``analytic`` (same keys), as one vector; see check_gradients
    for why one vector."""
    assert set(analytic) == set(targets), f"{op}: gradients for {sorted(analytic)}, expected {sorted(targets)}"
    num = np.concatenate([numeric_gradient(loss_fn, x).ravel() for x in targets.values()])
    ana = np.concatenate([np.asarray(analytic[k]).ravel() for k in targets])
    record(op, rel_error(num, ana), tol)


def record(op, err, tol=GRAD_TOL):
    _worst[op] = max(_worst[op], err)
    assert err <= tol, f"{op}: relative error {err:.2e} > {tol:.0e}"


def pytest_terminal_summary(terminalreporter):
    if _worst:
        terminalreporter.write_sep("-", "worst relative gradient error per op (finite differences, float64)")
        for op in sorted(_worst):
            terminalreporter.write_line(f"{op:40s} {_worst[op]:.2e}")


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs CuPy and an NVIDIA GPU (skipped otherwise)")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
