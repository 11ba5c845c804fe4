"""What the training-step benchmark runs: its models, its sizes, and each step it times as a function of no
arguments, built on the current device:

- ``ours_step``    one training step of our model (``model.loss_and_input_grads``, optionally the RMSprop update)
- ``torch_step``   the same step of the PyTorch peer (torch_peer.py), from our model's initial parameters
- ``gemm_step``    the step's matrix products alone, at the shapes of ``flops.forward_gemms``: its ceiling
"""
from dataclasses import dataclass

import numpy as np

from .. import backend
from ..models import MODELS, ConvLSTM, build_model
from ..optim import RMSprop
from .flops import forward_gemms

# The models timed: the VideoLSTM paper's convolutional recurrences, ConvLSTM and the models built on it
# (convlstm, convalstm, videolstm), the ones forward_gemms counts and torch_peer.py writes in PyTorch.
BENCH_MODELS = tuple(name for name, spec in MODELS.items() if issubclass(spec.cls, ConvLSTM))


@dataclass(frozen=True)
class Config:
    """One benchmark size. Maps are map_size x map_size; the attention's hidden channels (att_dim) and the flow
    layer's hidden channels (flow_hidden) take the models' defaults, both equal to ``hidden``."""

    name: str
    map_size: int        # N
    channels: int        # C of the (RGB) input maps X
    flow_channels: int   # Cm of VideoLSTM's flow maps M
    hidden: int          # K, hidden channels of the ConvLSTM state
    kernel: int          # k x k gate kernels
    steps: int           # T
    batch: int           # B
    n_classes: int
    fc_dim: int          # the head's fully connected layer
    att_kernel: int = 1  # the authors' 1x1 attention projections (the models' default)

    def describe(self):
        k, ka = self.kernel, self.att_kernel
        return (f"N={self.map_size} (maps NxN), C={self.channels}, Cm={self.flow_channels} (flow), "
                f"K={self.hidden} (hidden), {k}x{k} gates, {ka}x{ka} attention, T={self.steps}, B={self.batch}, "
                f"{self.n_classes} classes, FC {self.fc_dim}")


CONFIGS = {
    # VideoLSTM sec. 5.2: VGG-16 pool5 maps 7x7x512 for RGB and for flow, 512 hidden, 3x3 gate kernels, 1x1
    # attention, FC 1024, 30-frame snippets; UCF101's 101 classes. Batch 32 rather than the paper's 128.
    "paper": Config("paper", 7, 512, 512, 512, 3, 30, 32, 101, 1024),
    # Under a second per step on 2 CPU cores (measured: ConvLSTM 0.35 s, VideoLSTM 0.8 s, NumPy/OpenBLAS).
    "cpu": Config("cpu", 7, 128, 128, 128, 3, 10, 8, 101, 1024),
    # For the tests: milliseconds. Every size differs from the others, so that a swapped axis or factor shows.
    "tiny": Config("tiny", map_size=5, channels=4, flow_channels=9, hidden=7, kernel=3, steps=6, batch=2,
                   n_classes=11, fc_dim=8),
}
UPDATE = "RMSprop(lr=1e-3, rho=0.9, eps=1e-6)"     # ours_step's optimiser update


def model_at(model_name, cfg, dtype, seed=0):
    """Our model ``model_name`` (a registry name) at ``cfg`` on the current device (paper defaults: dropout 0.7,
    1x1 attention)."""
    options = {"kernel": cfg.kernel, "att_kernel": cfg.att_kernel, "fc_dim": cfg.fc_dim, "seed": seed,
               "dtype": dtype}
    if model_name == "convlstm":
        options.pop("att_kernel")
    return build_model(model_name, cfg.n_classes, cfg.channels, cfg.hidden, map_size=cfg.map_size,
                       second_dim=cfg.flow_channels, **options)


