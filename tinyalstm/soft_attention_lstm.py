"""Sharma et al.'s soft-attention LSTM, the "ALSTM" baseline of VideoLSTM (Table 1, Fig. 2 left).

At step t the N x N feature map X_t is read as L = N*N location vectors x_{t,l} (D,). Attention over locations
from h_{t-1} is the Bahdanau form of attention.py, ``softmax_l(u . tanh(h_{t-1} Wah + x_{t,l} Waa + ba))``
(Sharma's ``softmax(tanh(x W_c + b + h W_d) U + c)``; the constant c cancels), so this module reuses
``temporal_attention_forward`` with the locations in place of frames. The context ``x~_t = sum_l w_l x_{t,l}`` (D,)
is the LSTM's only input: fully connected gates ``x~_t Wk + h_{t-1} Wh + b``, order i, f, o, g.

Shapes: X (B, T, L, D) with L = N*N, h and c (B, H), Wk (D, 4H), Wh (H, 4H), b (4H,), Wah (H, M), Waa (D, M),
ba (M,), u (M,).
"""
from .attention import temporal_attention_backward, temporal_attention_forward
from .lstm import lstm_cell_backward, lstm_cell_forward
from .unroll import unroll_backward, unroll_forward


def soft_attention_lstm_step_forward(x, prev_h, prev_c, Wk, Wh, b, Wah, Waa, ba, u):
    """x (B, L, D) locations of one frame -> next_h, next_c (B, H), w (B, L) attention over locations, cache."""
    k, w, att_cache = temporal_attention_forward(prev_h, x, Wah, Waa, ba, u)
    next_h, next_c, cell_cache = lstm_cell_forward(k @ Wk + prev_h @ Wh + b, prev_c)
    return next_h, next_c, w, (k, prev_h, Wk, Wh, att_cache, cell_cache)


def soft_attention_lstm_step_backward(dnext_h, dnext_c, cache):
    """-> dx (B, L, D), dprev_h, dprev_c, dWk, dWh, db, dWah, dWaa, dba, du."""
    k, prev_h, Wk, Wh, att_cache, cell_cache = cache
    da, dprev_c = lstm_cell_backward(dnext_h, dnext_c, cell_cache)
    dprev_h_att, dx, dWah, dWaa, dba, du = temporal_attention_backward(da @ Wk.T, att_cache)
    return dx, da @ Wh.T + dprev_h_att, dprev_c, k.T @ da, prev_h.T @ da, da.sum(axis=0), dWah, dWaa, dba, du


def soft_attention_lstm_forward(x, h0, c0, Wk, Wh, b, Wah, Waa, ba, u):
    """x (B, T, L, D) -> h (B, T, H), attention (B, T, L), cache."""
    return unroll_forward(soft_attention_lstm_step_forward, x, h0, c0, (Wk, Wh, b, Wah, Waa, ba, u))


def soft_attention_lstm_backward(dh, cache):
    """BPTT: dh (B, T, H) -> dx (B, T, L, D), dh0, dc0, dWk, dWh, db, dWah, dWaa, dba, du."""
    return unroll_backward(soft_attention_lstm_step_backward, dh, cache)
