"""Sharma et al.'s attention penalty: its value by an explicit loop, its gradient against finite differences (a
hypothesis property over shapes), and the whole loss of every spatial attention model with the penalty on,
checked against finite differences with respect to every parameter and input."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyalstm.gradcheck import check_model_loss
from tinyalstm.layers.attention_penalty import attention_penalty_backward, attention_penalty_forward
from tinyalstm.models import build_model

from opcheck import check_op      # forward vs reference/, backward vs finite differences


def _maps(r, B, T, L):
    z = r.normal(size=(B, T, L))
    a = np.exp(z) / np.exp(z).sum(axis=2, keepdims=True)
    return a


def test_value_by_an_explicit_loop():
    a = _maps(np.random.default_rng(0), 2, 3, 4)
    expected = 0.0
    for b in range(2):
        for i in range(4):
            expected += (1.0 - sum(a[b, t, i] for t in range(3))) ** 2
    value, _ = attention_penalty_forward(a, 0.5)
    assert value == pytest.approx(0.5 * expected / 2)
    # an attention that gives every location exactly one unit over time has no penalty (T = L, a permutation)
    perm = np.eye(4)[None, [2, 0, 3, 1]]
    assert attention_penalty_forward(perm, 3.0)[0] == 0.0


@settings(max_examples=25, deadline=None)
@given(B=st.integers(1, 3), T=st.integers(1, 4), N=st.integers(1, 3), seed=st.integers(0, 2 ** 16))
def test_gradient_against_finite_differences(B, T, N, seed):
    r = np.random.default_rng(seed)
    a = _maps(r, B, T, N * N).reshape(B, T, N, N)
    # the penalty is a scalar: its upstream gradient is a random scalar (1.0 in the loss)
    check_op("attention penalty", lambda att: attention_penalty_forward(att, 0.7), attention_penalty_backward,
             {"att": a}, r)


B, T, C, Cm, N, K, NCLS = 2, 2, 2, 2, 3, 2, 3


@pytest.mark.parametrize("name", ["convalstm", "videolstm", "alstm-spatial", "alstm-motion"])
def test_full_loss_gradients_with_the_penalty(name):
    model = build_model(name, NCLS, C, K, map_size=N, second_dim=Cm, fc_dim=4, dropout=0.7, seed=1,
                        dtype=np.float64, attention_penalty=0.8)
    r = np.random.default_rng(2)
    for v in model.params.values():
        v[...] = 0.5 * r.normal(size=v.shape)
    X, y, M = r.normal(size=(B, T, C, N, N)), r.integers(0, NCLS, size=B), r.normal(size=(B, T, Cm, N, N))
    M = M if model.reads_second else None
    check_model_loss(f"{name} with the attention penalty: full loss", model, X, y, M)
    # the penalty is what the option adds: the loss without it plus the penalty of the maps predict returns
    plain = build_model(name, NCLS, C, K, map_size=N, second_dim=Cm, fc_dim=4, dropout=0.7, seed=1,
                        dtype=np.float64)
    plain.params = {k: v.copy() for k, v in model.params.items()}
    _, att = model.predict(X, M)
    a = att.reshape(B, T, -1)
    by_hand = 0.8 * ((1 - a.sum(axis=1)) ** 2).sum() / B
    assert model.loss(X, y, M)[0] == pytest.approx(plain.loss(X, y, M)[0] + by_hand, rel=1e-12)


def test_bad_penalty_and_models_without_spatial_attention():
    with pytest.raises(ValueError, match="attention_penalty: expected alpha_c >= 0"):
        build_model("convalstm", NCLS, C, K, map_size=N, attention_penalty=-1.0)
    with pytest.raises(TypeError, match="no option attention_penalty"):
        build_model("convlstm", NCLS, C, K, map_size=N, attention_penalty=1.0)
