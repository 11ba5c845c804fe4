"""The models of aLSTM (Torabi & Sigal, "Action Classification and Highlighting in Videos", arXiv 1708.09522).

Inputs follow the paper's names: input-data ``V (B, N, dv)`` read by the LSTM one vector per step (sec. 3.1) and
attended-data ``A (B, T, da)`` that the attention looks at (sec. 3.2); T may differ from N. Labels ``y (B,)``.

All three share the input layer of sec. 4.1 (``X = sigma(V W_in + b_in)``), dropout on the non-recurrent
connections (the LSTM input X and the hidden states fed to the classifier) and the class scores of eq. 13:

- ``LSTM``: the vanilla LSTM baseline (LSTM-C3D in Table 1): zero initial state, a score at every step; prediction
  = per-step softmax averaged over the N steps.
- ``aLSTM``: fig. 4a, the paper's model: attention at every step, per-step scores averaged.
- ``aLSTMb``: fig. 4b: the first N-1 steps are plain LSTM steps, attention enters only the last step, and one score
  is computed from the last state.

The aLSTM initial state comes from the mean of the attended data (``initial_state_forward``). Parameters, loss,
prediction and the head come from ``models.base.Classifier``.
"""
from typing import NamedTuple

import numpy as np

from .. import backend
from ..layers.alstm_decoder import alstm_backward, alstm_forward, alstm_step_backward, alstm_step_forward
from ..layers.feedforward import (SigmoidInputCache, dropout_backward, dropout_forward, sigmoid_input_backward,
                                  sigmoid_input_forward)
from ..layers.lstm import initial_state_backward, initial_state_forward, lstm_backward, lstm_forward
from .base import VECTORS, Classifier, HeadCache

DECODER = ("Wx", "Wh", "Wk", "b", "Wah", "Waa", "ba", "u")      # alstm_forward's weights, in its argument order
INITIAL = ("W_h0", "b_h0", "W_c0", "b_c0")


class InputCache(NamedTuple):
    layer: SigmoidInputCache
    drop: object                  # dropout scale on X (None without dropout)


class LSTMCache(NamedTuple):
    input: InputCache
    lstm: object                  # layers.lstm.SequenceCache
    head: HeadCache


class LastStepDecoderCache(NamedTuple):
    """aLSTM (b)'s decoder: the plain LSTM over steps 1..N-1 (None when N = 1), then one decoder step."""
    lstm: object                  # layers.lstm.SequenceCache or None
    step: object                  # layers.alstm_decoder.DecoderStepCache


class ALSTMCache(NamedTuple):
    input: InputCache
    initial: object               # layers.lstm.InitialStateCache
    decoder: object               # DecoderCache (aLSTM) or LastStepDecoderCache (aLSTMb)
    head: HeadCache


class _SigmoidInput(Classifier):
    """The input layer of sec. 4.1 and the sizes every aLSTM model checks; not a model itself."""

    kind = VECTORS
    input_dropout = True

    def _input_layer(self, V, mask):
        X, layer = sigmoid_input_forward(V, self.params["W_in"], self.params["b_in"])
        X, drop = dropout_forward(X, self.dropout, mask)
        return X, InputCache(layer, drop)

    def _input_layer_backward(self, dX, cache, g):
        dV, g["W_in"], g["b_in"] = sigmoid_input_backward(dropout_backward(dX, cache.drop), cache.layer)
        return dV


class LSTM(_SigmoidInput):
    """Vanilla LSTM over the input-data (aLSTM Table 1 "LSTM-C3D"): eqs. 7-13, zero initial state.

    input_dim dv, hidden H, n_classes C. ``dropout`` is the drop probability (sec. 4.1: 0.5). ``multilabel``: a
    sigmoid per class and the multi-label loss (``stepwise_sigmoid_loss``; labels (B, C) of 0/1) instead of the
    softmax.
    """

    def __init__(self, input_dim, hidden_dim, n_classes, dropout=0.5, seed=0, dtype=np.float32, multilabel=False):
        dv, H = input_dim, hidden_dim
        shapes = {"W_in": (dv, dv), "b_in": (dv,), "Wx": (dv, 4 * H), "Wh": (H, 4 * H), "b": (4 * H,)}
        super().__init__(shapes, n_classes, H, None, dropout, seed, dtype, {2: dv}, fan_in={"Wx": dv + H, "Wh": dv + H})
        self.multilabel = bool(multilabel)

    def _forward(self, V, A, masks):
        p = self.params
        X, in_cache = self._input_layer(V, masks.input)
        zeros = backend.array_module(V).zeros((V.shape[0], p["Wh"].shape[0]), dtype=V.dtype)
        h, _, lstm_cache = lstm_forward(X, zeros, zeros, p["Wx"], p["Wh"], p["b"])
        scores, head_cache = self._head_forward(h, masks.head)
        return scores, None, LSTMCache(in_cache, lstm_cache, head_cache)

    def _backward(self, dscores, cache, datt=None):
        g = {}
        dh = self._head_backward(dscores, cache.head, g)
        dX, _, _, g["Wx"], g["Wh"], g["b"] = lstm_backward(dh, cache.lstm)
        return g, {"V": self._input_layer_backward(dX, cache.input, g)}


