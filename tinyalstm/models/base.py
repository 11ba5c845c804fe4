"""The one classifier base behind every model of both papers.

A model keeps its parameters in ``params`` (a dict of arrays on its device) and implements two methods,

    _forward(first, second, masks) -> scores (B, S, C), attention or None, cache
    _backward(dscores, cache)      -> grads (dict keyed like params), input gradients {name: array}

where ``first`` and ``second`` are its inputs (``inputs`` names them: aLSTM's input-data V and attended-data A,
VideoLSTM's feature maps X and flow maps M) and S is the number of scored steps. The base does the rest: the
parameter initialisation, input validation, dropout masks, the per-step loss (aLSTM eq. 13; VideoLSTM's loss over
all steps), prediction and the classification head.

The head (``_head_forward``) maps hidden states (..., width) (each step's state flattened by the model) to class
scores: where the model has one (``fc_dim``, the VideoLSTM models), a fully connected tanh layer; dropout; the
class scores.
"""
from typing import NamedTuple, Optional

import numpy as np

from .. import backend
from ..checks import check_float_array, check_labels, check_multilabels, check_probability
from ..layers.attention_penalty import attention_penalty_backward, attention_penalty_forward
from ..layers.feedforward import (AffineCache, affine_backward, affine_forward, dropout_backward, dropout_forward,
                                  dropout_mask, softmax, stepwise_sigmoid_loss, stepwise_softmax_loss, tanh_backward,
                                  tanh_forward)


class InputKind(NamedTuple):
    """The inputs of one paper's models."""
    rank: int            # 3: vectors (B, steps, features); 5: maps (B, T, C, N, N)
    first: str           # the first input's name
    second: str          # the second input's name (for the models that read one)
    second_what: str     # what the second input is, for error messages
    second_shape: str


VECTORS = InputKind(3, "V", "A", "attended data", "(B, T, da)")                      # aLSTM
MAPS = InputKind(5, "X", "M", "flow maps", "(B, T, Cm, N, N) for its motion-based attention")  # VideoLSTM


class Masks(NamedTuple):
    """Dropout keep-masks of one training step (None: no dropout there)."""
    input: object = None   # (B, N, dv) on aLSTM's input layer (sec. 4.1)
    head: object = None    # (B, S, width) before the class scores


class HeadCache(NamedTuple):
    fc: Optional[AffineCache]     # the FC layer (None without one)
    act: object                   # its tanh output (None without one)
    drop: object                  # dropout scale (None without dropout)
    out: AffineCache              # the class-score layer


def init_params(shapes, seed, fan_in=None):
    """Host float64 parameters: biases (names starting with 'b') zero, every other array drawn from
    U(-1/sqrt(f), 1/sqrt(f)), the usual recurrent-net initialisation, with f = ``fan_in[name]`` where given, else
    the array's own fan-in (C k k of a conv kernel (K, C, k, k), D of a matrix (D, M) or a vector (M,))."""
    fan_in = fan_in or {}
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in shapes.items():
        if name.startswith("b"):
            params[name] = np.zeros(shape)
            continue
        f = fan_in.get(name) or (int(np.prod(shape[1:])) if len(shape) == 4 else shape[0])
        params[name] = rng.uniform(-1, 1, size=shape) / np.sqrt(f)
    return params


