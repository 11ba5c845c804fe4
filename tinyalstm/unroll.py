"""Unrolling an attention recurrence over time, and backpropagation through it.

``unroll_forward/backward``: one layer, shared by the ConvALSTM (conv_alstm.py) and Sharma's soft-attention LSTM
(soft_attention_lstm.py), whose steps have the same contract:

    step_forward(x_t, prev_h, prev_c, *weights) -> next_h, next_c, attention_t, cache
    step_backward(dnext_h, dnext_c, cache) -> dx_t, dprev_h, dprev_c, *dweights

``unroll_motion_forward/backward``: the two-layer motion-attention recurrences, VideoLSTM (motion_attention.py) and
its fully connected analogue (soft_attention_lstm.py), where a flow layer (state hm, cm) reads m_t and drives the
attention of the top layer (state h, c) on x_t:

    step_forward(x_t, m_t, prev_h, prev_c, prev_hm, prev_cm, top, flow, att)
        -> next_h, next_c, next_hm, next_cm, attention_t, cache
    step_backward(dnext_h, dnext_c, dnext_hm, dnext_cm, cache)
        -> dx_t, dm_t, dprev_h, dprev_c, dprev_hm, dprev_cm, dtop, dflow, datt   (d* of the weight tuples)
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


def unroll_motion_forward(step_forward, x, m, h0, c0, hm0, cm0, top, flow, att):
    """x (B, T, ...), m (B, T, ...) -> h (B, T, ...) top hidden states, attention (B, T, ...), cache."""
    xp = array_module(x)
    state, hs, atts, caches = (h0, c0, hm0, cm0), [], [], []
    for t in range(x.shape[1]):
        *state, a, cache = step_forward(x[:, t], m[:, t], *state, top, flow, att)
        hs.append(state[0])
        atts.append(a)
        caches.append(cache)
    return xp.stack(hs, axis=1), xp.stack(atts, axis=1), (hm0.shape, caches)


def unroll_motion_backward(step_backward, dh, cache):
    """BPTT: dh (B, T, ...) -> dx, dm, dh0, dc0, dhm0, dcm0, dtop, dflow, datt (weight gradients summed over
    steps, grouped as the step's weight tuples)."""
    xp = array_module(dh)
    flow_shape, caches = cache
    T = dh.shape[1]
    dprev_h = xp.zeros_like(dh[:, 0])
    dprev_c = xp.zeros_like(dprev_h)
    dprev_hm = xp.zeros(flow_shape, dtype=dh.dtype)
    dprev_cm = xp.zeros_like(dprev_hm)
    dxs, dms, acc = [None] * T, [None] * T, None
    for t in reversed(range(T)):
        dxs[t], dms[t], dprev_h, dprev_c, dprev_hm, dprev_cm, *dw = step_backward(
            dh[:, t] + dprev_h, dprev_c, dprev_hm, dprev_cm, caches[t])
        sizes = [len(group) for group in dw]
        dw = [g for group in dw for g in group]
        acc = dw if acc is None else [a + g for a, g in zip(acc, dw)]
    groups, i = [], 0
    for n in sizes:
        groups.append(tuple(acc[i:i + n]))
        i += n
    return (xp.stack(dxs, axis=1), xp.stack(dms, axis=1), dprev_h, dprev_c, dprev_hm, dprev_cm, *groups)
