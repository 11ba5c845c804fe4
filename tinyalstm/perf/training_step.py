"""One training step of the VideoLSTM-paper models, ours and the PyTorch peer's, timed and counted in FLOPs: the
benchmark behind ``python -m tinyalstm.bench``.

One step is ``model.loss_and_input_grads(X, y, M, rng)``: the forward pass, the per-step softmax loss and the
hand-written backward pass through time, returning the loss, every parameter's gradient and the gradient of the
input maps (head dropout on, its mask drawn from ``rng``, as in training). The time is the median of ``repeats``
steps after one warm-up step; ours, the peer's and the GEMM ceiling's steps (``gemm_step``: the step's matrix
products alone, at the shapes of ``forward_gemms``) take turns (``interleaved_medians``). The peer
(torch_peer.py) is used only when ``import torch`` works; before a model is timed, ``verify_peer`` checks on a
small float64 configuration that it computes the same loss and gradients.
"""
import contextlib
import gc
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from .. import backend
from ..gradcheck import rel_error
from ..layers.feedforward import dropout_mask
from ..models import build_model as build_registry_model
from ..optim import RMSprop

MODELS = ("convlstm", "convalstm", "videolstm")      # registry names


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
# verify_peer's configuration (in float64): the tiny one.
VERIFY = replace(CONFIGS["tiny"], name="verify")
VERIFY_LOSS_TOL = 1e-9      # absolute, on a loss of order log(n_classes)
VERIFY_GRAD_TOL = 1e-8      # gradcheck.rel_error per parameter (and per input), the worst one
UPDATE = "RMSprop(lr=1e-3, rho=0.9, eps=1e-6)"


# -- FLOP count ---------------------------------------------------------------------------------------------------
def conv_flops(batch, size, out_channels, in_channels, kernel):
    """Forward FLOPs of one stride-1 "same" convolution of ``batch`` maps size x size: 2*B*H*W*K*C*kh*kw (a multiply
    and an add per kernel tap; the taps that fall on the zero padding are counted too, the usual nominal count)."""
    return 2 * batch * size * size * out_channels * in_channels * kernel * kernel


def matmul_flops(rows, inner, cols):
    """Forward FLOPs of (rows, inner) @ (inner, cols)."""
    return 2 * rows * inner * cols


class Gemm(NamedTuple):
    """One matrix product of a forward pass, (rows, inner) x (inner, cols), made ``count`` times."""
    part: str            # forward_flops' part
    rows: int
    inner: int
    cols: int
    count: int


def forward_gemms(model_name, cfg):
    """Every convolution and head product of one forward pass of ``model_name`` at ``cfg``, as the GEMM the
    step-by-step layers make of it (tests/test_bench.py checks the list against their calls): a convolution of
    the B maps N x N of a step, K output and C input channels, k x k kernels, is (K, C k k) x (C k k, B N N)
    (im2col, conv.py), the ConvLSTM's input convolution one GEMM over all B*T frames (as in conv_lstm.py and the
    PyTorch peer); a head product of the B*T step states is (B T, D) x (D, M). The fused CPU path
    (tinyalstm/fused/) makes the same FLOPs as fewer, larger GEMMs.

    Counted: every convolution (initial states from the time-mean, input-to-state and state-to-state gate
    convolutions, the attention's three projections W_xa, W_ha, W_z, the flow layer's gates) and the head's two
    matrix products (FC and class scores) at every step. Not counted: biases, the pointwise gate math, tanh,
    softmaxes, the attention product A . X, time-means, the loss, im2col copies (all O(B T N^2 K), small next to
    the convolutions' O(B T N^2 K C k^2)).
    """
    B, T, N, k, ka = cfg.batch, cfg.steps, cfg.map_size, cfg.kernel, cfg.att_kernel
    C, Cm, K = cfg.channels, cfg.flow_channels, cfg.hidden
    Km = Ka = K                                                           # flow_hidden, att_dim defaults

    def conv(part, out_channels, in_channels, kernel, count, frames=B):
        return Gemm(part, out_channels, in_channels * kernel * kernel, frames * N * N, count)

    gemms = [conv("initial states", K, C, k, 2),                         # h0 and c0
             Gemm("head", B * T, K * N * N, cfg.fc_dim, 1), Gemm("head", B * T, cfg.fc_dim, cfg.n_classes, 1)]
    if model_name == "convlstm":       # the input convolution reads X_t alone: one GEMM over all B*T frames
        return gemms[:1] + [conv("gates", 4 * K, C, k, 1, B * T), conv("gates", 4 * K, K, k, T)] + gemms[1:]
    gemms[1:1] = [conv("gates", 4 * K, C, k, T), conv("gates", 4 * K, K, k, T)]     # X~_t: one step at a time
    att_state = K if model_name == "convalstm" else Km                    # ConvALSTM: H_{t-1}; VideoLSTM: H^m_t
    gemms += [conv("attention", Ka, C, ka, T), conv("attention", Ka, att_state, ka, T), conv("attention", 1, Ka, ka, T)]
    if model_name == "videolstm":
        gemms += [conv("initial states", Km, Cm, k, 2),                   # hm0 and cm0
                  conv("flow layer", 4 * Km, Cm + K, k, T), conv("flow layer", 4 * Km, Km, k, T)]
    return gemms