class aLSTM(_SigmoidInput):  # noqa: N801 -- the paper's name; VideoLSTM's spatial "ALSTM" is a different model
    """Attention LSTM decoder with soft temporal attention at every step (aLSTM eqs. 3-13, fig. 4a).

    input_dim dv, attended_dim da, hidden_dim H (paper: 512), match_dim M (matching-vector size, paper: 512),
    n_classes C. ``dropout`` is the drop probability (sec. 4.1: 0.5). ``multilabel`` as ``LSTM``'s (Hollywood2's
    clips carry several actions).
    """

    reads_second = True

    def __init__(self, input_dim, attended_dim, hidden_dim, match_dim, n_classes, dropout=0.5, seed=0,
                 dtype=np.float32, multilabel=False):
        dv, da, H, M = input_dim, attended_dim, hidden_dim, match_dim
        shapes = {"W_in": (dv, dv), "b_in": (dv,), "Wx": (dv, 4 * H), "Wh": (H, 4 * H), "Wk": (da, 4 * H),
                  "b": (4 * H,), "Wah": (H, M), "Waa": (da, M), "ba": (M,), "u": (M,),
                  "W_h0": (da, H), "b_h0": (H,), "W_c0": (da, H), "b_c0": (H,)}
        gate_fan = dv + H + da
        fan_in = {"Wx": gate_fan, "Wh": gate_fan, "Wk": gate_fan, "Wah": H + da, "Waa": H + da}
        super().__init__(shapes, n_classes, H, None, dropout, seed, dtype, {2: dv}, da, fan_in)
        self.multilabel = bool(multilabel)

    def _forward(self, V, A, masks):
        X, in_cache = self._input_layer(V, masks.input)
        h0, c0, init_cache = initial_state_forward(A, *self._weights(INITIAL))
        h, w, dec_cache = alstm_forward(X, h0, c0, A, *self._weights(DECODER))
        scores, head_cache = self._head_forward(h, masks.head)
        return scores, w, ALSTMCache(in_cache, init_cache, dec_cache, head_cache)

    def _backward(self, dscores, cache, datt=None):
        g = {}
        dh = self._head_backward(dscores, cache.head, g)
        dX, dh0, dc0, dA, *dw = alstm_backward(dh, cache.decoder)
        g.update(zip(DECODER, dw))
        return g, self._initial_and_input_backward(dX, dh0, dc0, dA, cache, g)

    def _initial_and_input_backward(self, dX, dh0, dc0, dA, cache, g):
        dA_init, *dw = initial_state_backward(dh0, dc0, cache.initial)
        g.update(zip(INITIAL, dw))
        return {"V": self._input_layer_backward(dX, cache.input, g), "A": dA + dA_init}


class aLSTMb(aLSTM):  # noqa: N801
    """aLSTM variant (b) (fig. 4b): plain LSTM steps 1..N-1 (the same gate weights, no context), then one decoder
    step whose gates also read the context computed from h_{N-1}, and one score from h_N. Arguments as ``aLSTM``.
    ``predict`` returns attention weights (B, 1, T)."""

    def _head_mask_shape(self, first):
        return (first.shape[0], self.params["Wy"].shape[0])

    def _forward(self, V, A, masks):
        p = self.params
        X, in_cache = self._input_layer(V, masks.input)
        h0, c0, init_cache = initial_state_forward(A, *self._weights(INITIAL))
        N = X.shape[1]
        lstm_cache = None
        prev_h, prev_c = h0, c0
        if N > 1:
            h, c, lstm_cache = lstm_forward(X[:, :N - 1], h0, c0, p["Wx"], p["Wh"], p["b"])
            prev_h, prev_c = h[:, -1], c[:, -1]
        hN, _, _, w, step_cache = alstm_step_forward(X[:, N - 1], prev_h, prev_c, A, *self._weights(DECODER))
        scores, head_cache = self._head_forward(hN, masks.head)
        return scores[:, None, :], w[:, None, :], ALSTMCache(in_cache, init_cache,
                                                             LastStepDecoderCache(lstm_cache, step_cache), head_cache)

    def _backward(self, dscores, cache, datt=None):
        g = {}
        xp = backend.array_module(dscores)
        lstm_cache, step_cache = cache.decoder.lstm, cache.decoder.step
        dhN = self._head_backward(dscores[:, 0], cache.head, g)
        dx_last, dprev_h, dprev_c, dA, *dw = alstm_step_backward(dhN, xp.zeros_like(dhN), step_cache)
        g.update(zip(DECODER, dw))
        dX = dx_last[:, None, :]
        dh0, dc0 = dprev_h, dprev_c
        if lstm_cache is not None:
            B, H = dhN.shape
            dh = xp.zeros((B, lstm_cache.x.shape[1], H), dtype=dhN.dtype)
            dh[:, -1] = dprev_h
            dX_first, dh0, dc0, dWx, dWh, db = lstm_backward(dh, lstm_cache, dc_last=dprev_c)
            g["Wx"], g["Wh"], g["b"] = g["Wx"] + dWx, g["Wh"] + dWh, g["b"] + db
            dX = xp.concatenate([dX_first, dX], axis=1)
        return g, self._initial_and_input_backward(dX, dh0, dc0, dA, cache, g)
