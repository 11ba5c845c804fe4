"""Sharma et al.'s soft-attention LSTM, the "ALSTM" baseline of VideoLSTM (Table 1, Fig. 2 left).

At step t the N x N feature map X_t is read as L = N*N location vectors x_{t,l} (D,). Attention over locations
from h_{t-1} is the Bahdanau form of temporal_attention.py, ``softmax_l(u . tanh(h_{t-1} Wah + x_{t,l} Waa + ba))``
(Sharma's ``softmax(tanh(x W_c + b + h W_d) U + c)``; the constant c cancels), so this module reuses
``temporal_attention_forward`` with the locations in place of frames. The context ``x~_t = sum_l w_l x_{t,l}`` (D,)
is the LSTM's only input: fully connected gates ``x~_t Wk + h_{t-1} Wh + b``, order i, f, o, g.

Shapes: X (B, T, L, D) with L = N*N, h and c (B, H), Wk (D, 4H), Wh (H, 4H), b (4H,), Wah (H, M), Waa (D, M),
ba (M,), u (M,).

Motion-based attention (VideoLSTM Table 2, ALSTM row, "motion-based attention"): the fully connected analogue of
VideoLSTM's motion attention (motion_attention.py, sec. 3.2), with the weights in the same order (top, flow,
attention). At step t

1. a flow LSTM reads the stacked input [m_t; h_{t-1}] (m_t (B, Cm) the spatially mean-pooled flow map) and its own
   hm_{t-1}: gates = [m_t; h_{t-1}] Wmx + hm_{t-1} Wmh + bm (vector analogue of VideoLSTM eqs. 10-15; the first Cm
   rows of Wmx (Cm + H, 4Hm) play W^m_x, the last H rows W^m_e);
2. attention over the locations comes from the flow LSTM's *current* state hm_t instead of h_{t-1}:
   w = softmax_l(u . tanh(hm_t Wah + x_{t,l} Waa + ba)), k_t = sum_l w_l x_{t,l} (vector analogue of eqs. 7-9),
   so Wah is (Hm, M) here;
3. the top LSTM steps on k_t: gates = k_t Wk + h_{t-1} Wh + b (vector analogue of eqs. 1-6).
"""
from typing import NamedTuple

from ..backend import array_module
from .lstm import CellCache, StepCache, lstm_cell_backward, lstm_cell_forward, lstm_step_backward, lstm_step_forward
from .temporal_attention import TemporalAttentionCache, temporal_attention_backward, temporal_attention_forward
from .unroll import unroll_backward, unroll_forward


class SharmaStepCache(NamedTuple):
    k: object                          # (B, D) context
    prev_h: object
    Wk: object
    Wh: object
    attention: TemporalAttentionCache
    cell: CellCache


class MotionSharmaStepCache(NamedTuple):
    flow_channels: int                 # Cm: where [m_t; h_{t-1}] splits
    flow: StepCache
    attention: TemporalAttentionCache
    top: StepCache


def soft_attention_lstm_step_forward(x, prev_h, prev_c, Wk, Wh, b, Wah, Waa, ba, u):
    """x (B, L, D) locations of one frame -> next_h, next_c (B, H), w (B, L) attention over locations, cache."""
    k, w, att_cache = temporal_attention_forward(prev_h, x, Wah, Waa, ba, u)
    next_h, next_c, cell_cache = lstm_cell_forward(k @ Wk + prev_h @ Wh + b, prev_c)
    return next_h, next_c, w, SharmaStepCache(k, prev_h, Wk, Wh, att_cache, cell_cache)


def soft_attention_lstm_step_backward(dnext_h, dnext_c, cache, dw=None):
    """dw (B, L): optional direct gradient of the step's attention -> dx (B, L, D), dprev_h, dprev_c, dWk, dWh, db,
    dWah, dWaa, dba, du."""
    da, dprev_c = lstm_cell_backward(dnext_h, dnext_c, cache.cell)
    dprev_h_att, dx, dWah, dWaa, dba, du = temporal_attention_backward(da @ cache.Wk.T, cache.attention, dw)
    return (dx, da @ cache.Wh.T + dprev_h_att, dprev_c, cache.k.T @ da, cache.prev_h.T @ da, da.sum(axis=0), dWah,
            dWaa, dba, du)


