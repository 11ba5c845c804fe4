"""Bahdanau soft temporal attention, aLSTM eqs. 3-5.

Matching vector, score, weight and context for attended frame a_i (i = 1..T) at decoder step t:

    e_{t,i} = tanh(h_{t-1} Wah + a_i Waa + ba)        matching vector, size M              (3)
    m_{t,i} = u . e_{t,i}                              matching score                        (3)
    w_{t,i} = exp(m_{t,i}) / sum_j exp(m_{t,j})        attention weight, softmax over T      (4)
    k_t     = sum_i w_{t,i} a_i                        action attention context              (5)

The paper says that "every state h_{t-1} is summed with every attended-data a_i" after each is projected to the
matching-vector size M, and that the matching vector "is transformed into a single number": the tanh and the
projection u are Bahdanau's (their ref. [2]). Its constant bias would cancel in the softmax, so there is none.

The frame projection ``Ap = A Waa + ba`` does not depend on t: a decoder over many steps (alstm_decoder.py)
computes it once and calls ``attend_forward`` with it at every step; ``temporal_attention_forward`` is the
one-shot form that projects and attends. Sharma's ALSTM (sharma_alstm.py) reuses it over N x N locations.
"""
from typing import NamedTuple

from ..backend import array_module
from .feedforward import softmax


class AttendCache(NamedTuple):
    prev_h: object   # (B, H)
    A: object        # (B, T, da)
    Wah: object      # (H, M)
    u: object        # (M,)
    e: object        # (B, T, M) matching vectors
    w: object        # (B, T) attention weights


class TemporalAttentionCache(NamedTuple):
    attend: AttendCache
    Waa: object      # (da, M)


def project_frames_forward(A, Waa, ba):
    """The frame half of eq. 3: Ap = A Waa + ba; A (B, T, da), Waa (da, M), ba (M,) -> Ap (B, T, M)."""
    return A @ Waa + ba


def project_frames_backward(dAp, A, Waa):
    """Backward of ``project_frames_forward``: dAp (B, T, M) -> dA (B, T, da), dWaa (da, M), dba (M,)."""
    da, M = Waa.shape
    return dAp @ Waa.T, A.reshape(-1, da).T @ dAp.reshape(-1, M), dAp.reshape(-1, M).sum(axis=0)


def attend_forward(prev_h, A, Ap, Wah, u):
    """Eqs. 3-5 given the projected frames Ap = A Waa + ba (B, T, M): prev_h (B, H), A (B, T, da), Wah (H, M),
    u (M,) -> k (B, da) context, w (B, T) weights, cache."""
    e = array_module(A).tanh((prev_h @ Wah)[:, None, :] + Ap)
    w = softmax(e @ u, axis=1)
    k = (w[:, :, None] * A).sum(axis=1)
    return k, w, AttendCache(prev_h, A, Wah, u, e, w)


def attend_backward(dk, cache, dw_extra=None):
    """Gradients of ``attend_forward`` for upstream dk (B, da) and, optionally, a direct gradient of the weights
    dw_extra (B, T) -> dprev_h (B, H), dA (B, T, da) through the context only, dAp (B, T, M), dWah (H, M),
    du (M,)."""
    w, e, A = cache.w, cache.e, cache.A
    dA = w[:, :, None] * dk[:, None, :]
    dw = (A * dk[:, None, :]).sum(axis=2)
    if dw_extra is not None:
        dw = dw + dw_extra
    dm = w * (dw - (w * dw).sum(axis=1, keepdims=True))
    du = (dm[:, :, None] * e).sum(axis=(0, 1))
    dAp = dm[:, :, None] * cache.u * (1.0 - e * e)
    dhw = dAp.sum(axis=1)
    return dhw @ cache.Wah.T, dA, dAp, cache.prev_h.T @ dhw, du


def temporal_attention_forward(prev_h, A, Wah, Waa, ba, u):
    """Soft temporal attention, aLSTM eqs. 3-5.

    prev_h (B, H) decoder state h_{t-1}; A (B, T, da) attended frames; Wah (H, M); Waa (da, M); ba (M,); u (M,)
    -> k (B, da) context, w (B, T) attention weights (rows sum to 1), cache.
    """
    k, w, cache = attend_forward(prev_h, A, project_frames_forward(A, Waa, ba), Wah, u)
    return k, w, TemporalAttentionCache(cache, Waa)


def temporal_attention_backward(dk, cache, dw_extra=None):
    """Gradients of ``temporal_attention_forward`` for upstream dk (B, da) and an optional direct gradient of the
    weights dw_extra (B, T) -> dprev_h (B, H), dA (B, T, da), dWah (H, M), dWaa (da, M), dba (M,), du (M,).
    """
    dprev_h, dA, dAp, dWah, du = attend_backward(dk, cache.attend, dw_extra)
    dA_proj, dWaa, dba = project_frames_backward(dAp, cache.attend.A, cache.Waa)
    return dprev_h, dA + dA_proj, dWah, dWaa, dba, du
