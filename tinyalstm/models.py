"""The whole models of aLSTM (Torabi & Sigal), each with a full hand-written backward pass.

Inputs follow the paper's names: input-data ``V (B, N, dv)`` read by the LSTM one vector per step (sec. 3.1) and
attended-data ``A (B, T, da)`` that the attention looks at (sec. 3.2); T may differ from N. Labels ``y (B,)``.

All models share the input layer of sec. 4.1 (``X = sigma(V W_in + b_in)``), dropout on the non-recurrent
connections (the LSTM input X and the hidden states fed to the classifier) and the class scores of eq. 13:

- ``LSTM``: the vanilla LSTM baseline (LSTM-C3D in Table 1): zero initial state, a score at every step; prediction
  = per-step softmax averaged over the N steps.
- ``aLSTM(variant='a')``: fig. 4a, the paper's model: attention at every step, per-step scores averaged.
- ``aLSTM(variant='b')``: fig. 4b: the first N-1 steps are plain LSTM steps, attention enters only the last step,
  and one score is computed from the last state.

The aLSTM initial state comes from the mean of the attended data (``initial_state_forward``).

Parameters live in ``model.params`` (a dict of arrays on the model's device); ``loss`` returns gradients in a dict
with the same keys, so any optimiser in optim.py can step them.
"""
import numpy as np

from . import backend
from .attention import alstm_backward, alstm_forward, alstm_step_backward, alstm_step_forward
from .checks import check_choice, check_float_array, check_labels, check_probability
from .layers import (affine_backward, affine_forward, dropout_backward, dropout_forward, dropout_mask, softmax,
                     sigmoid_input_backward, sigmoid_input_forward, stepwise_softmax_loss)
from .lstm import initial_state_backward, initial_state_forward, lstm_backward, lstm_forward


def _uniform(rng, fan_in, shape):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the usual recurrent-net initialisation."""
    s = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-s, s, size=shape)


class _Classifier:
    """What the models share: parameters, device, validation, dropout masks, loss and prediction."""

    uses_attended = False

    def __init__(self, shapes, fan_in, n_classes, dropout, seed, dtype):
        self.n_classes = int(n_classes)
        self.dropout = float(check_probability("dropout", dropout))
        self.dtype = np.dtype(dtype)
        if self.dtype.type not in (np.float32, np.float64):
            raise TypeError(f"dtype: expected float32 or float64, got {self.dtype}")
        rng = np.random.default_rng(seed)
        host = {name: (np.zeros(shape) if name.startswith("b") else _uniform(rng, fan_in[name], shape))
                for name, shape in shapes.items()}
        self.params = {name: backend.to_device(p, self.dtype) for name, p in host.items()}

    # -- inputs ---------------------------------------------------------------------------------------------
    def _inputs(self, V, A):
        V = check_float_array("V", V, 3, {2: self.params["W_in"].shape[0]})
        V = backend.to_device(V, self.dtype)
        if not self.uses_attended:
            if A is not None:
                raise ValueError(f"A: {type(self).__name__} reads no attended data, got an array of shape "
                                 f"{tuple(A.shape)}; pass A=None")
            return V, None
        if A is None:
            raise ValueError(f"A: {type(self).__name__} needs attended data (B, T, da), got None")
        A = check_float_array("A", A, 3, {0: V.shape[0], 2: self.params["Waa"].shape[0]})
        return V, backend.to_device(A, self.dtype)

    def _masks(self, V, rng):
        """Dropout keep-masks for the input X and the classifier's hidden states (None outside training)."""
        if rng is None or self.dropout == 0.0:
            return None, None
        B, N, dv = V.shape
        H = self.params["Wh"].shape[0]
        out_shape = (B, H) if getattr(self, "variant", "a") == "b" else (B, N, H)
        return (backend.to_device(dropout_mask((B, N, dv), self.dropout, rng, self.dtype)),
                backend.to_device(dropout_mask(out_shape, self.dropout, rng, self.dtype)))

    # -- public API -----------------------------------------------------------------------------------------
    def loss(self, V, y, A=None, rng=None):
        """Per-step softmax cross-entropy and its gradient with respect to every parameter.

        V (B, N, dv), y (B,) int, A (B, T, da) for attention models. ``rng`` (a numpy Generator) switches dropout
        on and draws its masks; ``rng=None`` evaluates without dropout. -> (loss float, grads dict like params).
        """
        loss, grads, _ = self.loss_and_input_grads(V, y, A, rng)
        return loss, grads

    def loss_and_input_grads(self, V, y, A=None, rng=None):
        """As ``loss``, plus the gradients with respect to the inputs: -> (loss, grads, {"V": dV, "A": dA})."""
        V, A = self._inputs(V, A)
        y = backend.to_device(check_labels("y", y, V.shape[0], self.n_classes))
        scores, _, cache = self._forward(V, A, *self._masks(V, rng))
        loss, dscores = stepwise_softmax_loss(scores, y)
        grads, dinputs = self._backward(dscores, cache)
        return float(loss), grads, dinputs

    def predict(self, V, A=None):
        """Class probabilities (B, C): per-step softmax averaged over steps (one step for variant b), and the
        attention weights (B, N, T) for variant a, (B, 1, T) for variant b, None for the vanilla LSTM."""
        V, A = self._inputs(V, A)
        scores, w, _ = self._forward(V, A, None, None)
        return softmax(scores).mean(axis=1), w

    # -- pieces shared by forward passes --------------------------------------------------------------------
    def _input_layer(self, V, mask_in):
        p = self.params
        X, in_cache = sigmoid_input_forward(V, p["W_in"], p["b_in"])
        X, drop_cache = dropout_forward(X, self.dropout, mask_in)
        return X, (in_cache, drop_cache)

    def _input_layer_backward(self, dX, cache, grads):
        in_cache, drop_cache = cache
        dV, grads["W_in"], grads["b_in"] = sigmoid_input_backward(dropout_backward(dX, drop_cache), in_cache)
        return dV

    def _head(self, h, mask_out):
        hd, drop_cache = dropout_forward(h, self.dropout, mask_out)
        scores, aff_cache = affine_forward(hd, self.params["Wy"], self.params["by"])
        return scores, (drop_cache, aff_cache)

    def _head_backward(self, dscores, cache, grads):
        drop_cache, aff_cache = cache
        dhd, grads["Wy"], grads["by"] = affine_backward(dscores, aff_cache)
        return dropout_backward(dhd, drop_cache)