def forward_flops(model_name, cfg):
    """Analytic forward FLOPs of one step of ``model_name`` at ``cfg``, by part: {part: FLOPs}, the sum over
    ``forward_gemms`` (see there for what is counted)."""
    parts = {}
    for g in forward_gemms(model_name, cfg):
        parts[g.part] = parts.get(g.part, 0) + g.count * matmul_flops(g.rows, g.inner, g.cols)
    return parts


def step_flops(model_name, cfg):
    """FLOPs of one training step: forward + backward = 3x forward, since every convolution and matrix product
    has two backward products of its own size (the input gradient and the weight gradient), and the step
    computes both for all of them (the input maps' gradient included)."""
    return 3 * sum(forward_flops(model_name, cfg).values())


# -- building and timing ------------------------------------------------------------------------------------------
def build_model(model_name, cfg, dtype, seed=0):
    """Our model ``model_name`` (a registry name) at ``cfg`` on the current device (paper defaults: dropout 0.7,
    1x1 attention)."""
    options = {"kernel": cfg.kernel, "att_kernel": cfg.att_kernel, "fc_dim": cfg.fc_dim, "seed": seed,
               "dtype": dtype}
    if model_name == "convlstm":
        options.pop("att_kernel")
    return build_registry_model(model_name, cfg.n_classes, cfg.channels, cfg.hidden, map_size=cfg.map_size,
                                second_dim=cfg.flow_channels, **options)


def make_inputs(cfg, reads_flow, dtype, seed=0):
    """Random maps on the current device: X (B, T, C, N, N), y (B,), M (B, T, Cm, N, N) or None. Uniform in [0, 1),
    non-negative like the ReLU/pool5 features they stand for."""
    rng = np.random.default_rng(seed)
    B, T, N = cfg.batch, cfg.steps, cfg.map_size
    X = backend.to_device(rng.random((B, T, cfg.channels, N, N), dtype=dtype))
    M = backend.to_device(rng.random((B, T, cfg.flow_channels, N, N), dtype=dtype)) if reads_flow else None
    return X, backend.to_device(rng.integers(0, cfg.n_classes, size=B)), M


@contextlib.contextmanager
def on_device(name):
    """Run the block with tinyalstm's device set to ``name``, then restore the previous device."""
    previous = backend.get_device()
    backend.set_device(name)
    try:
        yield
    finally:
        backend.set_device(previous)


def median_time(step, sync, repeats, warmup=1, label="", log=None):
    """Median wall time (s) of ``step()`` over ``repeats`` runs after ``warmup`` runs. ``sync()`` waits for the
    device before the clock starts and before it stops, so queued GPU work is inside the measurement."""
    for _ in range(warmup):
        step()
        sync()
    times = []
    for i in range(repeats):
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
        if log is not None:
            print(f"  {label} step {i + 1}/{repeats}: {times[-1]:.3f} s", file=log, flush=True)
    return statistics.median(times)


def cupy_sync():
    """Wait for our GPU work: CuPy's current stream (where the layers and the Numba kernels run), then the whole
    device, so that a kernel launched on another stream is not left running outside the timing."""
    import cupy                       # optional (the gpu extra): imported only on the GPU path
    cupy.cuda.get_current_stream().synchronize()
    cupy.cuda.runtime.deviceSynchronize()


