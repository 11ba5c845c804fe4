"""The attention LSTM decoder of aLSTM (eq. 6 with the attention of eqs. 3-5 and the LSTM of eqs. 7-12).

At step t the attention reads h_{t-1} (temporal_attention.py), and the LSTM gates read the input-data v_t, the
state h_{t-1} and the context k_t:

    [i; f; o; g] pre-activation = v_t Wx + h_{t-1} Wh + k_t Wk + b

(the context as a third input to every gate: Bahdanau's decoder). ``alstm_forward`` runs it for all N steps
(fig. 4a, the paper's model); variant (b) of fig. 4b (models/alstm.py, ``aLSTMb``) runs the plain LSTM for N-1
steps and ``alstm_step_forward`` once.

Shapes: x (B, N, D) input-data, h and c (B, H), A (B, T, da) attended-data, Wx (D, 4H), Wh (H, 4H), Wk (da, 4H),
b (4H,), Wah (H, M), Waa (da, M), ba (M,), u (M,).
"""
from typing import NamedTuple

from ..backend import array_module
from .lstm import CellCache, lstm_cell_backward, lstm_cell_forward
from .temporal_attention import (AttendCache, attend_backward, attend_forward, project_frames_backward,
                                 project_frames_forward)


class DecoderCellCache(NamedTuple):
    prev_h: object
    k: object           # (B, da) context
    Wh: object
    Wk: object
    attend: AttendCache
    cell: CellCache


class DecoderStepCache(NamedTuple):
    x: object
    A: object
    Wx: object
    Waa: object
    step: DecoderCellCache


class DecoderCache(NamedTuple):
    x: object
    A: object
    Wx: object
    Waa: object
    steps: list         # a DecoderCellCache per step


def _decoder_cell_forward(xw, prev_h, prev_c, A, Ap, Wh, Wk, Wah, u):
    """One decoder step given xw = x Wx + b (B, 4H) and the projected frames Ap."""
    k, w, att_cache = attend_forward(prev_h, A, Ap, Wah, u)
    next_h, next_c, cell_cache = lstm_cell_forward(xw + prev_h @ Wh + k @ Wk, prev_c)
    return next_h, next_c, k, w, DecoderCellCache(prev_h, k, Wh, Wk, att_cache, cell_cache)


def _decoder_cell_backward(dnext_h, dnext_c, cache):
    """-> dxw (B, 4H), dprev_h, dprev_c, dA (context path), dAp, dWh, dWk, dWah, du."""
    da, dprev_c = lstm_cell_backward(dnext_h, dnext_c, cache.cell)
    dprev_h_att, dA, dAp, dWah, du = attend_backward(da @ cache.Wk.T, cache.attend)
    return (da, da @ cache.Wh.T + dprev_h_att, dprev_c, dA, dAp, cache.prev_h.T @ da, cache.k.T @ da, dWah, du)


def alstm_step_forward(x, prev_h, prev_c, A, Wx, Wh, Wk, b, Wah, Waa, ba, u):
    """One step of the attention LSTM decoder (aLSTM eq. 6): attention from h_{t-1} (eqs. 3-5), then the LSTM
    (eqs. 7-12) on v_t, h_{t-1} and k_t.

    x (B, D), prev_h (B, H), prev_c (B, H), A (B, T, da), weights as in the module docstring
    -> next_h (B, H), next_c (B, H), k (B, da), w (B, T), cache.
    """
    next_h, next_c, k, w, step = _decoder_cell_forward(x @ Wx + b, prev_h, prev_c, A,
                                                       project_frames_forward(A, Waa, ba), Wh, Wk, Wah, u)
    return next_h, next_c, k, w, DecoderStepCache(x, A, Wx, Waa, step)


def alstm_step_backward(dnext_h, dnext_c, cache):
    """-> dx, dprev_h, dprev_c, dA, dWx, dWh, dWk, db, dWah, dWaa, dba, du (shapes as the forward's arguments)."""
    dxw, dprev_h, dprev_c, dA, dAp, dWh, dWk, dWah, du = _decoder_cell_backward(dnext_h, dnext_c, cache.step)
    dA_proj, dWaa, dba = project_frames_backward(dAp, cache.A, cache.Waa)
    return (dxw @ cache.Wx.T, dprev_h, dprev_c, dA + dA_proj, cache.x.T @ dxw, dWh, dWk, dxw.sum(axis=0), dWah,
            dWaa, dba, du)


def alstm_forward(x, h0, c0, A, Wx, Wh, Wk, b, Wah, Waa, ba, u):
    """The attention LSTM decoder over N steps (aLSTM fig. 4a): attention at every step.

    x (B, N, D), h0 and c0 (B, H), A (B, T, da), weights as in the module docstring
    -> h (B, N, H), w (B, N, T) attention weights of every step, cache. N and T may differ.
    The projections x Wx + b and A Waa + ba are computed once for all steps.
    """
    xp = array_module(x)
    B, N, _ = x.shape
    H, T = h0.shape[1], A.shape[1]
    xw, Ap = x @ Wx + b, project_frames_forward(A, Waa, ba)
    h = xp.empty((B, N, H), dtype=h0.dtype)
    w = xp.empty((B, N, T), dtype=h0.dtype)
    prev_h, prev_c, steps = h0, c0, []
    for t in range(N):
        prev_h, prev_c, _, w[:, t], step = _decoder_cell_forward(xw[:, t], prev_h, prev_c, A, Ap, Wh, Wk, Wah, u)
        h[:, t] = prev_h
        steps.append(step)
    return h, w, DecoderCache(x, A, Wx, Waa, steps)


def alstm_backward(dh, cache):
    """Backpropagation through time for ``alstm_forward``: dh (B, N, H)
    -> dx (B, N, D), dh0, dc0 (B, H), dA (B, T, da), dWx, dWh, dWk, db, dWah, dWaa, dba, du.
    """
    xp = array_module(dh)
    x, A, Wx = cache.x, cache.A, cache.Wx
    B, N, D = x.shape
    dxw = xp.empty((B, N, Wx.shape[1]), dtype=dh.dtype)
    dprev_h = xp.zeros_like(dh[:, 0])
    dprev_c = xp.zeros_like(dprev_h)
    dA, dAp = xp.zeros_like(A), 0.0
    dWh, dWk, dWah, du = 0.0, 0.0, 0.0, 0.0
    for t in reversed(range(N)):
        (dxw[:, t], dprev_h, dprev_c, dA_t, dAp_t, dWh_t, dWk_t, dWah_t,
         du_t) = _decoder_cell_backward(dh[:, t] + dprev_h, dprev_c, cache.steps[t])
        dA += dA_t
        dAp, dWh, dWk, dWah, du = dAp + dAp_t, dWh + dWh_t, dWk + dWk_t, dWah + dWah_t, du + du_t
    dA_proj, dWaa, dba = project_frames_backward(dAp, A, cache.Waa)
    dxw2 = dxw.reshape(-1, Wx.shape[1])
    return (dxw @ Wx.T, dprev_h, dprev_c, dA + dA_proj, x.reshape(-1, D).T @ dxw2, dWh, dWk, dxw2.sum(axis=0),
            dWah, dWaa, dba, du)
