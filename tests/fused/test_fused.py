"""The fused CPU path (tinyalstm.fused): its im2col/col2im loops against conv.py's, and each
fused recurrence (ConvLSTM, ConvALSTM, VideoLSTM) and the fused initial states against the step-by-step layers
and reference/ in float64 (REF_TOL), their backward passes against the step-by-step BPTT and finite differences;
the workspace's reuse rule; float32 without upcasts. Hypothesis draws batch, time, channels, map sizes (H != W
too) and kernel sizes 1 or 3 (gates and attention independently)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinyalstm import fused
from tinyalstm import reference as ref
from tinyalstm.fused.loops import col2im_into, im2col_into, window_mask
from tinyalstm.gradcheck import REF_TOL, check_gradients, rel_error
from tinyalstm.layers.conv import col2im, im2col
from tinyalstm.layers.conv_alstm import conv_alstm_backward, conv_alstm_forward
from tinyalstm.layers.conv_lstm import (conv_initial_state_backward, conv_initial_state_forward, conv_lstm_backward,
                                        conv_lstm_forward)
from tinyalstm.layers.motion_attention import videolstm_backward, videolstm_forward

small = st.integers(1, 2)
kernels = st.sampled_from([1, 3])


@given(C=small, B=small, T=small, H=st.integers(1, 5), W=st.integers(1, 5), kh=st.sampled_from([1, 3, 5]),
       kw=st.sampled_from([1, 3, 5]), seed=st.integers(0, 2**31))
def test_im2col_col2im_loops(C, B, T, H, W, kh, kw, seed):
    """fused/loops.py on channel-major (C, T, B*H*W) sequences equal conv.py's im2col/col2im of each step's
    (B, C, H, W) maps, exactly; col2im accumulates when asked."""
    r = np.random.default_rng(seed)
    x = r.normal(size=(C, T, B, H, W))
    xs, mask, L = x.reshape(C, T, -1), window_mask(B, H, W, kh, kw, np.float64), B * H * W
    cols = np.full((2 + C * kh * kw, T, L), np.nan)          # two rows above: row0 must be honoured
    dcols = r.normal(size=(C * kh * kw + 1, T, L))
    dx = r.normal(size=(C, T, L))
    before = dx.copy()
    for t in range(T):
        im2col_into(xs, t, W, kh, kw, mask, cols, 2, t)
        np.testing.assert_array_equal(cols[2:, t], im2col(x[:, t].transpose(1, 0, 2, 3), kh, kw))
        want = col2im(dcols[1:, t], (B, C, H, W), kh, kw).transpose(1, 0, 2, 3).reshape(C, L)
        col2im_into(dcols, t, 1, W, kh, kw, mask, dx, t, True)
        np.testing.assert_allclose(dx[:, t], before[:, t] + want, rtol=0, atol=1e-13)
        col2im_into(dcols, t, 1, W, kh, kw, mask, dx, t)
        np.testing.assert_allclose(dx[:, t], want, rtol=0, atol=1e-13)
    assert np.isnan(cols[:2]).all()


def _gates(r, K, C, k):
    s = 0.5 / k
    return s * r.normal(size=(4 * K, C, k, k)), s * r.normal(size=(4 * K, K, k, k)), r.normal(size=4 * K)


def _attention(r, Ka, C, Ks, ka):
    return (r.normal(size=(Ka, C, ka, ka)), r.normal(size=(Ka, Ks, ka, ka)), r.normal(size=Ka),
            r.normal(size=(1, Ka, ka, ka)))


def _assert_all_close(got, want, what):
    assert len(got) == len(want), what
    for i, (a, b) in enumerate(zip(got, want)):
        assert a.shape == b.shape, f"{what}[{i}]: shape {a.shape} vs {b.shape}"
        assert rel_error(a, b) <= REF_TOL, f"{what}[{i}]: {rel_error(a, b):.1e}"


@given(B=small, T=st.integers(1, 3), C=small, K=small, H=st.integers(1, 4), W=st.integers(1, 4), k=kernels,
       seed=st.integers(0, 2**31))
def test_conv_lstm_fused(B, T, C, K, H, W, k, seed):
    """The fused ConvLSTM equals the reference and the step-by-step sequence path; its BPTT (with dc_last) equals
    the step-by-step BPTT."""
    r = np.random.default_rng(seed)
    x, h0, c0 = r.normal(size=(B, T, C, H, W)), r.normal(size=(B, K, H, W)), r.normal(size=(B, K, H, W))
    w = _gates(r, K, C, k)
    h, c, cache = fused.conv_lstm_fused_forward(x, h0, c0, *w, workspace=fused.Workspace())
    rh, rc = ref.conv_lstm(x, h0, c0, *w)
    _assert_all_close((h, c), (rh, rc), "forward vs reference")
    ph, pc, plain = conv_lstm_forward(x, h0, c0, *w)
    _assert_all_close((h, c), (ph, pc), "forward vs step by step")
    dh, dc_last = r.normal(size=h.shape), r.normal(size=h0.shape)
    _assert_all_close(fused.conv_lstm_fused_backward(dh, cache, dc_last), conv_lstm_backward(dh, plain, dc_last),
                      "backward vs step by step")


@given(B=small, T=st.integers(1, 3), C=small, K=small, H=st.integers(1, 4), W=st.integers(1, 4), k=kernels,
       ka=kernels, seed=st.integers(0, 2**31))
def test_conv_alstm_fused(B, T, C, K, H, W, k, ka, seed):
    """The fused ConvALSTM equals the reference composed step by step and the step-by-step path, the BPTT with a
    direct gradient of the attention maps included."""
    r = np.random.default_rng(seed)
    x, h0, c0 = r.normal(size=(B, T, C, H, W)), r.normal(size=(B, K, H, W)), r.normal(size=(B, K, H, W))
    w, att = _gates(r, K, C, k), _attention(r, 2, C, K, ka)
    h, a, cache = fused.conv_alstm_fused_forward(x, h0, c0, *w, *att, workspace=fused.Workspace())
    rh, rc = h0, c0
    for t in range(T):
        x_att, ra = ref.spatial_attention(x[:, t], rh, *att)
        rh, rc = ref.conv_lstm_step(x_att, rh, rc, *w)
        _assert_all_close((h[:, t], a[:, t]), (rh, ra), f"forward vs reference, step {t}")
    ph, pa, plain = conv_alstm_forward(x, h0, c0, *w, *att)
    _assert_all_close((h, a), (ph, pa), "forward vs step by step")
    dh, datt = r.normal(size=h.shape), r.normal(size=a.shape)
    _assert_all_close(fused.conv_alstm_fused_backward(dh, cache, datt), conv_alstm_backward(dh, plain, datt),
                      "backward vs step by step")


def _videolstm_args(r, B, T, C, Cm, K, Km, H, W, k, ka):
    x, m = r.normal(size=(B, T, C, H, W)), r.normal(size=(B, T, Cm, H, W))
    states = [r.normal(size=(B, n, H, W)) for n in (K, K, Km, Km)]
    s = 0.5 / k
    flow = (s * r.normal(size=(4 * Km, Cm + K, k, k)), s * r.normal(size=(4 * Km, Km, k, k)), r.normal(size=4 * Km))
    return [x, m, *states, *_gates(r, K, C, k), *flow, *_attention(r, 2, C, Km, ka)]


@settings(max_examples=8)
@given(B=small, T=st.integers(1, 3), C=small, Cm=small, K=small, Km=small, H=st.integers(1, 4), W=st.integers(1, 4),
       k=kernels, ka=kernels, seed=st.integers(0, 2**31))
def test_videolstm_fused(B, T, C, Cm, K, Km, H, W, k, ka, seed):
    """The fused VideoLSTM recurrence equals the reference composed step by step (flow layer with its own W^m_e
    term, attention from the flow layer's current state) and the step-by-step path, forward and BPTT."""
    r = np.random.default_rng(seed)
    args = _videolstm_args(r, B, T, C, Cm, K, Km, H, W, k, ka)
    x, m, h0, c0, hm0, cm0, Wx, Wh, b, Wmx, Wmh, bm, *att = args
    h, a, cache = fused.videolstm_fused_forward(*args, workspace=fused.Workspace())
    rh, rc, rhm, rcm = h0, c0, hm0, cm0
    for t in range(T):
        rhm, rcm = ref.motion_conv_lstm_step(m[:, t], rhm, rcm, rh, Wmx[:, :Cm], Wmh, Wmx[:, Cm:], bm)
        x_att, ra = ref.spatial_attention(x[:, t], rhm, *att)
        rh, rc = ref.conv_lstm_step(x_att, rh, rc, Wx, Wh, b)
        _assert_all_close((h[:, t], a[:, t]), (rh, ra), f"forward vs reference, step {t}")
    ph, pa, plain = videolstm_forward(*args)
    _assert_all_close((h, a), (ph, pa), "forward vs step by step")
    dh, datt = r.normal(size=h.shape), r.normal(size=a.shape)
    _assert_all_close(fused.videolstm_fused_backward(dh, cache, datt), videolstm_backward(dh, plain, datt),
                      "backward vs step by step")


@settings(max_examples=4)
@given(H=st.integers(1, 3), W=st.integers(1, 3), k=kernels, ka=kernels, seed=st.integers(0, 2**31))
def test_fused_gradients_by_finite_differences(H, W, k, ka, seed):
    """Each fused backward pass against central differences of its own forward pass (every input, state and
    weight), through a random projection of the hidden states and the attention maps."""
    r = np.random.default_rng(seed)
    B, T, C, Cm, K, Km = 2, 2, 2, 1, 2, 2
    x, m, h0, c0, hm0, cm0, Wx, Wh, b, Wmx, Wmh, bm, *att = _videolstm_args(r, B, T, C, Cm, K, Km, H, W, k, ka)
    dh, datt = r.normal(size=(B, T, K, H, W)), r.normal(size=(B, T, H, W))
    dout = np.concatenate([dh.reshape(B, -1), datt.reshape(B, -1)], axis=1)
    both = lambda out: np.concatenate([out[0].reshape(B, -1), out[1].reshape(B, -1)], axis=1)  # noqa: E731

    top = [x, h0, c0, Wx, Wh, b]
    _, _, cache = fused.conv_lstm_fused_forward(*top)
    check_gradients("fused conv_lstm (finite differences)", lambda: fused.conv_lstm_fused_forward(*top)[0],
                    dict(enumerate(top)), dict(enumerate(fused.conv_lstm_fused_backward(dh, cache))), dh)
    alstm = [*top, *_attention(r, 2, C, K, ka)]
    *_, cache = fused.conv_alstm_fused_forward(*alstm)
    check_gradients("fused conv_alstm (finite differences)", lambda: both(fused.conv_alstm_fused_forward(*alstm)),
                    dict(enumerate(alstm)), dict(enumerate(fused.conv_alstm_fused_backward(dh, cache, datt))), dout)
    video = [x, m, h0, c0, hm0, cm0, Wx, Wh, b, Wmx, Wmh, bm, *att]
    *_, cache = fused.videolstm_fused_forward(*video)
    check_gradients("fused videolstm (finite differences)", lambda: both(fused.videolstm_fused_forward(*video)),
                    dict(enumerate(video)), dict(enumerate(fused.videolstm_fused_backward(dh, cache, datt))), dout)


@given(B=small, T=st.integers(1, 3), C=small, K=small, H=st.integers(1, 4), W=st.integers(1, 4), k=kernels,
       seed=st.integers(0, 2**31))
def test_initial_states_fused(B, T, C, K, H, W, k, seed):
    """The fused pair of initial states equals conv_initial_state_forward/backward twice; its gradients match
    finite differences."""
    r = np.random.default_rng(seed)
    x = r.normal(size=(B, T, C, H, W))
    p = [r.normal(size=(K, C, k, k)), r.normal(size=K), r.normal(size=(K, C, k, k)), r.normal(size=K)]
    h0, c0, cache = fused.conv_initial_states_fused_forward(x, *p)
    ph0, cache_h = conv_initial_state_forward(x, p[0], p[1])
    pc0, cache_c = conv_initial_state_forward(x, p[2], p[3])
    _assert_all_close((h0, c0), (ph0, pc0), "forward")
    assert rel_error(h0, np.tanh(ref.conv2d(x.mean(axis=1), p[0], p[1]))) <= REF_TOL
    dh0, dc0 = r.normal(size=h0.shape), r.normal(size=c0.shape)
    dx, *dw = fused.conv_initial_states_fused_backward(dh0, dc0, cache)
    (dx1, *dw1), (dx2, *dw2) = conv_initial_state_backward(dh0, cache_h), conv_initial_state_backward(dc0, cache_c)
    _assert_all_close([dx, *dw], [dx1 + dx2, *dw1, *dw2], "backward")
    check_gradients("fused initial states (finite differences)",
                    lambda: np.concatenate(fused.conv_initial_states_fused_forward(x, *p)[:2], axis=1),
                    dict(enumerate([x, *p])), dict(enumerate([dx, *dw])), np.concatenate([dh0, dc0], axis=1))


def test_workspace_reuse_rule():
    """With a workspace, a second forward pass reuses the buffers: the first pass's results are unchanged (they
    are never workspace arrays), its cache's backward refuses to run, the second's is right."""
    r = np.random.default_rng(0)
    args = _videolstm_args(r, 2, 3, 2, 2, 2, 2, 4, 4, 3, 1)
    ws = fused.Workspace()
    h1, a1, cache1 = fused.videolstm_fused_forward(*args, workspace=ws)
    kept = h1.copy(), a1.copy()
    args2 = [v + 0.1 for v in args]
    h2, a2, cache2 = fused.videolstm_fused_forward(*args2, workspace=ws)
    np.testing.assert_array_equal(h1, kept[0])
    np.testing.assert_array_equal(a1, kept[1])
    dh = r.normal(size=h2.shape)
    with pytest.raises(RuntimeError, match="reused by a later forward pass"):
        fused.videolstm_fused_backward(dh, cache1)
    _, _, plain = videolstm_forward(*args2)
    _assert_all_close(fused.videolstm_fused_backward(dh, cache2), videolstm_backward(dh, plain), "second pass")
    assert all(not np.shares_memory(g, buf) for g in fused.videolstm_fused_backward(dh, cache2)
               for buf in ws.arrays.values())


def test_float32_stays_float32():
    """float32 in, float32 everywhere out (no float64 intermediate leaks into results or gradients), and within
    float32 rounding of the float64 computation: |a - ref| <= 1e-5 + 1e-4 |ref| (a few ulps through T = 3 steps of
    tanh/sigmoid and sums over C k k <= 36 terms)."""
    r = np.random.default_rng(1)
    args = _videolstm_args(r, 2, 3, 4, 3, 4, 3, 5, 5, 3, 1)
    h, a, cache = fused.videolstm_fused_forward(*[v.astype(np.float32) for v in args], workspace=fused.Workspace())
    dh = r.normal(size=h.shape)
    grads = fused.videolstm_fused_backward(dh.astype(np.float32), cache)
    h64, a64, cache64 = fused.videolstm_fused_forward(*args)
    for got, want in zip([h, a, *grads], [h64, a64, *fused.videolstm_fused_backward(dh, cache64)]):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
