"""Stride-1 "same" convolution, ReLU and 2x2 max-pooling: library vs reference/ (float64) and finite
differences, with hypothesis drawing batch, channels, map sizes 1..5 and odd kernel sizes 1..5."""
import numpy as np
from hypothesis import given, strategies as st

from tinyalstm import reference as ref
from tinyalstm.layers.conv import (conv2d_backward, conv2d_forward, maxpool2x2_backward, maxpool2x2_forward,
                                   relu_backward, relu_forward)

from opcheck import check_op      # forward vs reference/, backward vs finite differences


small = st.integers(1, 3)
maps = st.integers(1, 5)
odd = st.sampled_from([1, 3, 5])


@given(B=small, C=small, K=small, H=maps, W=maps, kh=odd, kw=odd, seed=st.integers(0, 2**31))
def test_conv2d(B, C, K, H, W, kh, kw, seed):
    r = np.random.default_rng(seed)
    x, w, b = r.normal(size=(B, C, H, W)), r.normal(size=(K, C, kh, kw)), r.normal(size=K)
    assert conv2d_forward(x, w, b)[0].shape == (B, K, H, W)
    check_op("conv2d", conv2d_forward, conv2d_backward, {"x": x, "w": w, "b": b}, r, reference=ref.conv2d)


def test_conv2d_without_bias_is_a_zero_bias_and_has_no_bias_gradient():
    r = np.random.default_rng(3)
    x, w = r.normal(size=(2, 3, 4, 5)), r.normal(size=(4, 3, 3, 3))
    grads = check_op("conv2d without bias", conv2d_forward, conv2d_backward, {"x": x, "w": w}, r,
                     reference=lambda x, w: ref.conv2d(x, w, np.zeros(4)), grad_names=["x", "w", "b"])
    assert grads["b"] is None


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
    check_op("relu", relu_forward, relu_backward, {"x": x}, r, reference=ref.relu)


@given(B=small, C=small, H=st.integers(2, 7), W=st.integers(2, 7), seed=st.integers(0, 2**31))
def test_maxpool2x2(B, C, H, W, seed):
    r = np.random.default_rng(seed)
    x = r.normal(size=(B, C, H, W))      # continuous values: no ties, so the max is differentiable
    assert maxpool2x2_forward(x)[0].shape == (B, C, H // 2, W // 2)
    check_op("maxpool2x2", maxpool2x2_forward, maxpool2x2_backward, {"x": x}, r, reference=ref.maxpool2x2)
