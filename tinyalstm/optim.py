"""Optimisers that update a model's ``params`` dict in place from a ``grads`` dict with the same keys.

- ``SGD``: momentum with step decay, the aLSTM recipe (sec. 4.1: lr 0.01 fixed for 2,512 iterations, then
  decreased every 125 iterations by a fixed ratio; momentum 0.9).
- ``RMSprop``: the VideoLSTM recipe (authors' code: lr 1e-3, rho 0.9, eps 1e-6), in the Keras/Theano form
  acc = rho acc + (1 - rho) g^2;  p -= lr g / (sqrt(acc) + eps).
- ``clip_grad_norm``: global gradient-norm clipping.

Both optimisers keep their state in arrays like the parameters (NumPy or CuPy) and can save it to and load it
from a flat dict of arrays (``state_dict`` / ``load_state_dict``) for checkpoints.
"""
import math

from .backend import array_module
from .checks import check_positive


def clip_grad_norm(grads, max_norm):
    """Scale every gradient by min(1, max_norm / ||g||) where ||g|| is the norm over all of them; in place.

    Returns the norm before clipping (useful to log). A non-finite norm is returned unchanged and nothing is
    scaled, so the caller can detect it and stop rather than write NaNs into the parameters.
    """
    check_positive("max_norm", max_norm)
    total = math.sqrt(sum(float((g * g).sum()) for g in grads.values()))
    if math.isfinite(total) and total > max_norm:
        scale = max_norm / total
        for g in grads.values():
            g *= scale
    return total


class SGD:
    """SGD with momentum and step decay: v = momentum v - lr_t g;  p += v.

    lr_t = lr for t < decay_start, then lr * decay_rate ** (1 + (t - decay_start) // decay_every).
    ``decay_start=None`` keeps the learning rate fixed.
    """

    def __init__(self, lr=0.01, momentum=0.9, decay_start=None, decay_every=125, decay_rate=0.9):
        self.lr = check_positive("lr", lr)
        self.momentum = check_positive("momentum", momentum, allow_zero=True)
        self.decay_start, self.decay_every, self.decay_rate = decay_start, int(decay_every), float(decay_rate)
        if decay_start is not None:
            check_positive("decay_every", self.decay_every)
            check_positive("decay_rate", self.decay_rate)
        self.t = 0
        self.velocity = {}

    def current_lr(self):
        if self.decay_start is None or self.t < self.decay_start:
            return self.lr
        return self.lr * self.decay_rate ** (1 + (self.t - self.decay_start) // self.decay_every)

    def step(self, params, grads):
        lr = self.current_lr()
        for name, p in params.items():
            v = self.velocity.get(name)
            if v is None:
                v = self.velocity[name] = array_module(p).zeros_like(p)
            v *= self.momentum
            v -= lr * grads[name]
            p += v
        self.t += 1

    def state_dict(self):
        return {"t": self.t, **{f"velocity/{k}": v for k, v in self.velocity.items()}}

    def load_state_dict(self, state, like):
        """Restore from ``state_dict()`` output; ``like`` is the params dict (gives device and dtype)."""
        self.t = int(state["t"])
        self.velocity = {k: array_module(p).array(state[f"velocity/{k}"], dtype=p.dtype) for k, p in like.items()
                         if f"velocity/{k}" in state}


class RMSprop:
    """RMSprop: acc = rho acc + (1 - rho) g^2;  p -= lr g / (sqrt(acc) + eps)."""

    def __init__(self, lr=1e-3, rho=0.9, eps=1e-6):
        self.lr = check_positive("lr", lr)
        self.rho = check_positive("rho", rho, allow_zero=True)
        self.eps = check_positive("eps", eps)
        self.t = 0
        self.acc = {}

    def current_lr(self):
        return self.lr

    def step(self, params, grads):
        for name, p in params.items():
            g = grads[name]
            acc = self.acc.get(name)
            if acc is None:
                acc = self.acc[name] = array_module(p).zeros_like(p)
            acc *= self.rho
            acc += (1.0 - self.rho) * g * g
            p -= self.lr * g / (array_module(p).sqrt(acc) + self.eps)
        self.t += 1

    def state_dict(self):
        return {"t": self.t, **{f"acc/{k}": v for k, v in self.acc.items()}}

    def load_state_dict(self, state, like):
        self.t = int(state["t"])
        self.acc = {k: array_module(p).array(state[f"acc/{k}"], dtype=p.dtype) for k, p in like.items()
                    if f"acc/{k}" in state}
