"""Bahdanau soft temporal attention (aLSTM eqs. 3-5) and the attention LSTM decoder (eq. 6 with eqs. 7-12).

Matching vector, score, weight and context for attended frame a_i (i = 1..T) at decoder step t:

    e_{t,i} = tanh(h_{t-1} Wah + a_i Waa + ba)        matching vector, size M              (3)
    m_{t,i} = u . e_{t,i}                              matching score                        (3)
    w_{t,i} = exp(m_{t,i}) / sum_j exp(m_{t,j})        attention weight, softmax over T      (4)
    k_t     = sum_i w_{t,i} a_i                        action attention context              (5)

The paper says that "every state h_{t-1} is summed with every attended-data a_i" after each is projected to the
matching-vector size M, and that the matching vector "is transformed into a single number": the tanh and the
projection u are Bahdanau's (their ref. [2]). Its constant bias would cancel in the softmax, so there is none.

The frame projection ``a_i Waa + ba`` does not depend on t: the sequence path computes it once (``Ap``) and every
step reuses it, which is why the private helpers take ``Ap`` rather than ``A``.
"""
from .backend import array_module
from .layers import softmax
from .lstm import lstm_cell_backward, lstm_cell_forward


def _attend_forward(prev_h, A, Ap, Wah, u):
    """Eqs. 3-5 given the projected frames Ap = A Waa + ba (B, T, M) -> k (B, da), w (B, T), cache."""
    e = array_module(A).tanh((prev_h @ Wah)[:, None, :] + Ap)
    w = softmax(e @ u, axis=1)
    k = (w[:, :, None] * A).sum(axis=1)
    return k, w, (prev_h, A, Wah, u, e, w)


def _attend_backward(dk, cache):
    """-> dprev_h (B, H), dA (B, T, da) through the context only, dAp (B, T, M), dWah (H, M), du (M,)."""
    prev_h, A, Wah, u, e, w = cache
    dA = w[:, :, None] * dk[:, None, :]
    dw = (A * dk[:, None, :]).sum(axis=2)
    dm = w * (dw - (w * dw).sum(axis=1, keepdims=True))
    du = (dm[:, :, None] * e).sum(axis=(0, 1))
    dAp = dm[:, :, None] * u * (1.0 - e * e)
    dhw = dAp.sum(axis=1)
    return dhw @ Wah.T, dA, dAp, prev_h.T @ dhw, du


def _project_frames_backward(dAp, A, Waa):
    """Backward of Ap = A Waa + ba: dAp (B, T, M) -> dA (B, T, da), dWaa (da, M), dba (M,)."""
    da, M = Waa.shape
    return dAp @ Waa.T, A.reshape(-1, da).T @ dAp.reshape(-1, M), dAp.reshape(-1, M).sum(axis=0)


def temporal_attention_forward(prev_h, A, Wah, Waa, ba, u):
    """Soft temporal attention, aLSTM eqs. 3-5.

    prev_h (B, H) decoder state h_{t-1}; A (B, T, da) attended frames; Wah (H, M); Waa (da, M); ba (M,); u (M,)
    -> k (B, da) context, w (B, T) attention weights (rows sum to 1), cache.
    """
    k, w, cache = _attend_forward(prev_h, A, A @ Waa + ba, Wah, u)
    return k, w, (cache, Waa)


def temporal_attention_backward(dk, cache, dw=None):
    """Gradients of ``temporal_attention_forward`` for upstream dk (B, da)
    -> dprev_h (B, H), dA (B, T, da), dWah (H, M), dWaa (da, M), dba (M,), du (M,).
    """
    attend_cache, Waa = cache
    dprev_h, dA, dAp, dWah, du = _attend_backward(dk, attend_cache)
    dA_proj, dWaa, dba = _project_frames_backward(dAp, attend_cache[1], Waa)
    return dprev_h, dA + dA_proj, dWah, dWaa, dba, du


def _alstm_cell_forward(xw, prev_h, prev_c, A, Ap, Wh, Wk, Wah, u):
    """One decoder step given xw = x Wx + b (B, 4H) and the projected frames Ap."""
    k, w, att_cache = _attend_forward(prev_h, A, Ap, Wah, u)
    next_h, next_c, cell_cache = lstm_cell_forward(xw + prev_h @ Wh + k @ Wk, prev_c)
    return next_h, next_c, k, w, (prev_h, k, Wh, Wk, att_cache, cell_cache)


def _alstm_cell_backward(dnext_h, dnext_c, cache):
    """-> dxw (B, 4H), dprev_h, dprev_c, dA (context path), dAp, dWh, dWk, dWah, du."""
    prev_h, k, Wh, Wk, att_cache, cell_cache = cache
    da, dprev_c = lstm_cell_backward(dnext_h, dnext_c, cell_cache)
    dprev_h_att, dA, dAp, dWah, du = _attend_backward(da @ Wk.T, att_cache)
    return da, da @ Wh.T + dprev_h_att, dprev_c, dA, dAp, prev_h.T @ da, k.T @ da, dWah, du


