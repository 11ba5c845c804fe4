"""Fused LSTM gate pointwise math (aLSTM eqs. 7-12 / VideoLSTM eqs. 1-6 after the matrix products or
convolutions), forward and backward, as Numba CUDA kernels.

Contract: the same as ``tinyalstm.layers.lstm.lstm_cell_forward`` / ``lstm_cell_backward``, for pre-activations
``a (B, 4K, ...)`` with the gates i, f, o, g stacked on axis 1 and cells ``(B, K, ...)``: any trailing spatial
shape, flattened here to S positions (S = 1 for the fully connected LSTM, N*N for the ConvLSTM).

Design choices that matter:
- Fusion. Unfused, the cell is ~12 elementwise array passes (3 sigmoids, 2 tanh, 3 products, 1 sum, slicing
  copies), each a full read and write of global memory. One kernel reads a and prev_c once and writes h, c and
  the gates once: the step is memory-bound, so the bytes moved are what sets its time.
- One thread per (b, k, s) output element, with s fastest: neighbouring threads read neighbouring addresses in
  each of the four gate blocks (stride K*S apart), so every load is coalesced.
- The backward recomputes tanh(c) from the stored c instead of storing it: one transcendental is cheaper than
  another array round trip.
- Arrays are CuPy arrays passed through ``__cuda_array_interface__`` (no copies) and kernels are launched on
  CuPy's current stream. Under ``NUMBA_ENABLE_CUDASIM=1`` they take NumPy arrays, which is how CI checks them.
"""
import math
from typing import NamedTuple

from numba import cuda

from .launch import array_module, stream_of

THREADS = 256


class PointwiseSaved(NamedTuple):
    gates: object        # (B, 4K, S) the activated gates i, f, o, g
    prev_c: object       # (B, K, S)
    c: object            # (B, K, S) the new cell
    a_shape: tuple       # the pre-activation's shape


@cuda.jit(device=True, inline=True)
def _sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@cuda.jit(device=True, inline=True)
def _position(n, K, S):
    """Flat thread index -> (b, k, s), s fastest so neighbouring threads touch neighbouring addresses."""
    return n // (K * S), (n % (K * S)) // S, n % S


@cuda.jit
def _forward_kernel(a, prev_c, gates, h, c):
    n = cuda.grid(1)
    B, K, S = prev_c.shape
    if n >= B * K * S:
        return
    b, k, s = _position(n, K, S)
    i = _sigmoid(a[b, k, s])
    f = _sigmoid(a[b, K + k, s])
    o = _sigmoid(a[b, 2 * K + k, s])
    g = math.tanh(a[b, 3 * K + k, s])
    cn = f * prev_c[b, k, s] + i * g
    c[b, k, s] = cn
    h[b, k, s] = o * math.tanh(cn)
    gates[b, k, s] = i
    gates[b, K + k, s] = f
    gates[b, 2 * K + k, s] = o
    gates[b, 3 * K + k, s] = g


@cuda.jit
def _backward_kernel(dh, dc_next, gates, prev_c, c, da, dprev_c):
    n = cuda.grid(1)
    B, K, S = prev_c.shape
    if n >= B * K * S:
        return
    b, k, s = _position(n, K, S)
    i = gates[b, k, s]
    f = gates[b, K + k, s]
    o = gates[b, 2 * K + k, s]
    g = gates[b, 3 * K + k, s]
    tc = math.tanh(c[b, k, s])
    dhv = dh[b, k, s]
    dc = dc_next[b, k, s] + dhv * o * (1.0 - tc * tc)
    da[b, k, s] = dc * g * i * (1.0 - i)
    da[b, K + k, s] = dc * prev_c[b, k, s] * f * (1.0 - f)
    da[b, 2 * K + k, s] = dhv * tc * o * (1.0 - o)
    da[b, 3 * K + k, s] = dc * i * (1.0 - g * g)
    dprev_c[b, k, s] = dc * f


def _launch(kernel, n, stream, *args):
    kernel[(n + THREADS - 1) // THREADS, THREADS, stream](*args)


def lstm_pointwise_forward(a, prev_c):
    """a (B, 4K, ...), prev_c (B, K, ...) -> next_h, next_c (B, K, ...), cache (PointwiseSaved)."""
    xp = array_module(a)
    B, K = prev_c.shape[:2]
    a3 = xp.ascontiguousarray(a).reshape(B, 4 * K, -1)
    pc3 = xp.ascontiguousarray(prev_c).reshape(B, K, -1)
    gates, h, c = xp.empty_like(a3), xp.empty_like(pc3), xp.empty_like(pc3)
    _launch(_forward_kernel, h.size, stream_of(a), a3, pc3, gates, h, c)
    return h.reshape(prev_c.shape), c.reshape(prev_c.shape), PointwiseSaved(gates, pc3, c, a.shape)


def lstm_pointwise_backward(dnext_h, dnext_c, cache):
    """-> da (B, 4K, ...), dprev_c (B, K, ...)."""
    gates, pc3, c, a_shape = cache.gates, cache.prev_c, cache.c, cache.a_shape
    xp = array_module(gates)
    dh3 = xp.ascontiguousarray(dnext_h).reshape(pc3.shape)
    dc3 = xp.ascontiguousarray(dnext_c).reshape(pc3.shape)
    da, dprev_c = xp.empty_like(gates), xp.empty_like(pc3)
    _launch(_backward_kernel, pc3.size, stream_of(gates), dh3, dc3, gates, pc3, c, da, dprev_c)
    return da.reshape(a_shape), dprev_c.reshape(dnext_h.shape)
