"""Motion-based attention, the two-layer VideoLSTM recurrence (VideoLSTM sec. 3.2, eqs. 10-15 with 7-9 and 1-6).

At every step t:

1. the bottom (flow) ConvLSTM reads the flow map M_t, its own H^m_{t-1} and the top layer's H_{t-1} (eqs. 10-15):
   gates = W^m_x * M_t + W^m_h * H^m_{t-1} + W^m_e * H_{t-1} + b^m;
2. the attention map comes from the flow layer's *current* state H^m_t (eqs. 7-8 with H^m_t for H_{t-1}) and
   weights the RGB map: X~_t = A_t . X_t (eq. 9);
3. the top ConvLSTM steps on X~_t (eqs. 1-6).

W^m_x * M_t + W^m_e * H_{t-1} equals one convolution of the channel-stacked input [M_t; H_{t-1}] with the
kernels stacked the same way, so the flow layer is ``conv_lstm_step_forward`` on that stacked input with
``Wmx (4Km, Cm + K, k, k)`` (first Cm input channels: W^m_x, last K: W^m_e).

Shapes: X (B, T, C, N, N) RGB maps, M (B, T, Cm, N, N) flow maps, top states (B, K, N, N), flow states
(B, Km, N, N). Weights, in this order everywhere: the top ConvLSTM's Wx (4K, C, k, k), Wh (4K, K, k, k),
b (4K,); the flow ConvLSTM's Wmx (4Km, Cm + K, k, k), Wmh (4Km, Km, k, k), bm (4Km,); the attention's
Wxa (Ka, C, ka, ka), Wha (Ka, Km, ka, ka) (it reads the flow state), ba (Ka,), Wz (1, Ka, kz, kz).
"""
from typing import NamedTuple

from ..backend import array_module
from .conv_lstm import ConvLSTMStepCache, conv_lstm_step_backward, conv_lstm_step_forward
from .spatial_attention import SpatialAttentionCache, spatial_attention_backward, spatial_attention_forward
from .unroll import unroll_backward, unroll_forward


class VideoLSTMStepCache(NamedTuple):
    flow_channels: int               # Cm: where [M_t; H_{t-1}] splits
    flow: ConvLSTMStepCache
    attention: SpatialAttentionCache
    top: ConvLSTMStepCache


def videolstm_step_forward(x, m, prev_h, prev_c, prev_hm, prev_cm, Wx, Wh, b, Wmx, Wmh, bm, Wxa, Wha, ba, Wz):
    """One VideoLSTM step: x (B, C, N, N), m (B, Cm, N, N), top state prev_h, prev_c (B, K, N, N), flow state
    prev_hm, prev_cm (B, Km, N, N), weights as in the module docstring
    -> next_h, next_c (B, K, N, N), next_hm, next_cm (B, Km, N, N), a (B, N, N), cache.
    """
    xp = array_module(x)
    hm, cm, flow_cache = conv_lstm_step_forward(xp.concatenate([m, prev_h], axis=1), prev_hm, prev_cm, Wmx, Wmh, bm)
    x_att, a, att_cache = spatial_attention_forward(x, hm, Wxa, Wha, ba, Wz)
    h, c, top_cache = conv_lstm_step_forward(x_att, prev_h, prev_c, Wx, Wh, b)
    return h, c, hm, cm, a, VideoLSTMStepCache(m.shape[1], flow_cache, att_cache, top_cache)


def videolstm_step_backward(dnext_h, dnext_c, dnext_hm, dnext_cm, cache, da=None):
    """da (B, N, N): optional direct gradient of the step's map -> dx, dm, dprev_h, dprev_c, dprev_hm, dprev_cm,
    dWx, dWh, db, dWmx, dWmh, dbm, dWxa, dWha, dba, dWz."""
    Cm = cache.flow_channels
    dx_att, dprev_h, dprev_c, *dtop = conv_lstm_step_backward(dnext_h, dnext_c, cache.top)
    dx, dhm_att, *datt = spatial_attention_backward(dx_att, cache.attention, da)
    dmh, dprev_hm, dprev_cm, *dflow = conv_lstm_step_backward(dnext_hm + dhm_att, dnext_cm, cache.flow)
    return (dx, dmh[:, :Cm], dprev_h + dmh[:, Cm:], dprev_c, dprev_hm, dprev_cm, *dtop, *dflow, *datt)


def videolstm_forward(x, m, h0, c0, hm0, cm0, Wx, Wh, b, Wmx, Wmh, bm, Wxa, Wha, ba, Wz):
    """VideoLSTM over T steps: x (B, T, C, N, N), m (B, T, Cm, N, N), initial states as in the step
    -> h (B, T, K, N, N) top hidden states, attention maps (B, T, N, N), cache."""
    return unroll_forward(videolstm_step_forward, (x, m), (h0, c0, hm0, cm0),
                          (Wx, Wh, b, Wmx, Wmh, bm, Wxa, Wha, ba, Wz))


def videolstm_backward(dh, cache, datt=None):
    """BPTT: dh (B, T, K, N, N), optional datt (B, T, N, N) direct gradient of the maps -> dx, dm, dh0, dc0, dhm0,
    dcm0, dWx, dWh, db, dWmx, dWmh, dbm, dWxa, dWha, dba, dWz (weight gradients summed over steps)."""
    return unroll_backward(videolstm_step_backward, dh, cache, datt)
