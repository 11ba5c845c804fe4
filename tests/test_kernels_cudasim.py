"""Numba CUDA kernels checked on tiny shapes under the CUDA simulator (no GPU needed), and on a real GPU when one
is present (marker ``gpu``).

The simulator flag must be set before numba is imported, so without it this module re-runs itself in a child
process with NUMBA_ENABLE_CUDASIM=1. Tolerances: float64 in the simulator, so 1e-12 against the reference;
float32 on a GPU, atol 1e-6 + rtol 1e-5 (a few float32 ulps through exp/tanh).
"""
import os
import subprocess
import sys

import numpy as np
import pytest

SIM = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


@pytest.mark.skipif(SIM, reason="this is the launcher, already inside the simulator")
def test_kernels_under_the_cuda_simulator():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__],
                         capture_output=True, text=True, env=env, cwd=os.path.dirname(__file__))
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    summary = out.stdout.strip().splitlines()[-1]
    assert "passed" in summary and "failed" not in summary and "error" not in summary, out.stdout[-2000:]


sim_only = pytest.mark.skipif(not SIM, reason="runs in the simulator child process")


@sim_only
@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (2, 2, 3, 3), (1, 3, 1, 5)])
def test_lstm_pointwise_kernels(shape):
    from tinyalstm import reference as ref
    from tinyalstm.kernels.lstm_pointwise import lstm_pointwise_backward, lstm_pointwise_forward
    from tinyalstm.lstm import lstm_cell_backward, lstm_cell_forward
    r = np.random.default_rng(len(shape))
    B, K, *spatial = shape
    a = 2.0 * r.normal(size=(B, 4 * K, *spatial))
    prev_c = r.normal(size=(B, K, *spatial))
    h, c, cache = lstm_pointwise_forward(a, prev_c)

    # reference: the loop LSTM step with x = a, Wx = I, Wh = 0, b = 0 evaluates eqs. 7-12 on the pre-activation a,
    # one spatial position at a time
    S = int(np.prod(spatial)) if spatial else 1
    a_flat, c_flat = a.reshape(B, 4 * K, S), prev_c.reshape(B, K, S)
    for s in range(S):
        rh, rc = ref.lstm_step(a_flat[:, :, s], np.zeros((B, K)), c_flat[:, :, s], np.eye(4 * K),
                               np.zeros((K, 4 * K)), np.zeros(4 * K))
        np.testing.assert_allclose(h.reshape(B, K, S)[:, :, s], rh, rtol=0, atol=1e-12)
        np.testing.assert_allclose(c.reshape(B, K, S)[:, :, s], rc, rtol=0, atol=1e-12)

    # backward against the library's cell backward (itself checked against finite differences)
    dh, dc = r.normal(size=prev_c.shape), r.normal(size=prev_c.shape)
    da, dprev_c = lstm_pointwise_backward(dh, dc, cache)
    _, _, lib_cache = lstm_cell_forward(a, prev_c)
    lda, ldprev_c = lstm_cell_backward(dh, dc, lib_cache)
    np.testing.assert_allclose(da, lda, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dprev_c, ldprev_c, rtol=0, atol=1e-12)


def _gpu():
    if SIM:
        return None
    from tinyalstm.backend import cupy_or_none
    return cupy_or_none()


@pytest.mark.gpu
@pytest.mark.skipif(_gpu() is None, reason="needs CuPy and an NVIDIA GPU")
def test_lstm_pointwise_kernels_on_gpu():
    """Realistic size (batch 32, 512 channels, 7x7 maps), float32 CuPy arrays, against the library's NumPy cell
    in float64."""
    cp = _gpu()
    from tinyalstm.kernels.lstm_pointwise import lstm_pointwise_backward, lstm_pointwise_forward
    from tinyalstm.lstm import lstm_cell_backward, lstm_cell_forward
    r = np.random.default_rng(0)
    a, prev_c = 2.0 * r.normal(size=(32, 4 * 512, 7, 7)), r.normal(size=(32, 512, 7, 7))
    dh, dc = r.normal(size=prev_c.shape), r.normal(size=prev_c.shape)
    h, c, cache = lstm_pointwise_forward(cp.asarray(a, cp.float32), cp.asarray(prev_c, cp.float32))
    da, dprev_c = lstm_pointwise_backward(cp.asarray(dh, cp.float32), cp.asarray(dc, cp.float32), cache)
    rh, rc, lib_cache = lstm_cell_forward(a, prev_c)
    rda, rdprev_c = lstm_cell_backward(dh, dc, lib_cache)
    for got, want in [(h, rh), (c, rc), (da, rda), (dprev_c, rdprev_c)]:
        np.testing.assert_allclose(cp.asnumpy(got), want, rtol=1e-5, atol=1e-6)
