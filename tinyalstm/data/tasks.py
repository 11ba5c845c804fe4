"""A generated feature-sequence task where temporal attention has something to find (the learning check).

Each sequence has T attended frames a_i (da,). A few of them (``n_informative``) are *evidence frames*: the
prototype of the sequence's class plus a marker direction shared by all evidence frames. The other frames are
*distractors*: the prototype of a random class (any class, the true one included), without the marker. Gaussian
noise is added everywhere. The input-data V is pure noise, so the class can only be read from A, and reading the
mean of A is unreliable because the distractors outnumber the evidence. A model that weights the marked frames
highly reads the class directly: that is what aLSTM's attention weights should learn to do.
"""
import numpy as np


def make_highlight_task(n, n_classes=6, steps=4, frames=12, input_dim=8, attended_dim=16, n_informative=2,
                        noise=0.5, seed=0, task_seed=1234):
    """Generate ``n`` sequences.

    ``task_seed`` fixes the class prototypes and the marker (the "world"), ``seed`` the sampled sequences, so
    train and test sets drawn with different ``seed`` share one world.
    -> dict with V (n, steps, input_dim), A (n, frames, attended_dim), y (n,) int64 and
       informative (n, frames) bool marking the evidence frames.
    """
    if not 1 <= n_informative <= frames:
        raise ValueError(f"n_informative: expected 1..{frames} (frames), got {n_informative}")
    world = np.random.default_rng(task_seed)
    protos = world.normal(size=(n_classes, attended_dim))
    protos /= np.linalg.norm(protos, axis=1, keepdims=True) / 2.0
    marker = world.normal(size=attended_dim)
    marker /= np.linalg.norm(marker) / 2.0

    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n)
    informative = np.zeros((n, frames), dtype=bool)
    for s in range(n):
        informative[s, rng.choice(frames, size=n_informative, replace=False)] = True
    distractor_class = rng.integers(0, n_classes, size=(n, frames))
    frame_class = np.where(informative, y[:, None], distractor_class)
    A = protos[frame_class] + informative[:, :, None] * marker + noise * rng.normal(size=(n, frames, attended_dim))
    V = rng.normal(size=(n, steps, input_dim))
    return {"V": V, "A": A, "y": y.astype(np.int64), "informative": informative}


def read_as_input(data, name):
    """The task's arrays for a model that reads array ``name`` ("V" or "A") as its input-data V: the vanilla LSTM
    reading the attended frames is ``read_as_input(data, "A")``. -> dict with V, y (and A, informative)."""
    return {**data, "V": data[name]}
