"""Bahdanau temporal attention (aLSTM eqs. 3-5) and the attention LSTM decoder (eq. 6 with 7-12): library vs
reference/, finite differences, step-by-step equals the sequence path, and the properties of a softmax."""
import numpy as np
from hypothesis import given, strategies as st

from tinyalstm import reference as ref
from tinyalstm.gradcheck import REF_TOL, check_gradients, rel_error
from tinyalstm.layers.alstm_decoder import alstm_backward, alstm_forward, alstm_step_backward, alstm_step_forward
from tinyalstm.layers.temporal_attention import temporal_attention_backward, temporal_attention_forward

from opcheck import check_op      # forward vs reference/, backward vs finite differences

dims = st.integers(1, 4)


def _att_params(r, H, da, M):
    return {"Wah": r.normal(size=(H, M)), "Waa": r.normal(size=(da, M)), "ba": r.normal(size=M),
            "u": r.normal(size=M)}


@given(B=dims, T=dims, H=dims, da=dims, M=dims, seed=st.integers(0, 2**31))
def test_temporal_attention(B, T, H, da, M, seed):
    r = np.random.default_rng(seed)
    h, A = r.normal(size=(B, H)), r.normal(size=(B, T, da))
    p = _att_params(r, H, da, M)
    _, w, _ = temporal_attention_forward(h, A, *p.values())
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    assert (w > 0).all()
    check_op("temporal_attention (eqs. 3-5)", temporal_attention_forward, temporal_attention_backward,
             {"prev_h": h, "A": A, **p}, r, reference=ref.temporal_attention)


def test_attention_with_zero_score_vector_is_the_mean():
    r = np.random.default_rng(3)
    A = r.normal(size=(2, 5, 3))
    p = _att_params(r, 4, 3, 6)
    p["u"][:] = 0.0
    k, w, _ = temporal_attention_forward(r.normal(size=(2, 4)), A, *p.values())
    np.testing.assert_allclose(w, 0.2, atol=1e-15)
    np.testing.assert_allclose(k, A.mean(axis=1), atol=1e-15)


def test_attention_picks_the_frame_that_matches():
    # Matching vector = tanh(a_i Waa) with Waa = I and u = 20 e_0: score 20 tanh(a_i0), so the frame with the
    # largest first feature wins by 20 (tanh 3 - tanh 0.5) = 10.7 nats over the runner-up.
    A = np.zeros((1, 4, 2))
    A[0, :, 0] = [0.0, 3.0, -1.0, 0.5]
    k, w, _ = temporal_attention_forward(np.zeros((1, 1)), A, np.zeros((1, 2)), np.eye(2), np.zeros(2),
                                         np.array([20.0, 0.0]))
    assert w.argmax() == 1 and w[0, 1] > 0.99


@given(B=dims, T=dims, D=dims, H=dims, da=dims, M=dims, seed=st.integers(0, 2**31))
def test_alstm_step(B, T, D, H, da, M, seed):
    r = np.random.default_rng(seed)
    x, h, c, A = r.normal(size=(B, D)), r.normal(size=(B, H)), r.normal(size=(B, H)), r.normal(size=(B, T, da))
    lp = {"Wx": 0.5 * r.normal(size=(D, 4 * H)), "Wh": 0.5 * r.normal(size=(H, 4 * H)),
          "Wk": 0.5 * r.normal(size=(da, 4 * H)), "b": 0.5 * r.normal(size=4 * H)}
    p = {**lp, **_att_params(r, H, da, M)}
    # all four outputs (next_h, next_c, k, w) against the reference; gradients through next_h and next_c
    check_op("alstm_step (eqs. 3-12)", alstm_step_forward, alstm_step_backward,
             {"x": x, "prev_h": h, "prev_c": c, "A": A, **p}, r, reference=ref.alstm_step, outputs=2)


@given(B=dims, N=dims, T=dims, D=dims, H=dims, da=dims, M=dims, seed=st.integers(0, 2**31))
def test_alstm_sequence_equals_steps(B, N, T, D, H, da, M, seed):
    r = np.random.default_rng(seed)
    x, h0, c0, A = (r.normal(size=(B, N, D)), r.normal(size=(B, H)), r.normal(size=(B, H)),
                    r.normal(size=(B, T, da)))
    p = {"Wx": 0.5 * r.normal(size=(D, 4 * H)), "Wh": 0.5 * r.normal(size=(H, 4 * H)),
         "Wk": 0.5 * r.normal(size=(da, 4 * H)), "b": 0.5 * r.normal(size=4 * H), **_att_params(r, H, da, M)}
    h, w, cache = alstm_forward(x, h0, c0, A, *p.values())
    assert h.shape == (B, N, H) and w.shape == (B, N, T)

    ph, pc, steps = h0, c0, []
    for t in range(N):
        ph, pc, _, wt, sc = alstm_step_forward(x[:, t], ph, pc, A, *p.values())
        assert rel_error(ph, h[:, t]) <= REF_TOL and rel_error(wt, w[:, t]) <= REF_TOL
        steps.append(sc)
    dh = r.normal(size=h.shape)
    seq = alstm_backward(dh, cache)
    dprev_h, dprev_c = np.zeros((B, H)), np.zeros((B, H))
    dx, dA = np.zeros_like(x), np.zeros_like(A)
    acc = [np.zeros_like(v) for v in p.values()]
    for t in reversed(range(N)):
        dx[:, t], dprev_h, dprev_c, dA_t, *dw = alstm_step_backward(dh[:, t] + dprev_h, dprev_c, steps[t])
        dA += dA_t
        acc = [a + g for a, g in zip(acc, dw)]
    for got, want in zip(seq, [dx, dprev_h, dprev_c, dA, *acc]):
        assert rel_error(got, want) <= REF_TOL

    names = ["x", "h0", "c0", "A", *p]
    check_gradients("alstm sequence (BPTT)", lambda: alstm_forward(x, h0, c0, A, *p.values())[0],
                    {"x": x, "h0": h0, "c0": c0, "A": A, **p}, dict(zip(names, seq)), dh)
