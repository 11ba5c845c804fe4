"""Stride-1 "same" convolution, ReLU and 2x2 max-pooling: library vs reference/ (float64) and finite
differences, with hypothesis drawing batch, channels, map sizes 1..5 and odd kernel sizes 1..5."""
import numpy as np
from hypothesis import given, strategies as st

from tinyalstm import reference as ref
from tinyalstm.gradcheck import REF_TOL, check_gradients, rel_error
from tinyalstm.layers.conv import (conv2d_backward, conv2d_forward, maxpool2x2_backward, maxpool2x2_forward,
                                   relu_backward, relu_forward)


small = st.integers(1, 3)
maps = st.integers(1, 5)
odd = st.sampled_from([1, 3, 5])


@given(B=small, C=small, K=small, H=maps, W=maps, kh=odd, kw=odd, seed=st.integers(0, 2**31))
def test_conv2d(B, C, K, H, W, kh, kw, seed):
    r = np.random.default_rng(seed)
    x, w, b = r.normal(size=(B, C, H, W)), r.normal(size=(K, C, kh, kw)), r.normal(size=K)
    out, cache = conv2d_forward(x, w, b)
    assert out.shape == (B, K, H, W)
    assert rel_error(out, ref.conv2d(x, w, b)) <= REF_TOL
    dout = r.normal(size=out.shape)
    grads = dict(zip("xwb", conv2d_backward(dout, cache)))
    check_gradients("conv2d", lambda: conv2d_forward(x, w, b)[0], {"x": x, "w": w, "b": b}, grads, dout)


def test_conv2d_without_bias_is_a_zero_bias_and_has_no_bias_gradient():
    r = np.random.default_rng(3)
    x, w = r.normal(size=(2, 3, 4, 5)), r.normal(size=(4, 3, 3, 3))
    out, cache = conv2d_forward(x, w)
    assert rel_error(out, ref.conv2d(x, w, np.zeros(4))) <= REF_TOL
    dout = r.normal(size=out.shape)
    dx, dw, db = conv2d_backward(dout, cache)
    assert db is None
    check_gradients("conv2d without bias", lambda: conv2d_forward(x, w)[0], {"x": x, "w": w},
                    {"x": dx, "w": dw}, dout)


def test_conv2d_shifts_with_an_off_centre_kernel():
    # a single 1 at kernel position (0, 0) reads the pixel up-left of each output: the image moves down-right
    x = np.arange(12.0).reshape(1, 1, 3, 4)
    w = np.zeros((1, 1, 3, 3))
    w[0, 0, 0, 0] = 1.0
    out, _ = conv2d_forward(x, w, np.zeros(1))
    np.testing.assert_array_equal(out[0, 0], [[0, 0, 0, 0], [0, 0, 1, 2], [0, 4, 5, 6]])


@given(shape=st.tuples(small, small, maps, maps), seed=st.integers(0, 2**31))
def test_relu(shape, seed):
    r = np.random.default_rng(seed)
    x = r.normal(size=shape)
    x[np.abs(x) < 1e-3] = 0.5            # keep finite differences away from the kink at 0
    out, cache = relu_forward(x)
    assert rel_error(out, ref.relu(x)) <= REF_TOL
    dout = r.normal(size=shape)
    check_gradients("relu", lambda: relu_forward(x)[0], {"x": x}, {"x": relu_backward(dout, cache)}, dout)


@given(B=small, C=small, H=st.integers(2, 7), W=st.integers(2, 7), seed=st.integers(0, 2**31))
def test_maxpool2x2(B, C, H, W, seed):
    r = np.random.default_rng(seed)
    x = r.normal(size=(B, C, H, W))      # continuous values: no ties, so the max is differentiable
    out, cache = maxpool2x2_forward(x)
    assert out.shape == (B, C, H // 2, W // 2)
    assert rel_error(out, ref.maxpool2x2(x)) <= REF_TOL
    dout = r.normal(size=out.shape)
    check_gradients("maxpool2x2", lambda: maxpool2x2_forward(x)[0], {"x": x},
                    {"x": maxpool2x2_backward(dout, cache)}, dout)
