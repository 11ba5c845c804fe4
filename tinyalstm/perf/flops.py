"""The FLOPs of one training step of ConvLSTM, ConvALSTM and VideoLSTM, counted from the matrix products their
equations make: every convolution as its im2col GEMM, every head product, at the shapes the step-by-step layers
run (``forward_gemms``); a training step is 3x the forward count (``step_flops``). The benchmark divides these
by its times (GFLOP/s) and times the same products alone as the step's ceiling (``steps.gemm_step``)."""
from typing import NamedTuple


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
    """Every convolution and head product of one forward pass of ``model_name`` at ``cfg`` (a ``steps.Config``),
    as the GEMM the step-by-step layers make of it (tests/test_bench.py checks the list against their calls): a
    convolution of the B maps N x N of a step, K output and C input channels, k x k kernels, is
    (K, C k k) x (C k k, B N N) (im2col, conv.py), the ConvLSTM's input convolution one GEMM over all B*T frames
    (as in conv_lstm.py and the PyTorch peer); a head product of the B*T step states is (B T, D) x (D, M). The
    fused CPU path (tinyalstm/fused/) makes the same FLOPs as fewer, larger GEMMs.

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
