"""The Convolutional ALSTM recurrence (VideoLSTM sec. 3.1): spatial attention (eqs. 7-9) from H_{t-1} on the
input map X_t, then the ConvLSTM (eqs. 1-6) on the attended map X~_t = A_t . X_t.

Shapes: X (B, T, C, N, N); H, C states (B, K, N, N); gate weights Wx (4K, C, k, k), Wh (4K, K, k, k), b (4K,);
attention weights Wxa (Ka, C, ka, ka), Wha (Ka, K, ka, ka), ba (Ka,), Wz (1, Ka, kz, kz) (see
spatial_attention.py for the 1x1-vs-kxk choice).
"""
from typing import NamedTuple

from .conv_lstm import ConvLSTMStepCache, conv_lstm_step_backward, conv_lstm_step_forward
from .spatial_attention import SpatialAttentionCache, spatial_attention_backward, spatial_attention_forward
from .unroll import unroll_backward, unroll_forward


class ConvALSTMStepCache(NamedTuple):
    attention: SpatialAttentionCache
    lstm: ConvLSTMStepCache


def conv_alstm_step_forward(x, prev_h, prev_c, Wx, Wh, b, Wxa, Wha, ba, Wz):
    """One step: A_t from (X_t, H_{t-1}) (eqs. 7-8), X~_t = A_t . X_t (eq. 9), ConvLSTM step on X~_t (eqs. 1-6).

    x (B, C, N, N), prev_h and prev_c (B, K, N, N) -> next_h, next_c (B, K, N, N), a (B, N, N), cache.
    """
    x_att, a, att_cache = spatial_attention_forward(x, prev_h, Wxa, Wha, ba, Wz)
    next_h, next_c, lstm_cache = conv_lstm_step_forward(x_att, prev_h, prev_c, Wx, Wh, b)
    return next_h, next_c, a, ConvALSTMStepCache(att_cache, lstm_cache)


def conv_alstm_step_backward(dnext_h, dnext_c, cache, da=None):
    """da (B, N, N): optional direct gradient of the step's map -> dx, dprev_h, dprev_c, dWx, dWh, db, dWxa, dWha,
    dba, dWz."""
    dx_att, dprev_h, dprev_c, dWx, dWh, db = conv_lstm_step_backward(dnext_h, dnext_c, cache.lstm)
    dx, dh_att, dWxa, dWha, dba, dWz = spatial_attention_backward(dx_att, cache.attention, da)
    return dx, dprev_h + dh_att, dprev_c, dWx, dWh, db, dWxa, dWha, dba, dWz


def conv_alstm_forward(x, h0, c0, Wx, Wh, b, Wxa, Wha, ba, Wz):
    """The ConvALSTM over T steps: x (B, T, C, N, N) -> h (B, T, K, N, N), attention maps (B, T, N, N), cache."""
    return unroll_forward(conv_alstm_step_forward, (x,), (h0, c0), (Wx, Wh, b, Wxa, Wha, ba, Wz))


def conv_alstm_backward(dh, cache, datt=None):
    """BPTT: dh (B, T, K, N, N), optional datt (B, T, N, N) direct gradient of the maps -> dx (B, T, C, N, N),
    dh0, dc0, dWx, dWh, db, dWxa, dWha, dba, dWz."""
    return unroll_backward(conv_alstm_step_backward, dh, cache, datt)