class LSTM(_Classifier):
    """Vanilla LSTM over the input-data (aLSTM Table 1 "LSTM-C3D"): eqs. 7-13, zero initial state.

    input_dim dv, hidden H, n_classes C. ``dropout`` is the drop probability (sec. 4.1: 0.5).
    """

    def __init__(self, input_dim, hidden_dim, n_classes, dropout=0.5, seed=0, dtype=np.float32):
        dv, H, C = input_dim, hidden_dim, n_classes
        shapes = {"W_in": (dv, dv), "b_in": (dv,), "Wx": (dv, 4 * H), "Wh": (H, 4 * H), "b": (4 * H,),
                  "Wy": (H, C), "by": (C,)}
        fan_in = {"W_in": dv, "Wx": dv + H, "Wh": dv + H, "Wy": H}
        super().__init__(shapes, fan_in, C, dropout, seed, dtype)

    def _forward(self, V, A, mask_in, mask_out):
        p = self.params
        X, in_cache = self._input_layer(V, mask_in)
        zeros = backend.array_module(V).zeros((V.shape[0], p["Wh"].shape[0]), dtype=V.dtype)
        h, _, lstm_cache = lstm_forward(X, zeros, zeros, p["Wx"], p["Wh"], p["b"])
        scores, head_cache = self._head(h, mask_out)
        return scores, None, (in_cache, lstm_cache, head_cache)

    def _backward(self, dscores, cache):
        in_cache, lstm_cache, head_cache = cache
        g = {}
        dh = self._head_backward(dscores, head_cache, g)
        dX, _, _, g["Wx"], g["Wh"], g["b"] = lstm_backward(dh, lstm_cache)
        return g, {"V": self._input_layer_backward(dX, in_cache, g)}