def release_gpu_memory():
    """Return CuPy's and torch's cached blocks, so one side's memory pool does not squeeze the other."""
    gc.collect()
    if backend.get_device() != "cuda":
        return
    import cupy                       # optional (the gpu extra)
    cupy.get_default_memory_pool().free_all_blocks()
    torch = sys.modules.get("torch")      # only if the peer is in use: --no-torch must not import torch
    if torch is not None:
        torch.cuda.empty_cache()


def interleaved_medians(steps, repeats, warmup=1, log=None):
    """Median wall time (s) of each of ``steps`` {label: (step, sync)}: ``warmup`` runs of each, then ``repeats``
    rounds that run every step once, in turn. On a shared machine a change of load then falls on all of them
    alike, where timing one after the other would hand it to whichever ran at the time. ``sync()`` waits for the
    device before the clock starts and before it stops. -> {label: seconds}."""
    for step, sync in steps.values():
        for _ in range(warmup):
            step()
            sync()
    times = {label: [] for label in steps}
    for i in range(repeats):
        for label, (step, sync) in steps.items():
            sync()
            t0 = time.perf_counter()
            step()
            sync()
            times[label].append(time.perf_counter() - t0)
            if log is not None:
                print(f"  {label} step {i + 1}/{repeats}: {times[label][-1]:.3f} s", file=log, flush=True)
    return {label: statistics.median(t) for label, t in times.items()}


def device_sync():
    """The wait for our work on the current device: ``cupy_sync`` on the GPU, nothing on the CPU."""
    return cupy_sync if backend.get_device() == "cuda" else (lambda: None)


def ours_step(model_name, cfg, dtype, update, dropout):
    """One training step of our model at ``cfg`` on the current device, as a function of no arguments."""
    model = build_model(model_name, cfg, dtype)
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
    model = build_model(model_name, cfg, dtype)           # for its initial parameters and rates only
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


# -- the peer ------------------------------------------------------------------------------------------------------
def import_torch(device="cpu"):
    """torch (set up for a fair comparison on ``device``), or None with the reason when it does not import."""
    try:
        import torch                  # optional: the comparison peer, never a dependency
    except Exception as exc:  # noqa: BLE001 -- not installed, or a broken install (e.g. missing CUDA libraries)
        return None, f"{type(exc).__name__}: {exc}"
    if device == "cuda":
        # FP32 convolutions and matrix products in full FP32, like ours: no TF32 (10-bit mantissa) shortcut.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        # Let cuDNN pick its fastest algorithm for these fixed shapes (the warm-up step pays for the search).
        torch.backends.cudnn.benchmark = True
    return torch, None


