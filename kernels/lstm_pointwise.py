"""Fused LSTM gate pointwise math (aLSTM eqs. 7-12 / VideoLSTM eqs. 1-6 after the matrix products or
convolutions), forward and backward, as Numba CUDA kernels.

Contract: the same as ``tinyalstm.layers.lstm.lstm_cell_forward`` / ``lstm_cell_backward``, for pre-activations
``a (B, 4K, ...)`` with the gates i, f, o, g stacked on axis 1 and cells ``(B, K, ...)``: any trailing spatial
shape, flattened here to S positions (S = 1 for the fully connected LSTM, N*N for the ConvLSTM).

Design choices that matter:
- Fusion. Unfused, the cell is ~12 elementwise array passes (3 sigmoids, 2 tanh, 3 products, 1 sum, slicing
  copies), each a full read and write of global memory. These kernels are memory-bound, so the bytes they move
  are what sets their time, and each moves the minimum its contract allows, per cell element (float32):
  forward reads a (4 values) and prev_c, writes h and c: 28 B; backward reads dh, dc, a (4) and prev_c, writes
  da (4) and dprev_c: 48 B.
- Nothing saved but the inputs. The backward recomputes the gates from the pre-activation ``a`` and the cell
  from prev_c (a few transcendentals are cheaper than writing four gates and the cell in the forward and reading
  them back): the cache holds references to ``a`` and ``prev_c``, arrays that exist anyway.
- One thread per (b, k, s) element, on a 2-D grid: blockIdx.y is the batch row b and the x index runs over the
  K*S positions of one row, so each gate's address is ``b*4KS + gate*KS + m`` with no division; neighbouring
  threads read neighbouring addresses in each of the four gate blocks (coalesced).
- float32 throughout in float32 code: every constant is the array's dtype (a bare ``1.0`` would make the
  sigmoid float64).
"""
import math
from typing import NamedTuple

from numba import cuda, int32

from .launch import Kernel, array_module, cdiv

THREADS = 256


class PointwiseSaved(NamedTuple):
    a: object            # (B, 4K, S) the pre-activation, gates i, f, o, g
    prev_c: object       # (B, K, S)
    a_shape: tuple       # the pre-activation's shape


def _gates(dtype):
    """A device function: the activated gates i, f, o, g of one cell element from the pre-activation, in
    ``dtype``; the sigmoid through exp(-|x|) so that exp never overflows."""
    one, zero = dtype.type(1), dtype.type(0)

    @cuda.jit(device=True, inline=True)
    def sigmoid(x):
        e = math.exp(-abs(x))
        return one / (one + e) if x >= zero else e / (one + e)

    @cuda.jit(device=True, inline=True)
    def gates(a, gate, KS):
        """a[gate + j KS] for the gates j = i, f, o, g: their values after eqs. 7-10's nonlinearities."""
        return sigmoid(a[gate]), sigmoid(a[gate + KS]), sigmoid(a[gate + 2 * KS]), math.tanh(a[gate + 3 * KS])

    return gates


@cuda.jit(device=True, inline=True)
def _element(KS):
    """This thread's element: m in [0, K*S) within batch row blockIdx.y (-1 past the end), the row's offset in a
    (B, K, S) array and the offset of gate i of element m in a (B, 4K, S) array."""
    m = int32(cuda.blockIdx.x) * THREADS + int32(cuda.threadIdx.x)
    row = int32(cuda.blockIdx.y) * KS
    return (m if m < KS else int32(-1)), row, 4 * row + m


def _make_forward(dtype):
    gates = _gates(dtype)

    def forward(a, prev_c, h, c, KS):
        """h, c (B, K, S) from a (B, 4K, S) and prev_c (B, K, S); grid (ceil(KS / 256), B)."""
        m, row, gate = _element(KS)
        if m < 0:
            return
        i, f, o, g = gates(a, gate, KS)
        cn = f * prev_c[row + m] + i * g
        c[row + m] = cn
        h[row + m] = o * math.tanh(cn)

    return forward


def _make_backward(dtype):
    one = dtype.type(1)
    gates = _gates(dtype)

    def backward(dh, dc_next, a, prev_c, da, dprev_c, KS):
        """da (B, 4K, S), dprev_c (B, K, S) from dh, dc_next (B, K, S) and the forward's inputs; the gates and the
        cell recomputed from a and prev_c."""
        m, row, gate = _element(KS)
        if m < 0:
            return
        i, f, o, g = gates(a, gate, KS)
        pc = prev_c[row + m]
        tc = math.tanh(f * pc + i * g)
        dhv = dh[row + m]
        dc = dc_next[row + m] + dhv * o * (one - tc * tc)
        da[gate] = dc * g * i * (one - i)
        da[gate + KS] = dc * pc * f * (one - f)
        da[gate + 2 * KS] = dhv * tc * o * (one - o)
        da[gate + 3 * KS] = dc * i * (one - g * g)
        dprev_c[row + m] = dc * f

    return backward


FORWARD = Kernel("lstm_pointwise_forward", _make_forward, "ffffn", THREADS)
BACKWARD = Kernel("lstm_pointwise_backward", _make_backward, "ffffffn", THREADS)


def lstm_pointwise_forward(a, prev_c):
    """a (B, 4K, ...), prev_c (B, K, ...) -> next_h, next_c (B, K, ...), cache (PointwiseSaved)."""
    xp = array_module(a)
    B, K = prev_c.shape[:2]
    a3 = xp.ascontiguousarray(a).reshape(B, 4 * K, -1)
    pc3 = xp.ascontiguousarray(prev_c).reshape(B, K, -1)
    h, c = xp.empty_like(pc3), xp.empty_like(pc3)
    KS = pc3.shape[1] * pc3.shape[2]
    FORWARD.launch(a.dtype, (cdiv(KS, THREADS), B), THREADS, a3, pc3, h, c, KS)
    return h.reshape(prev_c.shape), c.reshape(prev_c.shape), PointwiseSaved(a3, pc3, a.shape)


def lstm_pointwise_backward(dnext_h, dnext_c, cache):
    """-> da (B, 4K, ...), dprev_c (B, K, ...)."""
    a3, pc3 = cache.a, cache.prev_c
    xp = array_module(a3)
    dh3 = xp.ascontiguousarray(dnext_h).reshape(pc3.shape)
    dc3 = xp.ascontiguousarray(dnext_c).reshape(pc3.shape)
    da, dprev_c = xp.empty_like(a3), xp.empty_like(pc3)
    KS = pc3.shape[1] * pc3.shape[2]
    BACKWARD.launch(a3.dtype, (cdiv(KS, THREADS), pc3.shape[0]), THREADS, dh3, dc3, a3, pc3, da, dprev_c, KS)
    return da.reshape(cache.a_shape), dprev_c.reshape(dnext_h.shape)