def make_inputs(cfg, reads_flow, dtype, seed=0):
    """Random maps on the current device: X (B, T, C, N, N), y (B,), M (B, T, Cm, N, N) or None. Uniform in [0, 1),
    non-negative like the ReLU/pool5 features they stand for."""
    rng = np.random.default_rng(seed)
    B, T, N = cfg.batch, cfg.steps, cfg.map_size
    X = backend.to_device(rng.random((B, T, cfg.channels, N, N), dtype=dtype))
    M = backend.to_device(rng.random((B, T, cfg.flow_channels, N, N), dtype=dtype)) if reads_flow else None
    return X, backend.to_device(rng.integers(0, cfg.n_classes, size=B)), M


def ours_step(model_name, cfg, dtype, update, dropout):
    """One training step of our model at ``cfg`` on the current device, as a function of no arguments."""
    model = model_at(model_name, cfg, dtype)
    X, y, M = make_inputs(cfg, model.reads_second, dtype)
    opt = RMSprop(lr=1e-3, rho=0.9, eps=1e-6) if update else None
    rng = np.random.default_rng(0) if dropout else None     # a fresh dropout mask every step, as in training

    def step():
        _, grads, _ = model.loss_and_input_grads(X, y, M, rng=rng)
        if opt is not None:
            opt.step(model.params, grads)

    return step


def torch_step(torch, model_name, cfg, dtype, update, dropout):
    """One training step of the PyTorch peer (same initial parameters as ours, same inputs) -> (step, sync)."""
    from . import torch_peer as peer  # optional: PyTorch, the comparison peer, never a dependency

    device = "cuda" if backend.get_device() == "cuda" else "cpu"
    tdtype = torch.float32 if np.dtype(dtype) == np.float32 else torch.float64
    model = model_at(model_name, cfg, dtype)              # for its initial parameters and rates only
    params = peer.params_from({k: backend.to_numpy(v) for k, v in model.params.items()}, device, tdtype)
    rate = model.dropout if dropout else None
    X, y, M = (None if a is None else torch.as_tensor(backend.to_numpy(a), device=device)
               for a in make_inputs(cfg, model.reads_second, dtype))
    del model
    leaves = list(params.values())
    for a in (X, M):                                      # ours returns the input maps' gradients: so does the peer
        if a is not None:
            a.requires_grad_(True)
            leaves.append(a)
    opt = torch.optim.RMSprop(params.values(), lr=1e-3, alpha=0.9, eps=1e-6) if update else None

    def step():
        for leaf in leaves:
            leaf.grad = None
        peer.loss(model_name, params, X, y, M, rate).backward()
        if opt is not None:
            opt.step()

    return step, (torch.cuda.synchronize if device == "cuda" else (lambda: None))


def gemm_step(model_name, cfg, dtype, seed=0):
    """The GEMM ceiling of a training step, as a function of no arguments: every product of ``forward_gemms``,
    ``count`` times, forward A (m, k) x B (k, n) and its two backward products dC B^T and A^T dC (a convolution's
    weight and column gradients, the head's input and weight gradients), on random operands of ``dtype`` on the
    current device, with the array module's matmul (NumPy's BLAS, or cuBLAS through CuPy). Its time is what a
    training step would take if it did nothing but its matrix products at the shapes of its equations."""
    xp, rng = backend.xp(), np.random.default_rng(seed)
    operands, plan = {}, []
    for g in forward_gemms(model_name, cfg):
        m, k, n = g.rows, g.inner, g.cols
        if (m, k, n) not in operands:
            operands[m, k, n] = tuple(backend.to_device(rng.random(shape, dtype=dtype))
                                      for shape in ((m, k), (k, n), (m, n)))
        plan.append((operands[m, k, n], g.count))

    def step():
        for (a, b, dc), count in plan:
            for _ in range(count):
                xp.matmul(a, b)
                xp.matmul(dc, b.T)
                xp.matmul(a.T, dc)

    return step
