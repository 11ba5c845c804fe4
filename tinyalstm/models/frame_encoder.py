"""The frame encoder: a small convnet trained frame by frame, whose last pooled maps (D, N, N) are the features the
recurrent models read (VideoLSTM sec. 5.2 uses VGG16 pool5 maps, 512 x 7 x 7, of RGB frames and of flow images).

    x (B, C, H, W) -> [conv 3x3 -> ReLU -> max-pool 2x2] x len(widths) -> maps (B, D, H / 2^L, W / 2^L)
                   -> flatten -> dropout -> fully connected -> softmax         (training head only)

Its frame-level accuracy, softmax averaged over a video's frames, is the "ConvNet" baseline of VideoLSTM Table 1.
On multi-label data (Hollywood2) the head is a sigmoid per class with the multi-label loss, and the baseline's
figure is the mean AP of the sigmoids averaged over a video's frames.
RGB frames have C = 3, flow images (flow.py, 2 channels rescaled to [0, 255]) C = 2; both are uint8 and are
normalised the same way, ``x / 127.5 - 1``.

API as the other models: ``loss(frames, y, rng=None) -> (loss, grads)``, ``predict(frames) -> probs``, and
``features(frames) -> maps`` for the feature cache (data/features.py). It reads frames, not sequences, and keeps
its own (He) initialisation, so it does not derive from the sequence models' ``Classifier``.
"""
from typing import NamedTuple

import numpy as np

from .. import backend
from ..checks import check_labels, check_multilabels, check_positive, check_probability
from ..layers.conv import (ConvCache, MaxPoolCache, conv2d_backward, conv2d_forward, maxpool2x2_backward,
                           maxpool2x2_forward, relu_backward, relu_forward)
from ..layers.feedforward import (AffineCache, affine_backward, affine_forward, dropout_backward, dropout_forward,
                                  dropout_mask, softmax, stepwise_sigmoid_loss, stepwise_softmax_loss)
from ..metrics import accuracy, label_array, mean_average_precision
from ..optim import clip_grad_norm


class BlockCache(NamedTuple):
    conv: ConvCache
    relu: object          # the ReLU's positive mask
    pool: MaxPoolCache


class ScoresCache(NamedTuple):
    maps_shape: tuple
    drop: object          # dropout scale (None without dropout)
    out: AffineCache


def normalise_frames(frames, dtype):
    """uint8 frames (B, H, W, C) -> float (B, C, H, W) in [-1, 1] on the current device."""
    x = backend.to_device(frames)
    return (x.transpose(0, 3, 1, 2).astype(dtype) / 127.5) - 1.0