class aLSTM(_Classifier):  # noqa: N801 -- the paper's name; VideoLSTM's spatial "ALSTM" is a different model
    """Attention LSTM decoder with soft temporal attention (aLSTM eqs. 3-13, fig. 4).

    input_dim dv, attended_dim da, hidden_dim H (paper: 512), match_dim M (matching-vector size, paper: 512),
    n_classes C, variant 'a' (attention at every step, scores averaged; the paper's model) or 'b' (attention at
    the last step only, one score). ``dropout`` is the drop probability (sec. 4.1: 0.5).
    """

    uses_attended = True

    def __init__(self, input_dim, attended_dim, hidden_dim, match_dim, n_classes, variant="a", dropout=0.5,
                 seed=0, dtype=np.float32):
        self.variant = check_choice("variant", variant, ("a", "b"))
        dv, da, H, M, C = input_dim, attended_dim, hidden_dim, match_dim, n_classes
        shapes = {"W_in": (dv, dv), "b_in": (dv,), "Wx": (dv, 4 * H), "Wh": (H, 4 * H), "Wk": (da, 4 * H),
                  "b": (4 * H,), "Wah": (H, M), "Waa": (da, M), "ba": (M,), "u": (M,),
                  "W_h0": (da, H), "b_h0": (H,), "W_c0": (da, H), "b_c0": (H,), "Wy": (H, C), "by": (C,)}
        gate_fan = dv + H + da
        fan_in = {"W_in": dv, "Wx": gate_fan, "Wh": gate_fan, "Wk": gate_fan, "Wah": H + da, "Waa": H + da,
                  "u": M, "W_h0": da, "W_c0": da, "Wy": H}
        super().__init__(shapes, fan_in, C, dropout, seed, dtype)

    def _weights(self):
        p = self.params
        return p["Wx"], p["Wh"], p["Wk"], p["b"], p["Wah"], p["Waa"], p["ba"], p["u"]

    def _forward(self, V, A, mask_in, mask_out):
        p = self.params
        X, in_cache = self._input_layer(V, mask_in)
        h0, c0, init_cache = initial_state_forward(A, p["W_h0"], p["b_h0"], p["W_c0"], p["b_c0"])
        if self.variant == "a":
            h, w, dec_cache = alstm_forward(X, h0, c0, A, *self._weights())
            scores, head_cache = self._head(h, mask_out)
            return scores, w, (in_cache, init_cache, dec_cache, head_cache)
        N = X.shape[1]
        h, c, lstm_cache = lstm_forward(X[:, :N - 1], h0, c0, p["Wx"], p["Wh"], p["b"])
        prev_h, prev_c = (h[:, -1], c[:, -1]) if N > 1 else (h0, c0)
        hN, _, _, w, step_cache = alstm_step_forward(X[:, N - 1], prev_h, prev_c, A, *self._weights())
        scores, head_cache = self._head(hN, mask_out)
        return scores[:, None, :], w[:, None, :], (in_cache, init_cache, (lstm_cache, step_cache), head_cache)

    def _backward(self, dscores, cache):
        in_cache, init_cache, dec_cache, head_cache = cache
        g = {}
        xp = backend.array_module(dscores)
        if self.variant == "a":
            dh = self._head_backward(dscores, head_cache, g)
            (dX, dh0, dc0, dA, g["Wx"], g["Wh"], g["Wk"], g["b"], g["Wah"], g["Waa"], g["ba"],
             g["u"]) = alstm_backward(dh, dec_cache)
        else:
            lstm_cache, step_cache = dec_cache
            dhN = self._head_backward(dscores[:, 0], head_cache, g)
            (dx_last, dprev_h, dprev_c, dA, g["Wx"], g["Wh"], g["Wk"], g["b"], g["Wah"], g["Waa"], g["ba"],
             g["u"]) = alstm_step_backward(dhN, xp.zeros_like(dhN), step_cache)
            B, H = dhN.shape
            N = lstm_cache[0].shape[1] + 1
            dh = xp.zeros((B, N - 1, H), dtype=dhN.dtype)
            if N > 1:
                dh[:, -1] = dprev_h
                dX_first, dh0, dc0, dWx, dWh, db = lstm_backward(dh, lstm_cache, dc_last=dprev_c)
                g["Wx"], g["Wh"], g["b"] = g["Wx"] + dWx, g["Wh"] + dWh, g["b"] + db
            else:
                dX_first, dh0, dc0 = dx_last[:, None, :][:, :0], dprev_h, dprev_c
            dX = xp.concatenate([dX_first, dx_last[:, None, :]], axis=1)
        dA_init, g["W_h0"], g["b_h0"], g["W_c0"], g["b_c0"] = initial_state_backward(dh0, dc0, init_cache)
        return g, {"V": self._input_layer_backward(dX, in_cache, g), "A": dA + dA_init}
