"""Motion-based attention / the VideoLSTM recurrence (eqs. 10-15, 7-9, 1-6): the sequence path equals the
reference composed step by step (flow layer with its own W^m_e term, attention from the flow layer's *current*
state), and its BPTT matches finite differences."""
import numpy as np
from hypothesis import given, settings, strategies as st

from tinyalstm import reference as ref
from tinyalstm.gradcheck import REF_TOL, rel_error
from tinyalstm.layers.motion_attention import videolstm_backward, videolstm_forward

from opcheck import check_op      # forward vs reference/, backward vs finite differences

small = st.integers(1, 2)


@settings(max_examples=8)
@given(B=small, T=st.integers(1, 3), C=small, Cm=small, K=small, Km=small, n=st.integers(1, 4),
       k=st.sampled_from([1, 3]), ka=st.sampled_from([1, 3]), seed=st.integers(0, 2**31))
def test_videolstm_recurrence(B, T, C, Cm, K, Km, n, k, ka, seed):
    r = np.random.default_rng(seed)
    g = lambda *shape: (0.5 / k) * r.normal(size=shape)  # noqa: E731
    x, m = r.normal(size=(B, T, C, n, n)), r.normal(size=(B, T, Cm, n, n))
    h0, c0 = r.normal(size=(B, K, n, n)), r.normal(size=(B, K, n, n))
    hm0, cm0 = r.normal(size=(B, Km, n, n)), r.normal(size=(B, Km, n, n))
    top = (g(4 * K, C, k, k), g(4 * K, K, k, k), r.normal(size=4 * K))
    flow = (g(4 * Km, Cm + K, k, k), g(4 * Km, Km, k, k), r.normal(size=4 * Km))
    Ka = 2
    att = (r.normal(size=(Ka, C, ka, ka)), r.normal(size=(Ka, Km, ka, ka)), r.normal(size=Ka),
           r.normal(size=(1, Ka, ka, ka)))
    h, a, _ = videolstm_forward(x, m, h0, c0, hm0, cm0, *top, *flow, *att)

    rh, rc, rhm, rcm = h0, c0, hm0, cm0
    Wmx, Wme = flow[0][:, :Cm], flow[0][:, Cm:]
    for t in range(T):
        rhm, rcm = ref.motion_conv_lstm_step(m[:, t], rhm, rcm, rh, Wmx, flow[1], Wme, flow[2])
        x_att, ra = ref.spatial_attention(x[:, t], rhm, *att)
        rh, rc = ref.conv_lstm_step(x_att, rh, rc, *top)
        assert rel_error(h[:, t], rh) <= REF_TOL and rel_error(a[:, t], ra) <= REF_TOL

    names = ["x", "m", "h0", "c0", "hm0", "cm0", "Wx", "Wh", "b", "Wmx", "Wmh", "bm", "Wxa", "Wha", "ba", "Wz"]
    check_op("videolstm recurrence (eqs. 10-15, 7-9, 1-6)", videolstm_forward, videolstm_backward,
             dict(zip(names, [x, m, h0, c0, hm0, cm0, *top, *flow, *att])), r)