class FrameEncoder:
    """A VGG-style stack of ``len(widths)`` conv-ReLU-pool blocks on (size x size) frames with ``channels``
    channels; ``map_size`` = size / 2^len(widths) must be a whole number (the N of the recurrent models).
    ``multilabel``: a sigmoid per class and labels (B, C) of 0/1 (module docstring)."""

    def __init__(self, channels, size, n_classes, widths=(16, 32, 64, 64), dropout=0.5, seed=0, dtype=np.float32,
                 multilabel=False):
        self.multilabel = bool(multilabel)
        self.channels, self.size, self.n_classes = int(channels), int(size), int(n_classes)
        self.widths = tuple(int(check_positive("widths", w)) for w in widths)
        if self.size % (2 ** len(self.widths)):
            raise ValueError(f"size: {size} is not divisible by 2^{len(self.widths)} (one halving per block)")
        self.map_size = self.size // 2 ** len(self.widths)
        self.dropout = float(check_probability("dropout", dropout))
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(seed)
        host, c_in = {}, self.channels
        for i, c_out in enumerate(self.widths):
            # He initialisation: ReLU halves the variance, so fan-in 2/n keeps activations at scale through blocks
            host[f"W{i}"] = rng.normal(size=(c_out, c_in, 3, 3)) * np.sqrt(2.0 / (9 * c_in))
            host[f"b{i}"] = np.zeros(c_out)
            c_in = c_out
        d = c_in * self.map_size ** 2
        host["W_out"] = rng.normal(size=(d, self.n_classes)) / np.sqrt(d)
        host["b_out"] = np.zeros(self.n_classes)
        self.params = {k: backend.to_device(v, self.dtype) for k, v in host.items()}

    @property
    def feature_shape(self):
        """(D, N, N) of the maps ``features`` returns."""
        return (self.widths[-1], self.map_size, self.map_size)

    def blocks(self):
        """The conv blocks' parameters, W{i} and b{i} (the same arrays as in ``params``, without the head's)."""
        return {k: v for k, v in self.params.items() if k[0] in "Wb" and k[1:].isdigit()}

    def normalise(self, frames):
        """uint8 frames (B, size, size, channels), checked -> floats (B, channels, size, size) in [-1, 1]."""
        frames = np.asarray(frames) if not hasattr(frames, "__cuda_array_interface__") else frames
        want = (self.size, self.size, self.channels)
        if frames.ndim != 4 or tuple(frames.shape[1:]) != want:
            raise ValueError(f"frames: expected uint8 (B, {want[0]}, {want[1]}, {want[2]}), got shape "
                             f"{tuple(frames.shape)}")
        if frames.dtype != np.uint8:
            raise ValueError(f"frames: expected dtype uint8 (decoded frames or flow images), got {frames.dtype}")
        return normalise_frames(frames, self.dtype)

    def maps_forward(self, x):
        """Normalised frames x (B, C, H, W) -> (maps (B, D, N, N), one BlockCache per block)."""
        caches = []
        for i in range(len(self.widths)):
            x, conv_cache = conv2d_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
            x, relu_cache = relu_forward(x)
            x, pool_cache = maxpool2x2_forward(x)
            caches.append(BlockCache(conv_cache, relu_cache, pool_cache))
        return x, caches

    def maps_backward(self, dx, caches, grads):
        """dmaps (B, D, N, N) -> dx (B, C, H, W); the blocks' gradients go into ``grads`` (W{i}, b{i})."""
        for i in reversed(range(len(self.widths))):
            block = caches[i]
            dx = relu_backward(maxpool2x2_backward(dx, block.pool), block.relu)
            dx, grads[f"W{i}"], grads[f"b{i}"] = conv2d_backward(dx, block.conv)
        return dx

    def _scores(self, maps, mask):
        flat, drop_cache = dropout_forward(maps.reshape(maps.shape[0], -1), self.dropout, mask)
        scores, out_cache = affine_forward(flat, self.params["W_out"], self.params["b_out"])
        return scores, ScoresCache(maps.shape, drop_cache, out_cache)

    def loss_and_input_grads(self, frames, y, rng=None, x=None):
        """Softmax cross-entropy of every frame (the multi-label loss with ``multilabel``) -> (loss, grads like
        params, dx (B, C, H, W)).
        ``rng`` switches dropout on; ``x`` (already normalised floats) replaces ``frames`` (gradient checks)."""
        x = self.normalise(frames) if x is None else x
        check = check_multilabels if self.multilabel else check_labels
        y = backend.to_device(check("y", y, x.shape[0], self.n_classes))
        maps, caches = self.maps_forward(x)
        mask = None
        if rng is not None and self.dropout > 0:
            mask = backend.to_device(dropout_mask((x.shape[0], int(np.prod(self.feature_shape))), self.dropout, rng,
                                                  self.dtype))
        scores, head_cache = self._scores(maps, mask)
        loss, dscores = (stepwise_sigmoid_loss if self.multilabel else stepwise_softmax_loss)(scores[:, None], y)
        grads = {}
        dflat, grads["W_out"], grads["b_out"] = affine_backward(dscores[:, 0], head_cache.out)
        dmaps = dropout_backward(dflat, head_cache.drop).reshape(head_cache.maps_shape)
        dx = self.maps_backward(dmaps, caches, grads)
        return float(loss), grads, dx

    def loss(self, frames, y, rng=None):
        loss, grads, _ = self.loss_and_input_grads(frames, y, rng)
        return loss, grads

    def features(self, frames):
        """uint8 frames (B, size, size, channels) -> maps (B, D, N, N), the recurrent models' input."""
        return self.maps_forward(self.normalise(frames))[0]

    def predict(self, frames):
        """-> class probabilities (B, n_classes) of each frame (independent sigmoids with ``multilabel``)."""
        scores, _ = self._scores(self.features(frames), None)
        if self.multilabel:
            return 0.5 * (1.0 + backend.array_module(scores).tanh(0.5 * scores))
        return softmax(scores)


