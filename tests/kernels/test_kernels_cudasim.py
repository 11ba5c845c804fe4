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
    """Two children side by side (the simulator is single-threaded Python; CI has two cores), about 40 s each."""
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    children = [subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k", k],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                 cwd=os.path.dirname(__file__))
                for k in ("conv2d or timing or memory", "not (conv2d or timing or memory)")]
    for child in children:
        stdout, stderr = child.communicate()
        assert child.returncode == 0, stdout[-4000:] + stderr[-2000:]
        summary = stdout.strip().splitlines()[-1]
        assert "passed" in summary and "failed" not in summary and "error" not in summary, stdout[-2000:]


sim_only = pytest.mark.skipif(not SIM, reason="runs in the simulator child process")


@sim_only
@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (2, 2, 3, 3), (1, 3, 1, 5)])
def test_lstm_pointwise_kernels(shape):
    from tinyalstm import reference as ref
    from tinyalstm.kernels.lstm_pointwise import lstm_pointwise_backward, lstm_pointwise_forward
    from tinyalstm.layers.lstm import lstm_cell_backward, lstm_cell_forward
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


@sim_only
@pytest.mark.parametrize("B,C,H,W,K,k", [(1, 1, 1, 1, 1, 1), (2, 3, 4, 5, 3, 3), (1, 2, 3, 3, 5, 5),
                                         (3, 1, 5, 5, 129, 1)])
def test_conv2d_kernels(B, C, H, W, K, k):
    """Forward against reference.conv2d; dx, dw, db against the library's im2col backward (itself checked
    against finite differences). The shapes cover kernel sizes 1, 3, 5, maps 1x1 to 5x5, a reduction longer than
    one 8-deep slice (C*k*k = 27, 50; B*H*W = 40, 75), more output rows than one 128 x 128 tile (K = 129) and
    dgrad's reduction over K*k*k = 125 taps."""
    from tinyalstm import reference as ref
    from tinyalstm.kernels.conv2d import conv2d_backward, conv2d_forward
    from tinyalstm.layers.conv import Im2colSaved, conv2d_backward_im2col, im2col
    r = np.random.default_rng(B * 100 + K)
    x, w, b = r.normal(size=(B, C, H, W)), r.normal(size=(K, C, k, k)), r.normal(size=K)
    out, cache = conv2d_forward(x, w, b)
    np.testing.assert_allclose(out, ref.conv2d(x, w, b), rtol=0, atol=1e-12)
    dout = r.normal(size=out.shape)
    got = conv2d_backward(dout, cache)
    want = conv2d_backward_im2col(dout, Im2colSaved(x.shape, im2col(x, k, k), w))
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-12)


