"""Elementwise and feed-forward layers, each a hand-written forward/backward pair (CS231n style).

``<op>_forward(...) -> (out, cache)`` and ``<op>_backward(dout, cache) -> gradients``. Shapes use B = batch,
N = decoder steps, D = input size, M = output size, C = classes. Every function works on NumPy and CuPy arrays.
"""
from typing import NamedTuple

from ..backend import array_module


class AffineCache(NamedTuple):
    x: object   # (..., D) input
    w: object   # (D, M) weights


class SigmoidInputCache(NamedTuple):
    affine: AffineCache
    out: object  # sigma(V W_in + b_in)


def affine_forward(x, w, b):
    """out = x w + b over the last axis.

    x (..., D), w (D, M), b (M,) -> out (..., M). The leading axes are flattened into the rows of one 2-D product:
    ``(B, T, D) @ (D, M)`` would be B separate products of T rows, each reading all of w.
    """
    d, m = w.shape
    return (x.reshape(-1, d) @ w + b).reshape(x.shape[:-1] + (m,)), AffineCache(x, w)


def affine_backward(dout, cache):
    """Gradients of ``affine_forward``: dout (..., M) -> dx (..., D), dw (D, M), db (M,)."""
    d, m = cache.w.shape
    dx = (dout.reshape(-1, m) @ cache.w.T).reshape(dout.shape[:-1] + (d,))
    dw = cache.x.reshape(-1, d).T @ dout.reshape(-1, m)
    db = dout.reshape(-1, m).sum(axis=0)
    return dx, dw, db


def sigmoid(x):
    """Logistic function 1 / (1 + exp(-x)), written to avoid overflow of exp for large |x|."""
    xp = array_module(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_forward(x):
    """sigma(x) elementwise (aLSTM eqs. 7-9); any shape. The cache is the output itself."""
    out = sigmoid(x)
    return out, out


def sigmoid_backward(dout, out):
    """d sigma = sigma (1 - sigma), from the forward's output."""
    return dout * out * (1.0 - out)


def tanh_forward(x):
    """tanh(x) elementwise (aLSTM eqs. 10, 12); any shape. The cache is the output itself."""
    xp = array_module(x)
    out = xp.tanh(x)
    return out, out


def tanh_backward(dout, out):
    """d tanh = 1 - tanh^2, from the forward's output."""
    return dout * (1.0 - out * out)


def sigmoid_input_forward(V, W_in, b_in):
    """The input layer of aLSTM sec. 4.1: a fully connected layer with a sigmoid that keeps the input size.

    X = sigma(V W_in + b_in);  V (B, N, dv), W_in (dv, dv), b_in (dv,) -> X (B, N, dv).
    """
    a, affine_cache = affine_forward(V, W_in, b_in)
    out = sigmoid(a)
    return out, SigmoidInputCache(affine_cache, out)


def sigmoid_input_backward(dout, cache):
    """dout (B, N, dv) -> dV (B, N, dv), dW_in (dv, dv), db_in (dv,)."""
    return affine_backward(sigmoid_backward(dout, cache.out), cache.affine)


def dropout_mask(shape, p, rng, dtype):
    """A 0/1 keep-mask with keep probability 1 - p, drawn from a NumPy Generator (host) for reproducibility."""
    return (rng.random(shape) >= p).astype(dtype)


def dropout_forward(x, p, mask=None):
    """Inverted dropout (aLSTM sec. 4.1 uses p = 0.5; VideoLSTM's head p = 0.7).

    out = x * mask / (1 - p) with ``mask`` a 0/1 array shaped like x; ``mask=None`` (evaluation) or p = 0 is the
    identity. p is the probability of DROPPING a unit. The cache is the scale mask / (1 - p), or None.
    """
    if mask is None or p == 0.0:
        return x, None
    scale = mask * (1.0 / (1.0 - p))
    return x * scale, scale


def dropout_backward(dout, scale):
    """dx = dout * mask / (1 - p) (``scale`` is the forward's cache; None means the identity)."""
    return dout if scale is None else dout * scale


def softmax(s, axis=-1):
    """Numerically stable softmax along ``axis``."""
    xp = array_module(s)
    e = xp.exp(s - s.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def stepwise_softmax_loss(scores, y):
    """Softmax cross-entropy at every step, averaged over batch and steps (aLSTM eq. 13 and sec. 4.1).

    scores (B, N, C) with y (B,) integer class of each sequence (the same label at every step)
    -> loss = -1/(B N) sum_{b,t} log softmax(scores[b, t])[y_b], dscores (B, N, C).
    A model with a single score per sequence passes scores[:, None, :].
    """
    xp = array_module(scores)
    B, N, C = scores.shape
    shifted = scores - scores.max(axis=-1, keepdims=True)
    log_z = xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))
    log_p = shifted - log_z
    onehot = xp.zeros_like(scores)
    onehot[xp.arange(B), :, y] = 1.0
    loss = -(log_p * onehot).sum() / (B * N)
    dscores = (xp.exp(log_p) - onehot) / (B * N)
    return loss, dscores


def weighted_softmax_loss(scores, y, w):
    """Softmax cross-entropy of M rows with a weight per row (the frame encoder's pretraining loss over map cells,
    models/pretraining.py): scores (M, P), y (M,) int, w (M,) >= 0
    -> loss = -sum_m w_m log softmax(scores_m)[y_m] / sum_m w_m, dscores (M, P).
    With every w_m = 1 it is ``stepwise_softmax_loss`` of scores[:, None, :]."""
    xp = array_module(scores)
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_p = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
    rows = xp.arange(len(y))
    total = w.sum()
    loss = -(w * log_p[rows, y]).sum() / total
    dscores = xp.exp(log_p)
    dscores[rows, y] -= 1.0
    return loss, dscores * (w / total)[:, None]


def stepwise_sigmoid_loss(scores, Y):
    """Multi-label loss: a sigmoid cross-entropy per class at every step, summed over classes and averaged over
    batch and steps (the "multilabel classification loss" aLSTM sec. 4 uses for Hollywood2, whose clips carry
    several actions).

    scores (B, N, C) with Y (B, C) 0/1 labels of each sequence (the same at every step)
    -> loss = 1/(B N) sum_{b,t,c} [log(1 + exp(s)) - Y s], dscores = (sigmoid(s) - Y) / (B N), (B, N, C).
    log(1 + exp(s)) is computed as max(s, 0) + log(1 + exp(-|s|)), exact for large |s|.
    """
    xp = array_module(scores)
    B, N, _ = scores.shape
    Y = Y[:, None, :].astype(scores.dtype)
    softplus = xp.maximum(scores, 0) + xp.log1p(xp.exp(-xp.abs(scores)))
    loss = (softplus - Y * scores).sum() / (B * N)
    p = 0.5 * (1.0 + xp.tanh(0.5 * scores))                 # sigmoid without overflow
    return loss, (p - Y) / (B * N)