def soft_attention_lstm_forward(x, h0, c0, Wk, Wh, b, Wah, Waa, ba, u):
    """x (B, T, L, D) -> h (B, T, H), attention (B, T, L), cache."""
    return unroll_forward(soft_attention_lstm_step_forward, (x,), (h0, c0), (Wk, Wh, b, Wah, Waa, ba, u))


def soft_attention_lstm_backward(dh, cache, datt=None):
    """BPTT: dh (B, T, H), optional datt (B, T, L) direct gradient of the attention -> dx (B, T, L, D), dh0, dc0,
    dWk, dWh, db, dWah, dWaa, dba, du."""
    return unroll_backward(soft_attention_lstm_step_backward, dh, cache, datt)


def motion_soft_attention_lstm_step_forward(x, m, prev_h, prev_c, prev_hm, prev_cm, Wk, Wh, b, Wmx, Wmh, bm, Wah,
                                            Waa, ba, u):
    """One step of the motion-based soft-attention LSTM: the vector analogue of one VideoLSTM step (eqs. 10-15,
    then 7-9 with hm_t for h_{t-1}, then 1-6). Weights: Wk (D, 4H), Wh (H, 4H), b (4H,) of the top (RGB) LSTM;
    Wmx (Cm + H, 4Hm), Wmh (Hm, 4Hm), bm (4Hm,) of the flow LSTM; Wah (Hm, M), Waa (D, M), ba (M,), u (M,) of the
    attention.

    x (B, L, D) location vectors of the RGB map, m (B, Cm) pooled flow vector, prev_h and prev_c (B, H),
    prev_hm and prev_cm (B, Hm) -> next_h, next_c (B, H), next_hm, next_cm (B, Hm), w (B, L), cache.
    """
    xp = array_module(x)
    hm, cm, flow_cache = lstm_step_forward(xp.concatenate([m, prev_h], axis=1), prev_hm, prev_cm, Wmx, Wmh, bm)
    k, w, att_cache = temporal_attention_forward(hm, x, Wah, Waa, ba, u)
    h, c, top_cache = lstm_step_forward(k, prev_h, prev_c, Wk, Wh, b)
    return h, c, hm, cm, w, MotionSharmaStepCache(m.shape[1], flow_cache, att_cache, top_cache)


def motion_soft_attention_lstm_step_backward(dnext_h, dnext_c, dnext_hm, dnext_cm, cache, dw=None):
    """dw (B, L): optional direct gradient of the step's attention -> dx (B, L, D), dm (B, Cm), dprev_h, dprev_c
    (B, H), dprev_hm, dprev_cm (B, Hm), dWk, dWh, db, dWmx, dWmh, dbm, dWah, dWaa, dba, du."""
    Cm = cache.flow_channels
    dk, dprev_h, dprev_c, *dtop = lstm_step_backward(dnext_h, dnext_c, cache.top)
    dhm_att, dx, *datt = temporal_attention_backward(dk, cache.attention, dw)
    dmh, dprev_hm, dprev_cm, *dflow = lstm_step_backward(dnext_hm + dhm_att, dnext_cm, cache.flow)
    return (dx, dmh[:, :Cm], dprev_h + dmh[:, Cm:], dprev_c, dprev_hm, dprev_cm, *dtop, *dflow, *datt)


def motion_soft_attention_lstm_forward(x, m, h0, c0, hm0, cm0, Wk, Wh, b, Wmx, Wmh, bm, Wah, Waa, ba, u):
    """The motion-based soft-attention LSTM over T steps (vector analogue of ``videolstm_forward``).

    x (B, T, L, D) location vectors, m (B, T, Cm) pooled flow vectors, h0 and c0 (B, H), hm0 and cm0 (B, Hm),
    weights as in the step -> h (B, T, H) top hidden states, w (B, T, L) attention of every step, cache.
    """
    return unroll_forward(motion_soft_attention_lstm_step_forward, (x, m), (h0, c0, hm0, cm0),
                          (Wk, Wh, b, Wmx, Wmh, bm, Wah, Waa, ba, u))


def motion_soft_attention_lstm_backward(dh, cache, datt=None):
    """BPTT: dh (B, T, H), optional datt (B, T, L) direct gradient of the attention -> dx (B, T, L, D), dm (B, T,
    Cm), dh0, dc0 (B, H), dhm0, dcm0 (B, Hm), dWk, dWh, db, dWmx, dWmh, dbm, dWah, dWaa, dba, du (weight
    gradients summed over steps)."""
    return unroll_backward(motion_soft_attention_lstm_step_backward, dh, cache, datt)
