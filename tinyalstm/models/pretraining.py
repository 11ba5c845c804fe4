"""Pretraining a frame encoder on a generic dense task: the part of the world in every map cell.

Both papers start from ImageNet-pretrained networks (VideoLSTM sec. 5.2, aLSTM sec. 4); here the generic task is
the synthetic world's stills (data/synthetic/stills.py): every cell of the encoder's N x N maps is labelled with
the shape of the object in it, or the scene type of the background, with no action and no benchmark video. The
head is a 1 x 1 convolution, i.e. one affine map applied to every cell's D-vector, and the loss the softmax
cross-entropy of every cell averaged over cells:

    maps (B, D, N, N) = encoder.maps_forward(frames)
    scores[b, :, i, j] = maps[b, :, i, j] @ W_part + b_part          W_part (D, P), b_part (P,)
    loss = -sum_{b,i,j} w[b,i,j] log softmax(scores[b, :, i, j])[labels[b, i, j]] / sum_{b,i,j} w[b,i,j]

with w = OBJECT_WEIGHT on the cells of an object and 1 on the background's: objects fill about 8 % of the cells,
and a loss that counted every cell alike would be lowest for maps that say "background" everywhere.

A cell's label is in the cell's own vector, so the maps learn to say what is where: the property the recurrent
models' spatial attention reads (VideoLSTM eqs. 7-9).
"""
from typing import NamedTuple

import numpy as np

from .. import backend
from ..layers.feedforward import affine_backward, affine_forward, weighted_softmax_loss
from ..optim import clip_grad_norm

OBJECT_WEIGHT = 8.0


class PartsCache(NamedTuple):
    maps_shape: tuple
    blocks: list          # the encoder's block caches
    head: object          # AffineCache of the 1 x 1 convolution


class PartsHead:
    """The 1 x 1 convolution that scores every cell of a FrameEncoder's maps over ``n_parts`` labels."""

    def __init__(self, depth, n_parts, seed=0, dtype=np.float32):
        rng = np.random.default_rng([seed, 17])
        self.n_parts = int(n_parts)
        self.params = {"W_part": backend.to_device(rng.normal(size=(depth, n_parts)) / np.sqrt(depth), dtype),
                       "b_part": backend.to_device(np.zeros(n_parts), dtype)}

    def scores(self, encoder, frames, x=None):
        """uint8 frames (B, H, W, C) -> scores (B, N, N, P) and the cache of ``loss``. ``x``: already normalised
        floats (B, C, H, W) in place of ``frames`` (gradient checks)."""
        maps, blocks = encoder.maps_forward(encoder.normalise(frames) if x is None else x)
        B, D, N, _ = maps.shape
        cells = maps.transpose(0, 2, 3, 1).reshape(B * N * N, D)
        scores, head = affine_forward(cells, self.params["W_part"], self.params["b_part"])
        return scores.reshape(B, N, N, self.n_parts), PartsCache(maps.shape, blocks, head)

    def loss(self, encoder, frames, labels, objects=None, x=None, blocks=True):
        """Cell labels (B, N, N) int in [0, P) -> (loss, grads of the encoder's blocks and of the head).
        ``objects``: the number of object labels, which are 0..objects-1 (their cells weigh OBJECT_WEIGHT);
        default: every cell weighs 1. ``x``: as in ``scores``. ``blocks=False``: the head's gradients alone (no
        backward pass through the encoder)."""
        scores, cache = self.scores(encoder, frames, x)
        B, D, N, _ = cache.maps_shape
        if tuple(labels.shape) != (B, N, N):
            raise ValueError(f"labels: expected shape {(B, N, N)} (one per map cell), got {tuple(labels.shape)}")
        y = np.asarray(labels).reshape(-1)
        w = np.ones(len(y)) if objects is None else np.where(y < objects, OBJECT_WEIGHT, 1.0)
        loss, dscores = weighted_softmax_loss(scores.reshape(B * N * N, self.n_parts), backend.to_device(y),
                                              backend.to_device(w, scores.dtype))
        grads = {}
        dcells, grads["W_part"], grads["b_part"] = affine_backward(dscores, cache.head)
        if blocks:
            encoder.maps_backward(dcells.reshape(B, N, N, D).transpose(0, 3, 1, 2), cache.blocks, grads)
        return float(loss), grads

    def predict(self, encoder, frames, batch=256):
        """-> the most likely part of every cell, int (B, N, N) on the host."""
        return np.concatenate([backend.to_numpy(self.scores(encoder, frames[s:s + batch])[0].argmax(axis=-1))
                               for s in range(0, len(frames), batch)])


def pretrain(encoder, head, frames, labels, optimiser, epochs, rng, batch=64, objects=None, frozen=False, log=None):
    """Train the encoder's blocks and ``head`` on stills: every epoch shuffles ``frames`` (n, H, W, C) uint8 with
    their cell ``labels`` (n, N, N) and steps on minibatches -> mean training loss of every epoch. ``objects``: as
    in ``PartsHead.loss``; ``frozen``: train the head alone (a linear probe of the encoder's maps)."""
    losses = []
    for epoch in range(epochs):
        order = rng.permutation(len(frames))
        total = 0.0
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            loss, grads = head.loss(encoder, frames[idx], labels[idx], objects, blocks=not frozen)
            clip_grad_norm(grads, 5.0)
            optimiser.step(head.params if frozen else {**encoder.blocks(), **head.params}, grads)
            total += loss * len(idx)
        losses.append(total / len(order))
        if log:
            log(f"pretraining epoch {epoch + 1}/{epochs}: loss {losses[-1]:.4f}")
    return losses
