"""Sharma's soft-attention LSTM (VideoLSTM's ALSTM baseline): attention over the N*N locations from h_{t-1},
context = weighted sum, fully connected gates. Checked against reference/ (temporal attention over locations
composed with the LSTM step on the context) and finite differences."""
import numpy as np
from hypothesis import given, strategies as st

from tinyalstm import reference as ref
from tinyalstm.gradcheck import REF_TOL, rel_error
from tinyalstm.layers.sharma_alstm import soft_attention_lstm_backward, soft_attention_lstm_forward

from opcheck import check_op      # forward vs reference/, backward vs finite differences


small = st.integers(1, 3)


@given(B=small, T=small, n=st.integers(1, 3), D=small, H=small, M=small, seed=st.integers(0, 2**31))
def test_soft_attention_lstm(B, T, n, D, H, M, seed):
    r = np.random.default_rng(seed)
    L = n * n
    x, h0, c0 = r.normal(size=(B, T, L, D)), r.normal(size=(B, H)), r.normal(size=(B, H))
    p = [0.5 * r.normal(size=(D, 4 * H)), 0.5 * r.normal(size=(H, 4 * H)), r.normal(size=4 * H),
         r.normal(size=(H, M)), r.normal(size=(D, M)), r.normal(size=M), r.normal(size=M)]
    h, w, _ = soft_attention_lstm_forward(x, h0, c0, *p)
    rh, rc = h0, c0
    Wk, Wh, b, Wah, Waa, ba, u = p
    for t in range(T):
        # attention over the locations, then an LSTM step whose only input is the context
        rk, rw = ref.temporal_attention(rh, x[:, t], Wah, Waa, ba, u)
        rh, rc = ref.lstm_step(rk, rh, rc, Wk, Wh, b)
        assert rel_error(h[:, t], rh) <= REF_TOL and rel_error(w[:, t], rw) <= REF_TOL
    names = ["x", "h0", "c0", "Wk", "Wh", "b", "Wah", "Waa", "ba", "u"]
    check_op("soft_attention_lstm (Sharma ALSTM)", soft_attention_lstm_forward, soft_attention_lstm_backward,
             dict(zip(names, [x, h0, c0, *p])), r)
