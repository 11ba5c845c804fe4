"""The Convolutional ALSTM recurrence (VideoLSTM sec. 3.1): spatial attention (eqs. 7-9) from H_{t-1} on the
input map X_t, then the ConvLSTM (eqs. 1-6) on the attended map X~_t = A_t . X_t.

Shapes: X (B, T, C, N, N); H, C states (B, K, N, N); gate weights Wx (4K, C, k, k), Wh (4K, K, k, k), b (4K,);
attention weights Wxa (Ka, C, ka, ka), Wha (Ka, K, ka, ka), ba (Ka,), Wz (1, Ka, kz, kz) (see
spatial_attention.py for the 1x1-vs-kxk choice).
"""
from .backend import array_module
from .conv_lstm import conv_lstm_step_backward, conv_lstm_step_forward
from .spatial_attention import spatial_attention_backward, spatial_attention_forward


def conv_alstm_step_forward(x, prev_h, prev_c, Wx, Wh, b, Wxa, Wha, ba, Wz):
    """One step: A_t from (X_t, H_{t-1}) (eqs. 7-8), X~_t = A_t . X_t (eq. 9), ConvLSTM step on X~_t (eqs. 1-6).

    x (B, C, N, N), prev_h and prev_c (B, K, N, N) -> next_h, next_c (B, K, N, N), a (B, N, N), cache.
    """
    x_att, a, att_cache = spatial_attention_forward(x, prev_h, Wxa, Wha, ba, Wz)
    next_h, next_c, lstm_cache = conv_lstm_step_forward(x_att, prev_h, prev_c, Wx, Wh, b)
    return next_h, next_c, a, (att_cache, lstm_cache)


def conv_alstm_step_backward(dnext_h, dnext_c, cache):
    """-> dx, dprev_h, dprev_c, dWx, dWh, db, dWxa, dWha, dba, dWz."""
    att_cache, lstm_cache = cache
    dx_att, dprev_h, dprev_c, dWx, dWh, db = conv_lstm_step_backward(dnext_h, dnext_c, lstm_cache)
    dx, dh_att, dWxa, dWha, dba, dWz = spatial_attention_backward(dx_att, att_cache)
    return dx, dprev_h + dh_att, dprev_c, dWx, dWh, db, dWxa, dWha, dba, dWz


def conv_alstm_forward(x, h0, c0, Wx, Wh, b, Wxa, Wha, ba, Wz):
    """The ConvALSTM over T steps: x (B, T, C, N, N) -> h (B, T, K, N, N), attention maps (B, T, N, N), cache."""
    xp = array_module(x)
    B, T, _, N1, N2 = x.shape
    h = xp.empty((B, T) + h0.shape[1:], dtype=h0.dtype)
    att = xp.empty((B, T, N1, N2), dtype=h0.dtype)
    prev_h, prev_c, steps = h0, c0, []
    for t in range(T):
        prev_h, prev_c, att[:, t], step_cache = conv_alstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b,
                                                                        Wxa, Wha, ba, Wz)
        h[:, t] = prev_h
        steps.append(step_cache)
    return h, att, steps


def conv_alstm_backward(dh, cache):
    """BPTT: dh (B, T, K, N, N) -> dx (B, T, C, N, N), dh0, dc0, dWx, dWh, db, dWxa, dWha, dba, dWz."""
    xp = array_module(dh)
    steps = cache
    T = dh.shape[1]
    dprev_h = xp.zeros_like(dh[:, 0])
    dprev_c = xp.zeros_like(dprev_h)
    dxs, acc = [None] * T, None
    for t in reversed(range(T)):
        dxs[t], dprev_h, dprev_c, *dw = conv_alstm_step_backward(dh[:, t] + dprev_h, dprev_c, steps[t])
        acc = dw if acc is None else [a + g for a, g in zip(acc, dw)]
    return (xp.stack(dxs, axis=1), dprev_h, dprev_c, *acc)
