"""Affine, sigmoid, tanh, the sigmoid input layer, dropout and the per-step softmax and multi-label losses:
library vs reference/ (float64) and hand-written backward vs finite differences, shapes drawn by hypothesis."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from tinyalstm import reference as ref
from tinyalstm.gradcheck import REF_TOL, numeric_gradient, record, rel_error
from tinyalstm.layers.feedforward import (affine_backward, affine_forward, dropout_backward, dropout_forward,
                                          dropout_mask, sigmoid_backward, sigmoid_forward, sigmoid_input_backward,
                                          sigmoid_input_forward, stepwise_sigmoid_loss, stepwise_softmax_loss,
                                          tanh_backward, tanh_forward)

from opcheck import check_op      # forward vs reference/, backward vs finite differences


dims = st.integers(1, 4)
scales = st.sampled_from([0.3, 1.0, 3.0])


@given(B=dims, N=dims, D=dims, M=dims, scale=scales, seed=st.integers(0, 2**31))
def test_affine(B, N, D, M, scale, seed):
    r = np.random.default_rng(seed)
    x, w, b = scale * r.normal(size=(B, N, D)), r.normal(size=(D, M)), r.normal(size=M)
    assert affine_forward(x, w, b)[0].shape == (B, N, M)
    check_op("affine", affine_forward, affine_backward, {"x": x, "w": w, "b": b}, r, reference=ref.affine)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
@given(shape=st.lists(dims, min_size=1, max_size=3), scale=scales, seed=st.integers(0, 2**31))
def test_elementwise(name, shape, scale, seed):
    fwd, bwd = {"sigmoid": (sigmoid_forward, sigmoid_backward), "tanh": (tanh_forward, tanh_backward)}[name]
    r = np.random.default_rng(seed)
    x = scale * r.normal(size=shape)
    check_op(name, fwd, bwd, {"x": x}, r, reference=getattr(ref, name))


def test_sigmoid_saturates_without_overflow():
    with np.errstate(over="raise"):
        out, _ = sigmoid_forward(np.array([-1000.0, 0.0, 1000.0]))
    assert out.tolist() == [0.0, 0.5, 1.0]


@given(B=dims, N=dims, dv=dims, seed=st.integers(0, 2**31))
def test_sigmoid_input_layer(B, N, dv, seed):
    r = np.random.default_rng(seed)
    V, W, b = r.normal(size=(B, N, dv)), r.normal(size=(dv, dv)), r.normal(size=dv)
    check_op("sigmoid_input (sec. 4.1)", sigmoid_input_forward, sigmoid_input_backward,
             {"V": V, "W_in": W, "b_in": b}, r, reference=ref.sigmoid_input_layer)


@given(shape=st.lists(dims, min_size=1, max_size=3), p=st.sampled_from([0.2, 0.5, 0.7]),
       seed=st.integers(0, 2**31))
def test_dropout_with_fixed_mask(shape, p, seed):
    r = np.random.default_rng(seed)
    x = r.normal(size=shape)
    mask = dropout_mask(x.shape, p, np.random.default_rng(seed), x.dtype)
    assert set(np.unique(mask)) <= {0.0, 1.0}
    check_op("dropout (fixed mask)", lambda x: dropout_forward(x, p, mask), dropout_backward, {"x": x}, r,
             reference=lambda x: ref.dropout(x, p, mask))


def test_dropout_mask_rate_and_identity_at_eval():
    x = np.ones((200, 500))
    mask = dropout_mask(x.shape, 0.7, np.random.default_rng(1), x.dtype)
    assert abs(mask.mean() - 0.3) < 0.005           # 100k Bernoulli(0.3) draws: std 0.0014
    out, _ = dropout_forward(x, 0.7, mask)
    assert abs(out.mean() - 1.0) < 0.02             # inverted dropout keeps the expectation
    out, cache = dropout_forward(x, 0.7, None)
    assert out is x and dropout_backward(x, cache) is x


@given(B=dims, N=dims, C=st.integers(2, 5), scale=scales, seed=st.integers(0, 2**31))
def test_stepwise_softmax_loss(B, N, C, scale, seed):
    r = np.random.default_rng(seed)
    s, y = scale * r.normal(size=(B, N, C)), r.integers(0, C, size=B)
    loss, ds = stepwise_softmax_loss(s, y)
    assert abs(loss - ref.stepwise_cross_entropy(s, y)) <= REF_TOL * max(1.0, loss)
    num = numeric_gradient(lambda: stepwise_softmax_loss(s, y)[0], s)
    record("stepwise_softmax_loss (eq. 13)", rel_error(num, ds))


def test_softmax_loss_of_uniform_scores_is_log_c():
    loss, _ = stepwise_softmax_loss(np.zeros((3, 4, 7)), np.array([0, 3, 6]))
    assert abs(loss - np.log(7)) < 1e-12


@given(B=dims, N=dims, C=st.integers(1, 5), scale=scales, seed=st.integers(0, 2**31))
def test_stepwise_sigmoid_loss(B, N, C, scale, seed):
    r = np.random.default_rng(seed)
    s, Y = scale * r.normal(size=(B, N, C)), r.integers(0, 2, size=(B, C))
    loss, ds = stepwise_sigmoid_loss(s, Y)
    assert abs(loss - ref.stepwise_sigmoid_cross_entropy(s, Y)) <= REF_TOL * max(1.0, loss)
    num = numeric_gradient(lambda: stepwise_sigmoid_loss(s, Y)[0], s)
    record("stepwise_sigmoid_loss (multi-label)", rel_error(num, ds))


def test_sigmoid_loss_by_hand_and_at_large_scores():
    loss, ds = stepwise_sigmoid_loss(np.zeros((2, 3, 4)), np.array([[1, 0, 0, 1], [0, 0, 0, 0]]))
    assert abs(loss - 4 * np.log(2)) < 1e-12                    # every class at p = 1/2: log 2 each, 4 classes
    np.testing.assert_allclose(ds[0, 0], np.array([-0.5, 0.5, 0.5, -0.5]) / 6)
    loss, ds = stepwise_sigmoid_loss(np.array([[[800.0, -800.0]]]), np.array([[1, 0]]))
    assert loss == 0.0 and np.all(np.isfinite(ds))              # no overflow where exp(800) would
    loss, _ = stepwise_sigmoid_loss(np.array([[[800.0]]]), np.array([[0]]))
    assert loss == 800.0                                        # the wrong label costs |s|, exactly