@sim_only
def test_conv2d_without_bias_and_with_a_split_reduction():
    """No bias: the same as a zero bias, and no bias gradient. A reduction split over 2 and 3 blocks (the
    partial tiles summed afterwards; the bias added once) gives the unsplit result: forward (27 taps, 4 slices),
    dgrad (36 taps) and wgrad (2 x 16 positions, 4 slices)."""
    from tinyalstm import reference as ref
    from tinyalstm.kernels.conv2d import conv2d_backward, conv2d_forward, splits_for
    from tinyalstm.layers.conv import Im2colSaved, conv2d_backward_im2col, im2col
    r = np.random.default_rng(7)
    x, w, b = r.normal(size=(2, 3, 4, 4)), r.normal(size=(4, 3, 3, 3)), r.normal(size=4)
    dout = r.normal(size=(2, 4, 4, 4))
    want = conv2d_backward_im2col(dout, Im2colSaved(x.shape, im2col(x, 3, 3), w))
    out0, cache0 = conv2d_forward(x, w)
    np.testing.assert_allclose(out0, ref.conv2d(x, w, np.zeros(4)), rtol=0, atol=1e-12)
    dx0, dw0, db0 = conv2d_backward(dout, cache0)
    assert db0 is None
    np.testing.assert_allclose(dx0, want[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(dw0, want[1], rtol=0, atol=1e-12)
    for splits in (2, 3):
        out, cache = conv2d_forward(x, w, b, splits=splits)
        np.testing.assert_allclose(out, ref.conv2d(x, w, b), rtol=0, atol=1e-12)
        for g, e in zip(conv2d_backward(dout, cache, splits=splits), want):
            np.testing.assert_allclose(g, e, rtol=0, atol=1e-12)
    # the default choice: one block per tile when there are enough tiles, else up to ~264 blocks of >= 16 slices
    assert splits_for(2048, 1568, 4608) == 1                 # paper forward: 16 x 13 = 208 tiles
    assert splits_for(512, 1568, 18432) == 5                 # paper dgrad: 52 tiles, 2,304 slices
    assert splits_for(4, 32, 27) == 1                        # 4 slices: too short to split


@sim_only
def test_conv2d_refuses_even_kernels_and_passes_empty_batches():
    """dgrad's flipped table centres the window, which only an odd kernel size has: an even one is refused by
    name, not answered with a wrong dx. An empty batch gives empty outputs without a launch (a grid of 0 blocks is
    refused by CUDA)."""
    from tinyalstm.kernels.conv2d import conv2d_backward, conv2d_forward
    from tinyalstm.kernels.launch import LAUNCHES
    x = np.ones((1, 2, 4, 4))
    for shape in ((3, 2, 2, 2), (3, 2, 3, 2)):
        with pytest.raises(ValueError, match="odd kernel sizes"):
            conv2d_forward(x, np.ones(shape))
    LAUNCHES.clear()
    b = np.arange(3.0)
    out, cache = conv2d_forward(np.ones((0, 2, 4, 4)), np.ones((3, 2, 3, 3)), b)
    assert out.shape == (0, 3, 4, 4)
    dx, dw, db = conv2d_backward(np.ones((0, 3, 4, 4)), cache)
    assert dx.shape == (0, 2, 4, 4) and not dw.any() and dw.shape == (3, 2, 3, 3) and db.shape == (3,)
    assert not LAUNCHES


@sim_only
def test_memory_bound_kernels_move_the_minimum():
    """The LSTM pointwise and spatial softmax kernels read and write each array of their contract once: the
    global-memory bytes per element counted in the simulator equal the minimum (see tinyalstm.perf.kernels)."""
    from tinyalstm.perf.kernels import measure_traffic
    for name, (moved, least) in measure_traffic().items():
        assert moved == pytest.approx(least, rel=1e-12), (name, moved, least)


@sim_only
@pytest.mark.parametrize("B,C,N", [(1, 1, 1), (2, 3, 5), (1, 9, 6)])
def test_spatial_softmax_kernels(B, C, N):
    """Eqs. 8-9 forward against reference.softmax over the N*N positions; the backward (with and without a direct
    gradient of the map) against the library's NumPy pair, which the spatial-attention tests check against finite
    differences. N = 6 gives 36 positions, more than the 32 that one pass of the backward's channel sum covers."""
    from tinyalstm import reference as ref
    from tinyalstm.kernels.spatial_softmax import spatial_softmax_backward, spatial_softmax_forward
    from tinyalstm.layers.spatial_attention import SoftmaxSaved, spatial_softmax_backward_numpy
    r = np.random.default_rng(N)
    z, x = 3.0 * r.normal(size=(B, N, N)), r.normal(size=(B, C, N, N))
    x_att, a, cache = spatial_softmax_forward(z, x)
    ra = np.stack([ref.softmax(zb.ravel()) for zb in z]).reshape(B, N, N)
    np.testing.assert_allclose(a, ra, rtol=0, atol=1e-12)
    np.testing.assert_allclose(x_att, ra[:, None] * x, rtol=0, atol=1e-12)
    dx_att, da_extra = r.normal(size=x.shape), r.normal(size=(B, N, N))
    for extra in (None, da_extra):
        got = spatial_softmax_backward(dx_att, cache, extra)
        want = spatial_softmax_backward_numpy(dx_att, SoftmaxSaved(x, ra), extra)
        for g, e in zip(got, want):
            np.testing.assert_allclose(g, e, rtol=0, atol=1e-12)


@sim_only
@pytest.mark.parametrize("name,expected_kernels", [
    ("videolstm", {"conv2d_gemm", "lstm_pointwise_forward", "lstm_pointwise_backward", "spatial_softmax_forward",
                   "spatial_softmax_backward"}),
    ("alstm-spatial", {"lstm_pointwise_forward", "lstm_pointwise_backward"})])
def test_models_through_the_kernels(name, expected_kernels, monkeypatch):
    """A whole model with every layer routed through the kernels (the GPU path, here on NumPy arrays in the
    simulator) gives the same loss, parameter and input gradients as the NumPy path. VideoLSTM's layers include
    all of the ConvLSTM's and the ConvALSTM's (conv gates, spatial attention, time-mean initial states); ALSTM runs
    the fully connected LSTM on the pointwise kernel. Every kernel the model should launch is launched (left to
    ``backend.implementation``, NumPy arrays would take the fused CPU path). VideoLSTM at T = 2 takes about 40 s in
    the simulator."""
    from tinyalstm import backend
    from tinyalstm.kernels.launch import LAUNCHES
    from tinyalstm.models import build_model
    B, T, C, N, K = 1, 2, 1, 3, 1
    model = build_model(name, 3, C, K, map_size=N, second_dim=1, fc_dim=3, dropout=0.0, seed=2, dtype=np.float64)
    r = np.random.default_rng(5)
    X, y = r.normal(size=(B, T, C, N, N)), np.array([1])
    M = r.normal(size=(B, T, 1, N, N)) if model.reads_second else None
    loss, grads, dinputs = model.loss_and_input_grads(X, y, M)
    # every array through the kernels and the step-by-step layers, as CuPy arrays go (the one dispatch)
    monkeypatch.setattr(backend, "implementation", lambda arr: backend.KERNELS)
    LAUNCHES.clear()
    kloss, kgrads, kdinputs = model.loss_and_input_grads(X, y, M)
    assert set(LAUNCHES) == expected_kernels, dict(LAUNCHES)
    assert abs(kloss - loss) <= 1e-12
    for key in grads:
        np.testing.assert_allclose(kgrads[key], grads[key], rtol=0, atol=1e-12, err_msg=key)
    for key in dinputs:
        np.testing.assert_allclose(kdinputs[key], dinputs[key], rtol=0, atol=1e-12, err_msg=key)


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
    from tinyalstm.layers.lstm import lstm_cell_backward, lstm_cell_forward
    r = np.random.default_rng(0)
    a, prev_c = 2.0 * r.normal(size=(32, 4 * 512, 7, 7)), r.normal(size=(32, 512, 7, 7))
    dh, dc = r.normal(size=prev_c.shape), r.normal(size=prev_c.shape)
    h, c, cache = lstm_pointwise_forward(cp.asarray(a, cp.float32), cp.asarray(prev_c, cp.float32))
    da, dprev_c = lstm_pointwise_backward(cp.asarray(dh, cp.float32), cp.asarray(dc, cp.float32), cache)
    rh, rc, lib_cache = lstm_cell_forward(a, prev_c)
    rda, rdprev_c = lstm_cell_backward(dh, dc, lib_cache)
    for got, want in [(h, rh), (c, rc), (da, rda), (dprev_c, rdprev_c)]:
        np.testing.assert_allclose(cp.asnumpy(got), want, rtol=1e-5, atol=1e-6)


def _scaled_error(got, want):
    """max |got - want| / max |want|: float32 sums over thousands of terms are judged against the size of the
    result, not element by element (an element that nearly cancels has no meaningful relative error)."""
    cp = _gpu()
    return float(np.abs(cp.asnumpy(got) - want).max() / max(1e-30, np.abs(want).max()))


@pytest.mark.gpu
@pytest.mark.skipif(_gpu() is None, reason="needs CuPy and an NVIDIA GPU")
@pytest.mark.parametrize("B,C,N,K,k", [(32, 512, 7, 2048, 3), (4, 64, 14, 256, 5), (32, 512, 7, 1, 1)])
def test_conv2d_kernels_on_gpu(B, C, N, K, k):
    """The paper's gate convolution (batch 32, 512 -> 4*512 channels, 3x3 on 7x7), a larger map with a 5x5
    kernel, and the 1-channel attention score convolution, in float32 on the GPU, against the library's NumPy
    path in float64. Tolerance 1e-5 of the largest entry: float32 accumulation over C*k*k <= 4608 terms."""
    cp = _gpu()
    from tinyalstm.layers.conv import conv2d_backward as numpy_conv2d_backward
    from tinyalstm.layers.conv import conv2d_forward as numpy_conv2d_forward
    from tinyalstm.kernels.conv2d import conv2d_backward, conv2d_forward
    r = np.random.default_rng(0)
    x, w, b = r.normal(size=(B, C, N, N)), r.normal(size=(K, C, k, k)) / np.sqrt(C * k * k), r.normal(size=K)
    dout = r.normal(size=(B, K, N, N))
    out, cache = conv2d_forward(*(cp.asarray(v, cp.float32) for v in (x, w, b)))
    grads = conv2d_backward(cp.asarray(dout, cp.float32), cache)
    want_out, numpy_cache = numpy_conv2d_forward(x, w, b)
    want = numpy_conv2d_backward(dout, numpy_cache)
    errors = [_scaled_error(out, want_out)] + [_scaled_error(g, e) for g, e in zip(grads, want)]
    print(f"conv2d B={B} C={C} N={N} K={K} k={k}: scaled errors out/dx/dw/db {errors}")
    assert max(errors) <= 1e-5, errors


@pytest.mark.gpu
@pytest.mark.skipif(_gpu() is None, reason="needs CuPy and an NVIDIA GPU")
def test_spatial_softmax_kernels_on_gpu():
    """Batch 32, 512 channels, 7x7 maps, float32, against the NumPy pair in float64."""
    cp = _gpu()
    from tinyalstm.kernels.spatial_softmax import spatial_softmax_backward, spatial_softmax_forward
    from tinyalstm.layers.spatial_attention import SoftmaxSaved, spatial_softmax_backward_numpy
    r = np.random.default_rng(0)
    z, x = 3.0 * r.normal(size=(32, 7, 7)), r.normal(size=(32, 512, 7, 7))
    dx_att, da_extra = r.normal(size=x.shape), r.normal(size=(32, 7, 7))
    x_att, a, cache = spatial_softmax_forward(cp.asarray(z, cp.float32), cp.asarray(x, cp.float32))
    e = np.exp(z - z.max(axis=(1, 2), keepdims=True))
    ra = e / e.sum(axis=(1, 2), keepdims=True)
    got = spatial_softmax_backward(cp.asarray(dx_att, cp.float32), cache, cp.asarray(da_extra, cp.float32))
    want = spatial_softmax_backward_numpy(dx_att, SoftmaxSaved(x, ra), da_extra)
    errors = [_scaled_error(a, ra), _scaled_error(x_att, ra[:, None] * x)] + [
        _scaled_error(g, w) for g, w in zip(got, want)]
    print(f"spatial softmax: scaled errors a/x_att/dz/dx {errors}")
    assert max(errors) <= 1e-5, errors


@pytest.mark.gpu
@pytest.mark.skipif(_gpu() is None, reason="needs CuPy and an NVIDIA GPU")
@pytest.mark.parametrize("name", ["convlstm", "convalstm", "videolstm", "alstm-spatial"])
def test_models_on_gpu(name):
    """Every model's loss and gradients on the GPU (float32, CuPy + our kernels) against the CPU (float64,
    NumPy), at a mid size (batch 4, 8 steps, 64 channels, 7x7, hidden 32). Tolerance 1e-4 of each gradient's
    largest entry: float32 through 8 recurrent steps."""
    from tinyalstm import backend
    from tinyalstm.models import build_model
    B, T, C, N, K = 4, 8, 64, 7, 32
    r = np.random.default_rng(1)
    X, y, M = r.normal(size=(B, T, C, N, N)), r.integers(0, 5, B), r.normal(size=(B, T, 16, N, N))

    def build(dtype):
        return build_model(name, 5, C, K, map_size=N, second_dim=16, fc_dim=64, dropout=0.0, seed=3, dtype=dtype)

    backend.set_device("cpu")
    cpu = build(np.float64)
    loss, grads, _ = cpu.loss_and_input_grads(X, y, M if cpu.reads_second else None)
    backend.set_device("cuda")
    try:
        gpu = build(np.float32)
        assert all(type(v).__module__.startswith("cupy") for v in gpu.params.values())
        gloss, ggrads, _ = gpu.loss_and_input_grads(X, y, M if gpu.reads_second else None)
    finally:
        backend.set_device("cpu")
    assert abs(gloss - loss) <= 1e-4 * abs(loss)
    errors = {key: _scaled_error(ggrads[key], grads[key]) for key in grads}
    print(f"{name} on GPU: loss {gloss:.6f} vs {loss:.6f}, worst gradient {max(errors.items(), key=lambda e: e[1])}")
    assert max(errors.values()) <= 1e-4, errors


@sim_only
def test_kernel_timing_runs_the_pairs_it_names():
    """``python -m tinyalstm.perf.kernels --time`` on a GPU times each kernel against its peer; here the same
    code runs on NumPy arrays in the simulator at a tiny size, so a GPU run does not meet its first error there.
    The figures are not judged (the simulator is not a GPU), only that every pair ran and gave positive times."""
    from tinyalstm.perf.kernels import time_kernels
    rows = time_kernels(np, lambda: None, B=1, C=2, N=3, K=1, k=3, repeats=1, dtype="float64")
    assert [r["kernel"] for r in rows] == ["conv2d_gemm forward", "conv2d_gemm dgrad + wgrad",
                                           "lstm_pointwise_forward", "lstm_pointwise_backward",
                                           "spatial_softmax_forward", "spatial_softmax_backward"]
    assert all(r["ours_ms"] > 0 and r["peer_ms"] > 0 for r in rows)


@pytest.mark.gpu
@pytest.mark.skipif(_gpu() is None, reason="needs CuPy and an NVIDIA GPU")
def test_kernels_follow_cupys_current_stream():
    """The launch path on a real GPU: kernels go on CuPy's current stream, ordered after the CuPy work that made
    their inputs, with no synchronisation in between. On a non-blocking stream, a long matrix product is queued
    first and the kernel's input is made after it: a kernel launched on any other stream would read the input
    before it is written. Then the same on the default stream; each stream has its own launch configuration."""
    cp = _gpu()
    from tinyalstm.kernels.conv2d import GEMM, conv2d_forward
    from tinyalstm.layers.conv import conv2d_forward as numpy_conv2d_forward
    r = np.random.default_rng(4)
    x, w = r.normal(size=(8, 64, 7, 7)), r.normal(size=(256, 64, 3, 3)) / 24
    w2 = r.normal(size=(64, 256, 3, 3)) / 48
    want = numpy_conv2d_forward(2.0 * numpy_conv2d_forward(x + 1.0, w)[0], w2)[0]
    big = cp.ones((8192, 8192), cp.float32)
    gw, gw2 = cp.asarray(w, cp.float32), cp.asarray(w2, cp.float32)
    for stream in (cp.cuda.Stream(non_blocking=True), cp.cuda.Stream.null):
        with stream:
            busy = big @ big                                   # ~ms of work queued ahead on this stream
            gx = cp.asarray(x, cp.float32) + busy[0, 0] * 0 + 1.0
            mid, _ = conv2d_forward(gx, gw)
            out, _ = conv2d_forward(2.0 * mid, gw2)
            got = cp.asnumpy(out)
        assert stream.ptr in {key[3] for key in GEMM._configs}
        assert float(np.abs(got - want).max() / np.abs(want).max()) <= 1e-5