def _readable(samples, frames_of, report):
    """(sample, frames) of every sample whose frames can be read; without a report a bad video raises, with one
    it is recorded and skipped (datasets.SkipReport.attempt)."""
    for s in samples:
        f = frames_of(s) if report is None else report.attempt(s.name, frames_of, s)
        if f is not None:
            yield s, f


def sample_frames(samples, frames_of, per_video, rng, report=None):
    """``per_video`` random frames of every sample -> (frames uint8 (n, H, W, C), labels: a list of the n frames'
    sample labels).

    frames_of(sample) -> uint8 (F, H, W, C) (decoded RGB frames or flow images); a sample whose frames cannot be
    had is skipped and recorded in ``report`` (a datasets.SkipReport) instead of stopping the pass."""
    frames, labels = [], []
    for s, f in _readable(samples, frames_of, report):
        idx = rng.choice(len(f), size=min(per_video, len(f)), replace=False)
        frames.append(np.asarray(f)[idx])
        labels += [s.label] * len(idx)
    if not frames:
        raise ValueError("samples: no video could be read (see the skip report)")
    return np.concatenate(frames), labels


def train_frame_encoder(encoder, samples, frames_of, optimiser, epochs, rng, per_video=4, batch=64, report=None,
                        log=None):
    """Train ``encoder`` frame by frame: every epoch draws ``per_video`` random frames of each video, shuffles
    them and steps on minibatches with dropout. -> list of mean training losses, one per epoch."""
    losses = []
    for epoch in range(epochs):
        frames, labels = sample_frames(samples, frames_of, per_video, rng, report)
        labels = label_array(labels, encoder.n_classes)
        order = rng.permutation(len(labels))
        total = 0.0
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            loss, grads = encoder.loss(frames[idx], labels[idx], rng=rng)
            clip_grad_norm(grads, 5.0)
            optimiser.step(encoder.params, grads)
            total += loss * len(idx)
        losses.append(total / len(order))
        if log:
            log(f"frame encoder epoch {epoch + 1}/{epochs}: loss {losses[-1]:.4f}")
    return losses


def video_baseline(encoder, samples, frames_of, per_video=None, batch=128, report=None):
    """The ConvNet baseline's protocol: frame probabilities averaged over a video's frames (all of them, or
    ``per_video`` evenly spaced) -> (top-1 accuracy, or the mean AP over classes for a multi-label encoder;
    probabilities (n_videos, n_classes))."""
    probs, labels = [], []
    for s, f in _readable(samples, frames_of, report):
        if per_video is not None:
            f = f[np.linspace(0, len(f) - 1, min(per_video, len(f))).round().astype(int)]
        p = np.concatenate([backend.to_numpy(encoder.predict(f[i:i + batch])) for i in range(0, len(f), batch)])
        probs.append(p.mean(axis=0))
        labels.append(s.label)
    probs, labels = np.stack(probs), label_array(labels, encoder.n_classes)
    return (mean_average_precision if encoder.multilabel else accuracy)(probs, labels), probs
