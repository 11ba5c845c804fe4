"""The LSTM of aLSTM eqs. 7-12: one step, the whole sequence with BPTT, and the initial state from the attended
data; library vs reference/, finite differences, step-by-step equals the sequence path."""
import numpy as np
from hypothesis import given, strategies as st

from tinyalstm import reference as ref
from tinyalstm.gradcheck import REF_TOL, check_gradients, rel_error
from tinyalstm.layers.lstm import (initial_state_backward, initial_state_forward, lstm_backward, lstm_forward,
                                   lstm_step_backward, lstm_step_forward)

from opcheck import check_op      # forward vs reference/, backward vs finite differences


dims = st.integers(1, 4)


def _weights(r, D, H, scale=0.5):
    return scale * r.normal(size=(D, 4 * H)), scale * r.normal(size=(H, 4 * H)), scale * r.normal(size=4 * H)


@given(B=dims, D=dims, H=dims, seed=st.integers(0, 2**31))
def test_lstm_step(B, D, H, seed):
    r = np.random.default_rng(seed)
    x, h, c = r.normal(size=(B, D)), r.normal(size=(B, H)), r.normal(size=(B, H))
    Wx, Wh, b = _weights(r, D, H)
    # both outputs at once (outputs=2): sum(next_h * dnh + next_c * dnc)
    check_op("lstm_step (eqs. 7-12)", lstm_step_forward, lstm_step_backward,
             {"x": x, "prev_h": h, "prev_c": c, "Wx": Wx, "Wh": Wh, "b": b}, r, reference=ref.lstm_step, outputs=2)


def test_gate_order_is_i_f_o_g():
    # Only the forget gate open and the input gate shut: the cell keeps c0 exactly; the output gate then scales
    # tanh(c). Biases large enough to saturate the sigmoids to 1 or 0 in float64.
    H, big = 3, 40.0
    b = np.concatenate([-big * np.ones(H), big * np.ones(H), big * np.ones(H), np.zeros(H)])  # i, f, o, g
    c0 = np.array([[0.3, -0.2, 0.9]])
    h, c, _ = lstm_step_forward(np.zeros((1, 2)), np.zeros((1, H)), c0, np.zeros((2, 4 * H)),
                                np.zeros((H, 4 * H)), b)
    np.testing.assert_allclose(c, c0, atol=1e-15)
    np.testing.assert_allclose(h, np.tanh(c0), atol=1e-15)


@given(B=dims, N=dims, D=dims, H=dims, seed=st.integers(0, 2**31))
def test_lstm_sequence(B, N, D, H, seed):
    r = np.random.default_rng(seed)
    x, h0, c0 = r.normal(size=(B, N, D)), r.normal(size=(B, H)), r.normal(size=(B, H))
    Wx, Wh, b = _weights(r, D, H)
    h, c, cache = lstm_forward(x, h0, c0, Wx, Wh, b)
    rh, rc = ref.lstm(x, h0, c0, Wx, Wh, b)
    assert rel_error(h, rh) <= REF_TOL and rel_error(c, rc) <= REF_TOL

    # step by step equals the sequence path, forward and backward
    dh, dc_last = r.normal(size=(B, N, H)), r.normal(size=(B, H))
    steps, ph, pc = [], h0, c0
    for t in range(N):
        ph, pc, sc = lstm_step_forward(x[:, t], ph, pc, Wx, Wh, b)
        assert rel_error(ph, h[:, t]) <= REF_TOL
        steps.append(sc)
    seq = lstm_backward(dh, cache, dc_last)
    dprev_h, dprev_c = np.zeros((B, H)), dc_last
    acc = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
    dx = np.zeros_like(x)
    for t in reversed(range(N)):
        dx[:, t], dprev_h, dprev_c, *dw = lstm_step_backward(dh[:, t] + dprev_h, dprev_c, steps[t])
        acc = [a + g for a, g in zip(acc, dw)]
    for got, want in zip(seq, [dx, dprev_h, dprev_c, *acc]):
        assert rel_error(got, want) <= REF_TOL

    grads = dict(zip(["x", "h0", "c0", "Wx", "Wh", "b"], lstm_backward(dh, cache)))
    check_gradients("lstm sequence (BPTT)", lambda: lstm_forward(x, h0, c0, Wx, Wh, b)[0],
                    {"x": x, "h0": h0, "c0": c0, "Wx": Wx, "Wh": Wh, "b": b}, grads, dh)


@given(B=dims, T=dims, da=dims, H=dims, seed=st.integers(0, 2**31))
def test_initial_state(B, T, da, H, seed):
    r = np.random.default_rng(seed)
    A = r.normal(size=(B, T, da))
    Wh0, bh0, Wc0, bc0 = r.normal(size=(da, H)), r.normal(size=H), r.normal(size=(da, H)), r.normal(size=H)
    check_op("initial_state (mean of A)", initial_state_forward, initial_state_backward,
             {"A": A, "W_h0": Wh0, "b_h0": bh0, "W_c0": Wc0, "b_c0": bc0}, r, reference=ref.initial_state, outputs=2)