def verify_peer(model_name, device="cpu", seed=0):
    """Check that the PyTorch peer of ``model_name`` computes the same function as our model.

    Small float64 configuration (``VERIFY``), our model's parameters set to generic values (the zero biases of
    the initialisation would hide a misplaced bias) and copied into the peer; same inputs; loss, parameter
    gradients and input gradients compared with head dropout off, then with the same dropout mask on both sides.
    Raises AssertionError beyond VERIFY_LOSS_TOL / VERIFY_GRAD_TOL; returns the worst figures
    {"loss": abs diff, "grads": worst rel_error over parameters, "inputs": worst over X (and M)}.
    Ours runs on ``device`` (tinyalstm's device for the call), the peer on the CPU or the GPU alike.
    """
    torch, why = import_torch(device)
    if torch is None:
        raise RuntimeError(f"verify_peer: torch not importable ({why})")
    from . import torch_peer as peer  # optional: PyTorch

    cfg, r = VERIFY, np.random.default_rng(seed)
    with on_device(device):
        model = build_model(model_name, cfg, np.float64, seed)
        model.params = {k: backend.to_device(0.5 * r.normal(size=v.shape), np.float64) for k, v in model.params.items()}
        X, y, M = make_inputs(cfg, model.reads_second, np.float64, seed + 1)
        mask = dropout_mask((cfg.batch, cfg.steps, cfg.fc_dim), model.dropout, np.random.default_rng(seed + 2),
                            np.float64)
        # with rng, the model draws its mask with this same call from a generator in the same state
        ours = [model.loss_and_input_grads(X, y, M),
                model.loss_and_input_grads(X, y, M, np.random.default_rng(seed + 2))]
    tdev = "cuda" if device == "cuda" else "cpu"
    p = peer.params_from({k: backend.to_numpy(v) for k, v in model.params.items()}, tdev, torch.float64)
    Xt, Mt = (None if a is None else torch.tensor(backend.to_numpy(a), device=tdev, requires_grad=True) for a in (X, M))
    yt = torch.as_tensor(backend.to_numpy(y), device=tdev)
    peer_dropouts = (None, (model.dropout, torch.as_tensor(mask, device=tdev)))
    worst = {"loss": 0.0, "grads": 0.0, "inputs": 0.0}
    for (loss, grads, dinputs), dropout in zip(ours, peer_dropouts):
        t_loss, t_grads, t_inputs = peer.loss_and_grads(model_name, p, Xt, yt, Mt, dropout)
        worst["loss"] = max(worst["loss"], abs(loss - t_loss))
        for theirs, mine, key in ((t_grads, grads, "grads"), (t_inputs, dinputs, "inputs")):
            if set(theirs) != set(mine):
                raise AssertionError(f"verify_peer({model_name}): {key} {sorted(mine)} vs peer {sorted(theirs)}")
            for k in mine:
                err = rel_error(backend.to_numpy(mine[k]), theirs[k].detach().cpu().numpy())
                worst[key] = max(worst[key], err)
    if worst["loss"] > VERIFY_LOSS_TOL or max(worst["grads"], worst["inputs"]) > VERIFY_GRAD_TOL:
        raise AssertionError(f"verify_peer({model_name}): the PyTorch peer computes a different function: loss diff "
                             f"{worst['loss']:.1e} (tol {VERIFY_LOSS_TOL:.0e}), worst rel grad diff "
                             f"{worst['grads']:.1e}, input grads {worst['inputs']:.1e} (tol {VERIFY_GRAD_TOL:.0e})")
    return worst


# -- the table -----------------------------------------------------------------------------------------------------
COLUMNS = ("model", "config", "device", "dtype", "GFLOP/step", "ours ms/step", "ours GFLOP/s", "torch ms/step",
           "torch GFLOP/s", "ours/torch", "GEMMs ms/step", "ceiling GFLOP/s", "ours % of ceiling")


def _num(x):
    """One decimal from 10 up, three significant digits below (tiny configs run at a fraction of a GFLOP/s)."""
    return f"{x:.1f}" if x >= 10 else f"{x:.3g}"


def _ratio(x):
    return f"{x:.2f}" if x >= 0.1 else f"{x:.2g}"