class Classifier:
    """What every model shares; see the module docstring for the two methods a model adds.

    ``shapes`` the model's own parameters (the head's are added here), ``head_width`` the size of one step's
    flattened hidden state, ``fc_dim`` the head's fully connected size (None: scores straight from the state),
    ``dropout`` the drop probability, ``input_sizes`` {axis: size} the first input must have (e.g. {2: dv}),
    ``second_size`` the second input's feature size (axis 2), ``fan_in`` initialisation overrides (see
    ``init_params``).
    """

    kind = VECTORS             # the paper's inputs (VECTORS: V, A; MAPS: X, M)
    reads_second = False       # whether the model reads the second input (A or M)
    input_dropout = False      # aLSTM sec. 4.1: dropout on the input layer too, not only before the scores

    def __init__(self, shapes, n_classes, head_width, fc_dim, dropout, seed, dtype, input_sizes, second_size=None,
                 fan_in=None):
        self.n_classes = int(n_classes)
        self.input_sizes, self.second_size = dict(input_sizes), second_size
        self.dropout = float(check_probability("dropout", dropout))
        self.dtype = np.dtype(dtype)
        if self.dtype.type not in (np.float32, np.float64):
            raise TypeError(f"dtype: expected float32 or float64, got {self.dtype}")
        head = {"W_fc": (head_width, fc_dim), "b_fc": (fc_dim,)} if fc_dim else {}
        width = fc_dim or head_width
        shapes = {**shapes, **head, "Wy": (width, self.n_classes), "by": (self.n_classes,)}
        self.params = {k: backend.to_device(v, self.dtype) for k, v in init_params(shapes, seed, fan_in).items()}

    def _head_mask_shape(self, first):
        """The shape of the head's input (..., width): (B, steps, width) unless a model scores fewer steps."""
        return first.shape[:2] + (self.params["Wy"].shape[0],)

    @property
    def inputs(self):
        """The names of the arrays loss() and predict() read, in order: ("V", "A"), ("X",), ("X", "M")..."""
        return (self.kind.first, self.kind.second) if self.reads_second else (self.kind.first,)

    # -- inputs ---------------------------------------------------------------------------------------------
    def _inputs(self, first, second):
        kind, model = self.kind, type(self).__name__
        first = check_float_array(kind.first, first, kind.rank, self.input_sizes)
        if not self.reads_second:
            if second is not None:
                raise ValueError(f"{kind.second}: {model} reads no {kind.second_what}, got shape "
                                 f"{tuple(second.shape)}; pass {kind.second}=None")
            return backend.to_device(first, self.dtype), None
        if second is None:
            raise ValueError(f"{kind.second}: {model} needs {kind.second_what} {kind.second_shape}, got None")
        second = self._check_second(second, first)
        return backend.to_device(first, self.dtype), backend.to_device(second, self.dtype)

    def _check_second(self, second, first):
        """Vectors (aLSTM's A): the same batch as V, T may differ from N. Maps (VideoLSTM's M): the same batch,
        time and map size as X."""
        name, size = self.kind.second, self.second_size
        if self.kind.rank == 3:
            return check_float_array(name, second, 3, {0: first.shape[0], 2: size})
        second = check_float_array(name, second, 5, {2: size})
        if second.shape[3:] != first.shape[3:]:
            raise ValueError(f"{name}: flow maps must have the RGB maps' size {tuple(first.shape[3:])}, "
                             f"got {tuple(second.shape[3:])}")
        if second.shape[:2] != first.shape[:2]:
            raise ValueError(f"{name}: expected batch and time {tuple(first.shape[:2])} like X, got "
                             f"{tuple(second.shape[:2])}")
        return second

    def dropout_masks(self, first, rng):
        """Dropout keep-masks for one step, drawn on the host from ``rng`` (input layer first, then the head);
        no masks outside training (rng None) or without dropout."""
        if rng is None or self.dropout == 0.0:
            return Masks()
        draw = lambda shape: backend.to_device(dropout_mask(shape, self.dropout, rng, self.dtype))  # noqa: E731
        mask_in = draw(first.shape) if self.input_dropout else None
        return Masks(mask_in, draw(self._head_mask_shape(first)))

    # -- head -----------------------------------------------------------------------------------------------
    def _head_forward(self, z, mask):
        """z (..., width) hidden states -> scores (..., C), cache."""
        p = self.params
        fc_cache, act = None, None
        if "W_fc" in p:
            fc, fc_cache = affine_forward(z, p["W_fc"], p["b_fc"])
            z, act = tanh_forward(fc)
        z, drop = dropout_forward(z, self.dropout, mask)
        scores, out_cache = affine_forward(z, p["Wy"], p["by"])
        return scores, HeadCache(fc_cache, act, drop, out_cache)

    def _head_backward(self, dscores, cache, g):
        """dscores (..., C) -> dz (..., width); the head's gradients go into g."""
        dz, g["Wy"], g["by"] = affine_backward(dscores, cache.out)
        dz = dropout_backward(dz, cache.drop)
        if cache.fc is not None:
            dz, g["W_fc"], g["b_fc"] = affine_backward(tanh_backward(dz, cache.act), cache.fc)
        return dz

    attention_penalty = 0.0      # alpha_c of attention_penalty.py; the spatial attention models take it as an option
    multilabel = False           # sigmoid per class (stepwise_sigmoid_loss); the aLSTM paper's models take it

    def _set_attention_penalty(self, alpha):
        alpha = float(alpha)
        if not alpha >= 0:
            raise ValueError(f"attention_penalty: expected alpha_c >= 0, got {alpha}")
        self.attention_penalty = alpha

    # -- public API -----------------------------------------------------------------------------------------
    def loss_and_input_grads(self, first, y, second=None, rng=None):
        """Per-step softmax cross-entropy averaged over batch and scored steps (plus the attention penalty
        where the model has one, ``attention_penalty``), and its gradients
        -> (loss float, grads dict with the keys of params in their order, {input name: gradient}).

        first, second: the model's inputs (``inputs`` names them); y (B,) integer labels; ``rng`` (a numpy
        Generator) switches dropout on and draws its masks, ``rng=None`` evaluates without dropout.
        """
        first, second = self._inputs(first, second)
        check = check_multilabels if self.multilabel else check_labels
        y = backend.to_device(check("y", y, first.shape[0], self.n_classes))
        scores, att, cache = self._forward(first, second, self.dropout_masks(first, rng))
        loss, dscores = (stepwise_sigmoid_loss if self.multilabel else stepwise_softmax_loss)(scores, y)
        datt = None
        if self.attention_penalty:             # Sharma et al.'s penalty on the attention (attention_penalty.py)
            extra, penalty_cache = attention_penalty_forward(att, self.attention_penalty)
            loss, datt = loss + extra, attention_penalty_backward(1.0, penalty_cache)
        grads, dinputs = self._backward(dscores, cache, datt)
        return float(loss), {k: grads[k] for k in self.params}, dinputs

    def loss(self, first, y, second=None, rng=None):
        """As ``loss_and_input_grads`` without the input gradients -> (loss, grads)."""
        loss, grads, _ = self.loss_and_input_grads(first, y, second, rng)
        return loss, grads

    def predict(self, first, second=None):
        """-> class probabilities (B, C) (per-step softmax averaged over the scored steps) and the attention of
        every step: temporal weights (B, S, T) for aLSTM, spatial maps (B, T, N, N) for the VideoLSTM models
        (uniform for ConvLSTM), None for the vanilla LSTM."""
        probs, attention = self.predict_steps(first, second)
        return probs.mean(axis=1), attention

    def predict_steps(self, first, second=None):
        """As ``predict``, with the class probabilities of every scored step (B, S, C)."""
        first, second = self._inputs(first, second)
        scores, attention, _ = self._forward(first, second, Masks())
        if self.multilabel:                    # an independent probability per class
            xp = backend.array_module(scores)
            return 0.5 * (1.0 + xp.tanh(0.5 * scores)), attention
        return softmax(scores), attention

    def _weights(self, names):
        """The parameters ``names``, in that order (the argument order of a layer function)."""
        return tuple(self.params[k] for k in names)
