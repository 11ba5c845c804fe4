"""Benchmark one training step of the VideoLSTM-paper models (ConvLSTM, ConvALSTM, VideoLSTM), ours vs PyTorch.

    python -m tinyalstm.bench                          # CPU: the 'cpu' config; GPU: 'paper' and 'cpu'
    python -m tinyalstm.bench --config paper --models convlstm --repeats 1
    python -m tinyalstm.bench --help

One step is ``model.loss_and_input_grads(X, y, M, rng)``: the forward pass, the per-step softmax loss and the
hand-written backward pass through time, returning the loss, every parameter's gradient and the gradient of the
input maps (head dropout on, its mask drawn from ``rng``, as in training). ``--update`` adds the optimiser
update (RMSprop, the VideoLSTM recipe). The time is the median of ``--repeats`` steps after one warm-up step,
ours, the peer's and the GEMM ceiling's steps interleaved.

The GEMM ceiling is the same step's FLOPs as bare matrix products: NumPy's matmul (cuBLAS on the GPU) on every
convolution's im2col GEMM and every head product, forward and both backward products, at the shapes the
step-by-step layers run, measured in the same run, so that the table says how close to its BLAS each step gets.

The peer is the same model written in PyTorch (``tinyalstm/perf/torch_peer.py``: F.conv2d, autograd), used only
when ``import torch`` works; PyTorch is never a dependency of tinyalstm. Before a model is timed, ``verify_peer``
checks on a small float64 configuration that the peer computes the same loss and gradients as tinyalstm.
"""
import argparse

from . import backend
from .perf.peer_check import VERIFY_GRAD_TOL, VERIFY_LOSS_TOL
from .perf.steps import BENCH_MODELS, CONFIGS, UPDATE
from .perf.training_step import run_benchmark

# -- CLI -----------------------------------------------------------------------------------------------------------
EPILOG = f"""\
configs (--config):
  paper  {CONFIGS['paper'].describe()}
         (VideoLSTM sec. 5.2; flow maps are the flow VGG-16's pool5, also 7x7x512)
  cpu    {CONFIGS['cpu'].describe()}
  tiny   {CONFIGS['tiny'].describe()}  (tests)
  all    paper and cpu

What is timed: one training step, model.loss_and_input_grads(X, y, M, rng): forward, per-step softmax loss
over all steps, hand-written backward through time, gradients of all parameters and of the input maps; head
dropout 0.7 on unless --no-dropout. With --update also the optimiser step, {UPDATE}
(torch.optim.RMSprop with alpha=0.9, eps=1e-6 for the peer: the same update rule). Median of --repeats steps
after one warm-up step, timed with time.perf_counter; ours, the peer's and the GEMMs' steps take turns (one of
each per round), so that other work on a shared machine slows all three alike. On the GPU the device is
synchronised before and after each step (CuPy's stream and the device for ours, torch.cuda.synchronize() for
the peer), so the time includes all queued kernels.

GEMM ceiling (columns "GEMMs ms/step", "ceiling GFLOP/s", "ours % of ceiling"): a step of nothing but the
step's matrix products, the array module's matmul (NumPy's BLAS; cuBLAS through CuPy) on random operands: for
every convolution the im2col GEMM (K, C k k) x (C k k, B N N) (e.g. the gate convolution W_h * H_(t-1),
4K x K k k by K k k x B N N, T times) and its two backward products, for the head its products and theirs, at
the shapes the step-by-step layers run (forward_gemms() in tinyalstm/perf/flops.py). Its rate is what
the BLAS reaches on this step's FLOPs; ours % of ceiling = GEMMs' time / our time. On the CPU, tinyalstm runs
the recurrences as fewer, larger GEMMs of the same FLOPs (tinyalstm/fused/), so it can come near
100 % only if everything else (im2col, gate math, softmax, layout) costs little.

GFLOP/s: analytic FLOPs / median time. Counted: every convolution (a stride-1 "same" conv costs
2*B*H*W*K*C*kh*kw forward) and the head's two matrix products, forward; a training step is 3x forward (the
backward pass computes an input gradient and a weight gradient of the same size for each). Not counted: biases,
pointwise gate math, softmaxes, the attention product, the loss. See forward_flops() in tinyalstm/perf/flops.py.

PyTorch peer (tinyalstm/perf/torch_peer.py): the same models written with F.conv2d and autograd, same gate order
i, f, o, g, same attention, same time-mean initial states, same FC-1024-tanh-dropout-softmax head; it starts from
our model's initial parameters and reads the same inputs, and it computes the input-map gradients too. Used only
when `import torch` works (PyTorch is never a tinyalstm dependency). Before timing each model, verify_peer()
checks the peer against tinyalstm on a small float64 config (loss to {VERIFY_LOSS_TOL:.0e}, gradients to
{VERIFY_GRAD_TOL:.0e} relative) and prints "peer matches: ...". On a GPU the peer runs on cuDNN with TF32 off and
cudnn.benchmark on. ours/torch > 1 means we are slower.

Run time: at the cpu config a step takes 0.15-0.6 s per model on 2 cores, ours, the peer's and the GEMMs' (25-40 s
in all, with the peer checks). The paper config is a GPU size: on a 2-core CPU one step takes minutes (5.5 TFLOP
for ConvLSTM, 5.7 for ConvALSTM, 13.7 for VideoLSTM), times (1 warm-up + --repeats) steps, for ours, the peer and
the GEMMs, and several GB of memory. Ask for it explicitly, with --repeats 1.

Examples:
  python -m tinyalstm.bench --no-torch
  python -m tinyalstm.bench --config paper --models convlstm --repeats 1
  python -m tinyalstm.bench --device cuda --config all --dtype float32
"""


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tinyalstm.bench", description=__doc__.split("\n\n")[0],
                                 epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=("cpu", "cuda"), default=None,
                    help="where to run (default: tinyalstm's choice: TINYALSTM_DEVICE, else cuda when CuPy sees a "
                         "GPU, else cpu)")
    ap.add_argument("--config", choices=(*CONFIGS, "all"), default=None,
                    help="problem size, see below (default: cpu on the CPU, all on cuda)")
    ap.add_argument("--models", nargs="+", choices=BENCH_MODELS, default=list(BENCH_MODELS),
                    help="models to time (default: all three)")
    ap.add_argument("--repeats", type=int, default=5, help="timed steps after the warm-up step; the median is "
                                                           "reported (default 5)")
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                    help="parameter and activation dtype, ours and peer (default float32)")
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch peer (and its verification)")
    ap.add_argument("--update", action="store_true", help="include the optimiser update (RMSprop) in the step")
    ap.add_argument("--no-dropout", action="store_true", help="head dropout off (evaluation-mode head)")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error(f"--repeats: expected a positive integer, got {args.repeats}")
    if args.device == "cuda" and backend.cupy_or_none() is None:
        ap.error("--device cuda: CuPy is not installed or sees no GPU (install the 'gpu' extra, see README)")
    return args


def main(argv=None):
    args = parse_args(argv)
    device = args.device or backend.get_device()
    config = args.config or ("all" if device == "cuda" else "cpu")
    configs = [CONFIGS["paper"], CONFIGS["cpu"]] if config == "all" else [CONFIGS[config]]
    run_benchmark(args.models, configs, device, args.dtype, args.repeats, use_torch=not args.no_torch,
                  update=args.update, dropout=not args.no_dropout)
    return 0


if __name__ == "__main__":
    from .run.cli import run
    run(main)
