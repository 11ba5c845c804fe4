"""ConvLSTM (VideoLSTM eqs. 1-6): library vs reference/, finite differences, step-by-step equals the sequence
path; hypothesis draws kernel size 1 or 3 and map sizes 1..5."""
import numpy as np
from hypothesis import given, strategies as st

from tinyalstm import reference as ref
from tinyalstm.gradcheck import REF_TOL, check_gradients, rel_error
from tinyalstm.layers.conv_lstm import (conv_lstm_backward, conv_lstm_forward, conv_lstm_step_backward,
                                        conv_lstm_step_forward)

from opcheck import check_op      # forward vs reference/, backward vs finite differences


small = st.integers(1, 2)


def _setup(r, B, T, C, K, n, k):
    x = r.normal(size=(B, T, C, n, n))
    h0, c0 = r.normal(size=(B, K, n, n)), r.normal(size=(B, K, n, n))
    s = 0.5 / k
    return x, h0, c0, s * r.normal(size=(4 * K, C, k, k)), s * r.normal(size=(4 * K, K, k, k)), r.normal(size=4 * K)


@given(B=small, C=small, K=small, n=st.integers(1, 5), k=st.sampled_from([1, 3]), seed=st.integers(0, 2**31))
def test_conv_lstm_step(B, C, K, n, k, seed):
    r = np.random.default_rng(seed)
    x, h, c, Wx, Wh, b = _setup(r, B, 1, C, K, n, k)
    check_op("conv_lstm_step (VideoLSTM eqs. 1-6)", conv_lstm_step_forward, conv_lstm_step_backward,
             {"x": x[:, 0], "prev_h": h, "prev_c": c, "Wx": Wx, "Wh": Wh, "b": b}, r, reference=ref.conv_lstm_step,
             outputs=2)


@given(B=small, T=st.integers(1, 3), C=small, K=small, n=st.integers(1, 4), k=st.sampled_from([1, 3]),
       seed=st.integers(0, 2**31))
def test_conv_lstm_sequence(B, T, C, K, n, k, seed):
    r = np.random.default_rng(seed)
    x, h0, c0, Wx, Wh, b = _setup(r, B, T, C, K, n, k)
    h, c, cache = conv_lstm_forward(x, h0, c0, Wx, Wh, b)
    rh, rc = ref.conv_lstm(x, h0, c0, Wx, Wh, b)
    assert rel_error(h, rh) <= REF_TOL and rel_error(c, rc) <= REF_TOL

    dh, dc_last = r.normal(size=h.shape), r.normal(size=h0.shape)
    steps, ph, pc = [], h0, c0
    for t in range(T):
        ph, pc, sc = conv_lstm_step_forward(x[:, t], ph, pc, Wx, Wh, b)
        steps.append(sc)
    dprev_h, dprev_c = np.zeros_like(h0), dc_last
    dx, acc = np.zeros_like(x), [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
    for t in reversed(range(T)):
        dx[:, t], dprev_h, dprev_c, *dw = conv_lstm_step_backward(dh[:, t] + dprev_h, dprev_c, steps[t])
        acc = [a + g for a, g in zip(acc, dw)]
    for got, want in zip(conv_lstm_backward(dh, cache, dc_last), [dx, dprev_h, dprev_c, *acc]):
        assert rel_error(got, want) <= REF_TOL

    grads = dict(zip(["x", "h0", "c0", "Wx", "Wh", "b"], conv_lstm_backward(dh, cache)))
    check_gradients("conv_lstm sequence (BPTT)", lambda: conv_lstm_forward(x, h0, c0, Wx, Wh, b)[0],
                    {"x": x, "h0": h0, "c0": c0, "Wx": Wx, "Wh": Wh, "b": b}, grads, dh)


@given(B=small, T=st.integers(1, 3), C=small, K=small, n=st.integers(1, 4), k=st.sampled_from([1, 3]),
       ka=st.sampled_from([1, 3]), seed=st.integers(0, 2**31))
def test_conv_alstm_sequence(B, T, C, K, n, k, ka, seed):
    """ConvALSTM (eqs. 7-9 then 1-6): the sequence path equals the reference composed step by step, and its BPTT
    matches finite differences of the whole recurrence."""
    from tinyalstm.layers.conv_alstm import conv_alstm_backward, conv_alstm_forward
    r = np.random.default_rng(seed)
    x, h0, c0, Wx, Wh, b = _setup(r, B, T, C, K, n, k)
    Ka = 2
    att = [r.normal(size=(Ka, C, ka, ka)), r.normal(size=(Ka, K, ka, ka)), r.normal(size=Ka),
           r.normal(size=(1, Ka, ka, ka))]
    h, a, _ = conv_alstm_forward(x, h0, c0, Wx, Wh, b, *att)
    rh, rc = h0, c0
    for t in range(T):
        x_att, ra = ref.spatial_attention(x[:, t], rh, *att)
        rh, rc = ref.conv_lstm_step(x_att, rh, rc, Wx, Wh, b)
        assert rel_error(h[:, t], rh) <= REF_TOL and rel_error(a[:, t], ra) <= REF_TOL
    names = ["x", "h0", "c0", "Wx", "Wh", "b", "Wxa", "Wha", "ba", "Wz"]
    check_op("conv_alstm sequence (BPTT)", conv_alstm_forward, conv_alstm_backward,
             dict(zip(names, [x, h0, c0, Wx, Wh, b, *att])), r)