def format_table(rows):
    """Rows (dicts from run_benchmark) -> a Markdown table, columns aligned."""
    def cells(r):
        gflop = r["flops"] / 1e9
        ours = [_num(1e3 * r["ours_s"]), _num(gflop / r["ours_s"])]
        if r["torch_s"] is None:
            theirs = ["-", "-", "-"]
        else:
            theirs = [_num(1e3 * r["torch_s"]), _num(gflop / r["torch_s"]), _ratio(r["ours_s"] / r["torch_s"])]
        ceiling = [_num(1e3 * r["gemm_s"]), _num(gflop / r["gemm_s"]), f"{100 * r['gemm_s'] / r['ours_s']:.0f}"]
        return [r["model"], r["config"], r["device"], r["dtype"], _num(gflop), *ours, *theirs, *ceiling]

    table = [list(COLUMNS)] + [cells(r) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    lines = ["| " + " | ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             + " |" for row in table]
    lines.insert(1, "|" + "|".join("-" * (w + 2) if i < 4 else "-" * (w + 1) + ":" for i, w in enumerate(widths))
                 + "|")
    return "\n".join(lines)


def describe_device(device, torch):
    """One line naming the hardware and the libraries."""
    if device == "cuda":
        import cupy                   # optional (the gpu extra)
        name = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)["name"].decode()
        line = f"device cuda: {name}, CuPy {cupy.__version__}"
    else:
        cpu = platform.processor() or platform.machine()
        line = f"device cpu: {cpu}, {os.cpu_count()} cores, NumPy {np.__version__}"
        if hasattr(os, "getloadavg"):      # other work on the machine skews CPU timings: say how busy it was
            line += f", load average {os.getloadavg()[0]:.1f} at start"
    if torch is not None:
        extra = (f", cuDNN {torch.backends.cudnn.version()}, TF32 off, cudnn.benchmark on" if device == "cuda"
                 else f", {torch.get_num_threads()} threads")
        line += f"; peer: PyTorch {torch.__version__}{extra}"
    return line


def print_header(out, device, torch, why, configs, repeats, update, dropout):
    """What is timed, on what, at which sizes: the lines above the table."""
    what = ("model.loss_and_input_grads(X, y, M, rng): forward + backward through time, loss, parameter and "
            f"input-map gradients, head dropout {'on (training)' if dropout else 'off'}")
    print(f"tinyalstm.bench: one training step = {what}; optimiser update: {UPDATE if update else 'none'}", file=out)
    print(describe_device(device, torch), file=out)
    if torch is None:
        print(f"torch not importable: peer skipped ({why})" if why else "torch peer: off (--no-torch)", file=out)
    for cfg in configs:
        print(f"config {cfg.name}: {cfg.describe()}", file=out)
    print(f"time: median of {repeats} step{'s' if repeats > 1 else ''} after 1 warm-up step each, ours, the peer's "
          "and the GEMMs' steps interleaved (time.perf_counter, device synchronised); GFLOP/s: analytic FLOPs of "
          "the convolutions and head matrix products, forward x 3 (tinyalstm.perf.training_step.forward_flops)",
          file=out)
    matmul = "cupy.matmul (cuBLAS)" if device == "cuda" else "numpy.matmul (its BLAS)"
    print(f"ceiling: the same FLOPs as bare GEMMs, {matmul} on each convolution's im2col product (K, C k k) x "
          "(C k k, B N N) and each head product, forward and both backward products, as many as one step makes "
          "(training_step.gemm_step); ours % of ceiling = GEMMs' time / ours", file=out, flush=True)


def run_benchmark(models, configs, device, dtype="float32", repeats=5, use_torch=True, update=False, dropout=True,
                  out=None, log=None):
    """Time every model at every config on ``device``, print the report to ``out`` and progress to ``log``;
    return the rows: dicts with model, config, device, dtype, flops (per step), ours_s, torch_s (or None) and
    gemm_s (the GEMM ceiling's step, ``gemm_step``), median seconds per step. tinyalstm's device is restored
    afterwards."""
    out = sys.stdout if out is None else out
    log = sys.stderr if log is None else log
    dtype = np.dtype(dtype)
    torch, why = import_torch(device) if use_torch else (None, None)
    rows = []
    with on_device(device):
        print_header(out, device, torch, why, configs, repeats, update, dropout)
        for name in models:
            if torch is not None:
                print(f"[bench] {name}: verify_peer (float64, tiny config)", file=log, flush=True)
                w = verify_peer(name)
                print(f"{name}: peer matches: max rel grad diff {w['grads']:.1e}, input grads {w['inputs']:.1e}, "
                      f"loss diff {w['loss']:.1e} (float64, dropout off and same mask)", file=out, flush=True)
            for cfg in configs:
                flops = step_flops(name, cfg)
                label = f"{name}/{cfg.name}"
                print(f"[bench] {label}: ours, torch peer, GEMMs ({flops / 1e9:.4g} GFLOP/step)", file=log, flush=True)
                steps = {f"{label} ours": (ours_step(name, cfg, dtype, update, dropout), device_sync())}
                if torch is not None:
                    steps[f"{label} torch"] = torch_step(torch, name, cfg, dtype, update, dropout)
                steps[f"{label} GEMMs"] = (gemm_step(name, cfg, dtype), device_sync())
                medians = list(interleaved_medians(steps, repeats, log=log).values())
                del steps
                release_gpu_memory()
                rows.append({"model": name, "config": cfg.name, "device": device, "dtype": dtype.name,
                             "flops": flops, "ours_s": medians[0], "torch_s": medians[1] if torch else None,
                             "gemm_s": medians[-1]})
    print(format_table(rows), file=out)
    if device == "cpu" and hasattr(os, "getloadavg"):
        print(f"load average {os.getloadavg()[0]:.1f} at the end (other processes on these cores slow the CPU "
              "timings)", file=out)
    out.flush()
    return rows