def alstm_step_forward(x, prev_h, prev_c, A, Wx, Wh, Wk, b, Wah, Waa, ba, u):
    """One step of the attention LSTM decoder (aLSTM eq. 6): attention from h_{t-1} (eqs. 3-5), then the LSTM
    (eqs. 7-12) whose gates read the input-data x = v_t, the state h_{t-1} and the context k_t:

        [i; f; o; g] pre-activation = v_t Wx + h_{t-1} Wh + k_t Wk + b

    x (B, D), prev_h (B, H), prev_c (B, H), A (B, T, da), Wx (D, 4H), Wh (H, 4H), Wk (da, 4H), b (4H,),
    Wah (H, M), Waa (da, M), ba (M,), u (M,) -> next_h (B, H), next_c (B, H), k (B, da), w (B, T), cache.
    """
    next_h, next_c, k, w, cache = _alstm_cell_forward(x @ Wx + b, prev_h, prev_c, A, A @ Waa + ba, Wh, Wk, Wah, u)
    return next_h, next_c, k, w, (x, Wx, Waa, cache)


def alstm_step_backward(dnext_h, dnext_c, cache):
    """-> dx, dprev_h, dprev_c, dA, dWx, dWh, dWk, db, dWah, dWaa, dba, du (shapes as the forward's arguments)."""
    x, Wx, Waa, cell_cache = cache
    dxw, dprev_h, dprev_c, dA, dAp, dWh, dWk, dWah, du = _alstm_cell_backward(dnext_h, dnext_c, cell_cache)
    A = cell_cache[4][1]
    dA_proj, dWaa, dba = _project_frames_backward(dAp, A, Waa)
    return (dxw @ Wx.T, dprev_h, dprev_c, dA + dA_proj, x.T @ dxw, dWh, dWk, dxw.sum(axis=0), dWah, dWaa, dba, du)


def alstm_forward(x, h0, c0, A, Wx, Wh, Wk, b, Wah, Waa, ba, u):
    """The attention LSTM decoder over N steps (aLSTM fig. 4a): attention at every step.

    x (B, N, D), h0 and c0 (B, H), A (B, T, da), weights as in ``alstm_step_forward``
    -> h (B, N, H), w (B, N, T) attention weights of every step, cache. N and T may differ.
    The projections x Wx + b and A Waa + ba are computed once for all steps.
    """
    xp = array_module(x)
    B, N, _ = x.shape
    H, T = h0.shape[1], A.shape[1]
    xw, Ap = x @ Wx + b, A @ Waa + ba
    h = xp.empty((B, N, H), dtype=h0.dtype)
    w = xp.empty((B, N, T), dtype=h0.dtype)
    prev_h, prev_c, steps = h0, c0, []
    for t in range(N):
        prev_h, prev_c, _, w[:, t], step_cache = _alstm_cell_forward(xw[:, t], prev_h, prev_c, A, Ap,
                                                                     Wh, Wk, Wah, u)
        h[:, t] = prev_h
        steps.append(step_cache)
    return h, w, (x, A, Wx, Waa, steps)


def alstm_backward(dh, cache):
    """Backpropagation through time for ``alstm_forward``: dh (B, N, H)
    -> dx (B, N, D), dh0, dc0 (B, H), dA (B, T, da), dWx, dWh, dWk, db, dWah, dWaa, dba, du.
    """
    xp = array_module(dh)
    x, A, Wx, Waa, steps = cache
    B, N, D = x.shape
    dxw = xp.empty((B, N, Wx.shape[1]), dtype=dh.dtype)
    dprev_h = xp.zeros_like(dh[:, 0])
    dprev_c = xp.zeros_like(dprev_h)
    dA, dAp = xp.zeros_like(A), 0.0
    dWh, dWk, dWah, du = 0.0, 0.0, 0.0, 0.0
    for t in reversed(range(N)):
        (dxw[:, t], dprev_h, dprev_c, dA_t, dAp_t, dWh_t, dWk_t, dWah_t,
         du_t) = _alstm_cell_backward(dh[:, t] + dprev_h, dprev_c, steps[t])
        dA += dA_t
        dAp, dWh, dWk, dWah, du = dAp + dAp_t, dWh + dWh_t, dWk + dWk_t, dWah + dWah_t, du + du_t
    dA_proj, dWaa, dba = _project_frames_backward(dAp, A, Waa)
    dxw2 = dxw.reshape(-1, Wx.shape[1])
    return (dxw @ Wx.T, dprev_h, dprev_c, dA + dA_proj, x.reshape(-1, D).T @ dxw2, dWh, dWk, dxw2.sum(axis=0),
            dWah, dWaa, dba, du)
