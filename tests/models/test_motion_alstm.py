"""Sharma's ALSTM with motion-based attention (VideoLSTM Table 2, ALSTM row), the fully connected analogue of
VideoLSTM's motion attention: a flow LSTM over [m_t; h_{t-1}] (eqs. 10-15 analogue), attention over the N*N
locations from its *current* state hm_t (eqs. 7-9 analogue), the top LSTM on the context (eqs. 1-6 analogue).

Checked by finite differences (the recurrence and the whole MotionALSTM loss) and against a plain NumPy loop of the
three equations written here, independently of the library."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinyalstm.gradcheck import REF_TOL, check_model_loss, rel_error
from tinyalstm.layers.sharma_alstm import (motion_soft_attention_lstm_backward, motion_soft_attention_lstm_forward,
                                           motion_soft_attention_lstm_step_forward)
from tinyalstm.models import MotionALSTM

from opcheck import check_op      # forward vs reference/, backward vs finite differences

small = st.integers(1, 2)


# -- an independent plain-NumPy version of the three equations (float64, loops, no library code) ----------------
def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def _lstm(inp, h, c, Wx, Wh, b):
    """gates = inp Wx + h Wh + b, order i, f, o, g."""
    a = inp @ Wx + h @ Wh + b
    H = h.shape[1]
    i, f, o, g = _sig(a[:, :H]), _sig(a[:, H:2 * H]), _sig(a[:, 2 * H:3 * H]), np.tanh(a[:, 3 * H:])
    c = f * c + i * g
    return o * np.tanh(c), c


def _attend(hm, x, Wah, Waa, ba, u):
    """w_l = softmax_l(u . tanh(hm Wah + x_l Waa + ba)); k = sum_l w_l x_l.  x (B, L, D), l = loc."""
    B, L, _ = x.shape
    s = np.empty((B, L))
    for loc in range(L):
        s[:, loc] = np.tanh(hm @ Wah + x[:, loc] @ Waa + ba) @ u
    e = np.exp(s - s.max(axis=1, keepdims=True))
    w = e / e.sum(axis=1, keepdims=True)
    k = sum(w[:, loc, None] * x[:, loc] for loc in range(L))
    return k, w


def _recurrence(x, m, h, c, hm, cm, Wk, Wh, b, Wmx, Wmh, bm, Wah, Waa, ba, u):
    """x (B, T, L, D), m (B, T, Cm) -> h (B, T, H), hm (B, T, Hm), w (B, T, L)."""
    hs, hms, ws = [], [], []
    for t in range(x.shape[1]):
        hm, cm = _lstm(np.concatenate([m[:, t], h], axis=1), hm, cm, Wmx, Wmh, bm)   # 1. flow LSTM
        k, w = _attend(hm, x[:, t], Wah, Waa, ba, u)                                  # 2. attention from hm_t
        h, c = _lstm(k, h, c, Wk, Wh, b)                                              # 3. top LSTM on k_t
        hs.append(h)
        hms.append(hm)
        ws.append(w)
    return np.stack(hs, 1), np.stack(hms, 1), np.stack(ws, 1)


def _model_by_hand(p, X, M):
    """MotionALSTM.predict written out: -> probabilities (B, n_classes), attention (B, T, N, N)."""
    B, T, C, N, _ = X.shape
    loc = np.empty((B, T, N * N, C))
    for i in range(N):
        for j in range(N):
            loc[:, :, i * N + j] = X[:, :, :, i, j]                 # location l = i*N + j, row-major
    m = M.mean(axis=(3, 4))
    xbar = loc.mean(axis=(1, 2))
    h0, c0 = np.tanh(xbar @ p["W_h0"] + p["b_h0"]), np.tanh(xbar @ p["W_c0"] + p["b_c0"])
    mbar = m.mean(axis=1)
    hm0, cm0 = np.tanh(mbar @ p["W_hm0"] + p["b_hm0"]), np.tanh(mbar @ p["W_cm0"] + p["b_cm0"])
    h, _, w = _recurrence(loc, m, h0, c0, hm0, cm0, *(p[k] for k in
                                                       ("Wk", "Wh", "b", "Wmx", "Wmh", "bm", "Wah", "Waa", "ba", "u")))
    probs = np.zeros((B, p["by"].size))
    for t in range(T):
        s = np.tanh(h[:, t] @ p["W_fc"] + p["b_fc"]) @ p["Wy"] + p["by"]
        e = np.exp(s - s.max(axis=1, keepdims=True))
        probs += e / e.sum(axis=1, keepdims=True) / T
    return probs, w.reshape(B, T, N, N)


def _weights(r, D, Cm, H, Hm, M):
    top = (0.5 * r.normal(size=(D, 4 * H)), 0.5 * r.normal(size=(H, 4 * H)), r.normal(size=4 * H))
    flow = (0.5 * r.normal(size=(Cm + H, 4 * Hm)), 0.5 * r.normal(size=(Hm, 4 * Hm)), r.normal(size=4 * Hm))
    att = (r.normal(size=(Hm, M)), r.normal(size=(D, M)), r.normal(size=M), r.normal(size=M))
    return top, flow, att


# -- (a) the recurrence: finite differences, and the sequence path equals the step function looped -------------
@settings(max_examples=8)
@given(B=small, T=st.integers(1, 3), n=st.integers(1, 3), D=small, Cm=small, H=small, Hm=small, M=small,
       seed=st.integers(0, 2**31))
def test_motion_soft_attention_lstm_gradients(B, T, n, D, Cm, H, Hm, M, seed):
    r = np.random.default_rng(seed)
    x, m = r.normal(size=(B, T, n * n, D)), r.normal(size=(B, T, Cm))
    h0, c0, hm0, cm0 = r.normal(size=(B, H)), r.normal(size=(B, H)), r.normal(size=(B, Hm)), r.normal(size=(B, Hm))
    top, flow, att = _weights(r, D, Cm, H, Hm, M)
    h, w, _ = motion_soft_attention_lstm_forward(x, m, h0, c0, hm0, cm0, *top, *flow, *att)

    state = (h0, c0, hm0, cm0)
    for t in range(T):
        *state, w_t, _ = motion_soft_attention_lstm_step_forward(x[:, t], m[:, t], *state, *top, *flow, *att)
        assert rel_error(h[:, t], state[0]) <= REF_TOL and rel_error(w[:, t], w_t) <= REF_TOL

    names = ["x", "m", "h0", "c0", "hm0", "cm0", "Wk", "Wh", "b", "Wmx", "Wmh", "bm", "Wah", "Waa", "ba", "u"]
    check_op("motion soft-attention LSTM (ALSTM, Table 2)", motion_soft_attention_lstm_forward,
             motion_soft_attention_lstm_backward, dict(zip(names, [x, m, h0, c0, hm0, cm0, *top, *flow, *att])), r)


# -- (b) the whole model: full loss gradient wrt every parameter and X, M, head dropout off and on --------------
B, T, C, Cm, N, K, NCLS = 2, 2, 2, 2, 3, 2, 3


def _model(dropout, seed=1):
    return MotionALSTM(C, Cm, N, K, NCLS, flow_hidden=3, att_dim=2, fc_dim=4, dropout=dropout, seed=seed,
                       dtype=np.float64)


def _data(seed=0):
    r = np.random.default_rng(seed)
    return r.normal(size=(B, T, C, N, N)), r.integers(0, NCLS, size=B), r.normal(size=(B, T, Cm, N, N))


def _generic(model, seed=2):
    r = np.random.default_rng(seed)
    for v in model.params.values():       # zero biases at init: give every parameter a generic value
        v[...] = 0.5 * r.normal(size=v.shape)
    return model


@pytest.mark.parametrize("dropout", [0.0, 0.7])
def test_full_loss_gradients(dropout):
    model = _generic(_model(dropout))
    X, y, M = _data()
    _, _, dinputs = model.loss_and_input_grads(X, y, M, rng=np.random.default_rng(3))
    assert set(dinputs) == {"X", "M"} and dinputs["M"].shape == M.shape
    check_model_loss(f"video model motion-alstm (dropout {dropout}): full loss", model, X, y, M)


# -- (c) independent checks: a plain NumPy loop of the equations; what M can and cannot change -----------------
def test_recurrence_equals_plain_numpy():
    r = np.random.default_rng(4)
    Bx, Tx, L, D, Cmx, H, Hm, Ma = 2, 4, 4, 3, 2, 3, 2, 3
    x = r.normal(size=(Bx, Tx, L, D))
    h0, c0, hm0, cm0 = r.normal(size=(Bx, H)), r.normal(size=(Bx, H)), r.normal(size=(Bx, Hm)), r.normal(size=(Bx, Hm))
    top, flow, att = _weights(r, D, Cmx, H, Hm, Ma)
    ws = []
    for m in (r.normal(size=(Bx, Tx, Cmx)), 3.0 * r.normal(size=(Bx, Tx, Cmx))):
        h, w, _ = motion_soft_attention_lstm_forward(x, m, h0, c0, hm0, cm0, *top, *flow, *att)
        rh, _, rw = _recurrence(x, m, h0, c0, hm0, cm0, *top, *flow, *att)
        assert rel_error(h, rh) <= REF_TOL and rel_error(w, rw) <= REF_TOL
        ws.append(w)
    # the flow drives the attention: another m gives other weights (same x, same weights)
    assert np.abs(ws[0] - ws[1]).max() > 1e-2


def test_model_equals_plain_numpy_and_reads_only_the_pooled_flow():
    model = _generic(_model(0.7))
    X, _, M = _data()
    probs, att = model.predict(X, M)
    rprobs, ratt = _model_by_hand(model.params, X, M)
    assert rel_error(probs, rprobs) <= REF_TOL and rel_error(att, ratt) <= REF_TOL
    np.testing.assert_allclose(att.sum(axis=(2, 3)), 1.0, rtol=1e-12)

    # a zero-mean spatial pattern added to M leaves the pooled flow, hence everything, unchanged
    pattern = np.random.default_rng(5).normal(size=(B, T, Cm, N, N))
    M_same_mean = M + (pattern - pattern.mean(axis=(3, 4), keepdims=True))
    probs2, att2 = model.predict(X, M_same_mean)
    assert rel_error(probs2, probs) <= REF_TOL and rel_error(att2, att) <= REF_TOL

    # a different pooled flow changes the attention, and the model still matches the plain loop
    M_other = M + np.random.default_rng(6).normal(size=(B, T, Cm, 1, 1))
    probs3, att3 = model.predict(X, M_other)
    rprobs3, ratt3 = _model_by_hand(model.params, X, M_other)
    assert rel_error(probs3, rprobs3) <= REF_TOL and rel_error(att3, ratt3) <= REF_TOL
    assert np.abs(att3 - att).max() > 1e-3


def test_flow_maps_are_required_and_validated():
    X, y, M = _data()
    model = _model(0.7)
    with pytest.raises(ValueError, match="M: MotionALSTM needs flow maps"):
        model.loss(X, y, None)
    with pytest.raises(ValueError, match=r"M: expected size 2 on axis 2, got shape \(2, 2, 5, 3, 3\)"):
        model.loss(X, y, np.zeros((B, T, 5, N, N)))
    with pytest.raises(ValueError, match=r"M: expected batch and time \(2, 2\) like X"):
        model.loss(X, y, np.zeros((B, T + 1, Cm, N, N)))
