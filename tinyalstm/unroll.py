"""Unrolling an attention recurrence over time, and backpropagation through it: shared by the ConvALSTM
(conv_alstm.py) and Sharma's soft-attention LSTM (soft_attention_lstm.py), whose steps have the same contract:

    step_forward(x_t, prev_h, prev_c, *weights) -> next_h, next_c, attention_t, cache
    step_backward(dnext_h, dnext_c, cache) -> dx_t, dprev_h, dprev_c, *dweights
"""
from .backend import array_module


def unroll_forward(step_forward, x, h0, c0, weights):
    """x (B, T, ...) -> h (B, T, ...) all hidden states, attention (B, T, ...) of every step, caches."""
    xp = array_module(x)
    prev_h, prev_c, hs, atts, caches = h0, c0, [], [], []
    for t in range(x.shape[1]):
        prev_h, prev_c, att, cache = step_forward(x[:, t], prev_h, prev_c, *weights)
        hs.append(prev_h)
        atts.append(att)
        caches.append(cache)
    return xp.stack(hs, axis=1), xp.stack(atts, axis=1), caches


def unroll_backward(step_backward, dh, caches):
    """dh (B, T, ...) upstream gradient of every hidden state -> dx (B, T, ...), dh0, dc0, *dweights (summed
    over steps)."""
    xp = array_module(dh)
    T = dh.shape[1]
    dprev_h = xp.zeros_like(dh[:, 0])
    dprev_c = xp.zeros_like(dprev_h)
    dxs, acc = [None] * T, None
    for t in reversed(range(T)):
        dxs[t], dprev_h, dprev_c, *dw = step_backward(dh[:, t] + dprev_h, dprev_c, caches[t])
        acc = dw if acc is None else [a + g for a, g in zip(acc, dw)]
    return (xp.stack(dxs, axis=1), dprev_h, dprev_c, *acc)
