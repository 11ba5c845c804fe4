"""Unrolling an attention recurrence over time, and backpropagation through it: one loop for every recurrence
whose step is a function of this contract (CS231n's, with the state and the inputs of a step spelled out):

    step_forward(*inputs_t, *prev_state, *weights) -> (*next_state, attention_t, cache)
    step_backward(*dnext_state, cache, datt_t)     -> (*dinputs_t, *dprev_state, *dweights)

The first state is the hidden state the sequence returns (and the one the upstream gradient ``dh`` reaches); the
gradients come back in the order of the forward's arguments; ``datt_t`` is a direct gradient of the step's
attention (from a loss term on the attention itself, attention_penalty.py) or None. It serves the ConvALSTM
(conv_alstm.py; inputs X_t, state H, C) and Sharma's ALSTM (sharma_alstm.py), and the two-layer motion-attention
recurrences, VideoLSTM (motion_attention.py; inputs X_t, M_t, state H, C, H^m, C^m) and its fully connected
analogue.
"""
from typing import NamedTuple

from ..backend import array_module


class UnrollCache(NamedTuple):
    n_inputs: int        # how many per-step inputs the step reads
    state_shapes: list   # the shape of every state
    steps: list          # the step's cache at every t


def unroll_forward(step_forward, inputs, state0, weights):
    """Run ``step_forward`` for t = 0..T-1.

    inputs: tuple of (B, T, ...) arrays, sliced at t for the step; state0: tuple of initial states (first: the
    hidden state); weights: tuple passed to every step
    -> h (B, T, ...) the first state after every step, attention (B, T, ...) of every step, cache.
    """
    xp = array_module(inputs[0])
    state, hs, atts, steps = tuple(state0), [], [], []
    for t in range(inputs[0].shape[1]):
        *state, att, cache = step_forward(*(x[:, t] for x in inputs), *state, *weights)
        hs.append(state[0])
        atts.append(att)
        steps.append(cache)
    return xp.stack(hs, axis=1), xp.stack(atts, axis=1), UnrollCache(len(inputs), [s.shape for s in state0], steps)


def unroll_backward(step_backward, dh, cache, datt=None):
    """BPTT: dh (B, T, ...) upstream gradient of every hidden state, datt (B, T, ...) optional direct gradient of
    every step's attention -> (*dinputs (B, T, ...) each, *dstate0, *dweights summed over steps), in the
    forward's argument order."""
    xp = array_module(dh)
    n_in, T = cache.n_inputs, dh.shape[1]
    dstate = [xp.zeros(shape, dtype=dh.dtype) for shape in cache.state_shapes]
    dinputs, acc = [[None] * T for _ in range(n_in)], None
    for t in reversed(range(T)):
        dstate[0] = dstate[0] + dh[:, t]
        grads = step_backward(*dstate, cache.steps[t], None if datt is None else datt[:, t])
        for i in range(n_in):
            dinputs[i][t] = grads[i]
        dstate = list(grads[n_in:n_in + len(dstate)])
        dw = grads[n_in + len(dstate):]
        acc = list(dw) if acc is None else [a + g for a, g in zip(acc, dw)]
    return (*(xp.stack(d, axis=1) for d in dinputs), *dstate, *acc)
