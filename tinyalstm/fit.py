"""A minimal minibatch training loop for in-memory feature sequences (the learning check and the tutorials).

The full training CLI (data pipeline, checkpoints, resume) is ``tinyalstm.train``; this loop is the part of it a
reader needs to see once: shuffle, forward, backward, clip, step.
"""
import math

import numpy as np

from .backend import to_numpy
from .optim import clip_grad_norm


def _inputs(model, data, idx):
    return data["V"][idx], data["y"][idx], (data["A"][idx] if model.uses_attended else None)


def train_epoch(model, optimiser, data, batch_size, rng, max_norm=5.0):
    """One pass over ``data`` (dict with V, y and, for attention models, A) in shuffled minibatches, with dropout.

    -> mean training loss. Raises FloatingPointError on a non-finite loss or gradient norm, before the step that
    would have written it into the parameters.
    """
    order = rng.permutation(len(data["y"]))
    batches = (_inputs(model, data, order[s:s + batch_size]) for s in range(0, len(order), batch_size))
    return train_batches(model, optimiser, batches, rng, max_norm)


def train_batches(model, optimiser, batches, rng, max_norm=5.0):
    """Step on every (input, y, second input or None) of ``batches``: loss with dropout, clip, step. Serves every
    model (aLSTM's (V, y, A), the video models' (X, y, M)) and the training CLI. -> mean loss per example."""
    total, count = 0.0, 0
    for first, y, second in batches:
        loss, grads = model.loss(first, y, second, rng=rng)
        norm = clip_grad_norm(grads, max_norm)
        if not (math.isfinite(loss) and math.isfinite(norm)):
            raise FloatingPointError(f"non-finite loss {loss} or gradient norm {norm} at step {optimiser.t}")
        optimiser.step(model.params, grads)
        total += loss * len(y)
        count += len(y)
    return total / count


def evaluate(model, data, batch_size=256):
    """-> (accuracy, probabilities (n, C), attention weights (n, steps, T) or None), without dropout."""
    probs, weights = [], []
    for start in range(0, len(data["y"]), batch_size):
        idx = np.arange(start, min(start + batch_size, len(data["y"])))
        V, _, A = _inputs(model, data, idx)
        p, w = model.predict(V, A)
        probs.append(to_numpy(p))
        weights.append(None if w is None else to_numpy(w))
    probs = np.concatenate(probs)
    w = None if weights[0] is None else np.concatenate(weights)
    return float((probs.argmax(axis=1) == data["y"]).mean()), probs, w
