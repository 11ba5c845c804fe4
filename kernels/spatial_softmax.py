"""The spatial softmax and its application to the feature map (VideoLSTM eqs. 8-9), forward and backward, as
Numba CUDA kernels.

    A^{ij} = exp(Z^{ij}) / sum_{i'j'} exp(Z^{i'j'})      (8)      X~ = A . X   (every channel)      (9)

Backward, for upstream dX~ (B, C, S) and an optional direct gradient of the map dA_extra (B, S):

    dA[s]  = sum_c dX~[c, s] X[c, s] + dA_extra[s]
    dZ[s]  = A[s] (dA[s] - sum_s' A[s'] dA[s'])          (softmax Jacobian)
    dX     = A[s] dX~[c, s]                               (the direct part; the caller adds what flows back
                                                            through the convolutions that made Z)

Contract: z (B, S) scores, x (B, C, S) maps with S = N*N positions flattened; the tinyalstm layer
(spatial_attention.py) does the convolutions of eq. 7 and calls these for eqs. 8-9.

Design choices that matter:
- Bytes at the minimum. Both kernels are memory-bound; per map element (c, s), float32, the forward reads X and
  writes X~ (8 B), the backward reads dX~ and X and writes dX (12 B): dX is written in the same pass that sums
  dX~ X over channels, so dX~ is read once. Per position, z, A, dA_extra and dZ add 4-12 B, shared by C channels.
- The forward's grid is (B, G): each of G blocks of one video recomputes the softmax of its S scores into shared
  memory (S = 49 at the paper's size: cheaper than a second launch) and scales its share of the C*S map elements,
  so a batch of 32 fills more than 32 SMs; block 0 writes A.
- Per position, each array is read or written once too: the forward keeps z[b], then A[b], in shared memory;
  the backward keeps A[b] and dA[b] there (maps of up to 6,016 positions in float32, 77 x 77: 48 KB of shared
  memory per block less the reduction's 1 KB).
- The backward needs a sum over all channels per position before dZ, so one block per video does it: a 32 x 8
  thread layout, 32 threads along positions (neighbouring addresses, coalesced) times 8 along channels, each
  summing C/8 channels in registers, then a shared-memory reduction over the 8 (deterministic, no atomics).
- No division in a loop: the forward walks its elements with a flat index and keeps the position s = n mod S
  by adding 256 mod S and wrapping once; the backward steps channels by adding 8 S to an offset.
- float32 throughout in float32 code (the max starts at the dtype's -inf, not Python's float64 one); the max is
  subtracted before exp (eq. 8 is invariant to it) so that float32 never overflows.
"""
import math
from typing import NamedTuple

import numpy as np
from numba import cuda, from_dtype, int32

from .launch import Kernel, array_module, cdiv

THREADS = 256
PX, PC = 32, 8              # backward: threads along positions x along channels
CHUNK = 8192                # forward: map elements per block (32 per thread)
MAX_SHARED = 48 * 1024      # shared memory per block without opting in: the backward's 2 S values + its reduction


class SoftmaxKernelSaved(NamedTuple):
    x: object            # (B, C, N*N) maps
    a: object            # (B, N*N) attention
    shape: tuple         # the maps' shape (B, C, N, N)


@cuda.jit(device=True, inline=True)
def _block_max(red, tid):
    """Tree reduction (max) of red[0:THREADS] in shared memory; the result ends in red[0]."""
    step = THREADS // 2
    while step > 0:
        if tid < step:
            red[tid] = max(red[tid], red[tid + step])
        cuda.syncthreads()
        step >>= 1


@cuda.jit(device=True, inline=True)
def _block_sum(red, tid):
    """Tree reduction (sum) of red[0:THREADS] in shared memory; the result ends in red[0]."""
    step = THREADS // 2
    while step > 0:
        if tid < step:
            red[tid] += red[tid + step]
        cuda.syncthreads()
        step >>= 1


def _make_forward(dtype):
    nb = from_dtype(dtype)
    zero, minus_inf = dtype.type(0), dtype.type(-np.inf)

    def forward(z, x, a, x_att, C, S):
        """Grid (B, G), 256 threads, S values of dynamic shared memory: block (b, g) computes A[b] and X~[b] for
        elements [g CHUNK, (g+1) CHUNK)."""
        b, g = int32(cuda.blockIdx.x), int32(cuda.blockIdx.y)
        tid = int32(cuda.threadIdx.x)
        red = cuda.shared.array(THREADS, nb)
        a_sh = cuda.shared.array(0, nb)        # z[b], then A[b]: S values, z read from global memory once
        zb = b * S
        m = minus_inf
        for s in range(tid, S, THREADS):
            v = z[zb + s]
            a_sh[s] = v
            m = max(m, v)
        red[tid] = m
        cuda.syncthreads()
        _block_max(red, tid)
        zmax = red[0]
        cuda.syncthreads()
        total = zero
        for s in range(tid, S, THREADS):       # each thread turns the scores it loaded into exp(z - max)
            e = math.exp(a_sh[s] - zmax)
            a_sh[s] = e
            total += e
        red[tid] = total
        cuda.syncthreads()
        _block_sum(red, tid)
        total = red[0]
        for s in range(tid, S, THREADS):
            v = a_sh[s] / total
            a_sh[s] = v
            if g == 0:
                a[zb + s] = v
        cuda.syncthreads()
        # X~ = A . X over this block's elements: per element one global read and one global write
        start = g * CHUNK + tid
        end = min(C * S, (g + 1) * CHUNK)
        s = start % S                          # once per thread; the loop only adds and wraps
        ds = THREADS % S
        xb = b * C * S
        for n in range(start, end, THREADS):
            x_att[xb + n] = a_sh[s] * x[xb + n]
            s += ds
            if s >= S:
                s -= S

    return forward


def _make_backward(dtype):
    nb = from_dtype(dtype)
    zero = dtype.type(0)

    def backward(dx_att, x, a, da_extra, dz, dx, C, S, has_extra):
        """Grid B, 256 threads (32 positions x 8 channels), 2 S values of dynamic shared memory."""
        b = int32(cuda.blockIdx.x)
        tid = int32(cuda.threadIdx.x)
        ps, pc = tid & (PX - 1), tid >> 5
        red = cuda.shared.array(THREADS, nb)
        sh = cuda.shared.array(0, nb)             # A[b] in sh[0:S], dA[b] in sh[S:2S]
        zb, xb = b * S, b * C * S
        for s in range(tid, S, THREADS):          # A read from global memory once
            sh[s] = a[zb + s]
        cuda.syncthreads()
        wsum = zero                               # this thread's share of sum_s A[s] dA[s]
        for s0 in range(0, S, PX):
            s = s0 + ps
            part = zero
            if s < S:
                a_s = sh[s]
                off = xb + pc * S + s
                for _ in range(pc, C, PC):
                    d = dx_att[off]
                    part += d * x[off]
                    dx[off] = a_s * d             # eq. 9's direct gradient, in the same pass
                    off += PC * S
            red[tid] = part
            cuda.syncthreads()
            if pc == 0 and s < S:
                da = zero
                for q in range(PC):
                    da += red[q * PX + ps]
                if has_extra:
                    da += da_extra[zb + s]
                sh[S + s] = da
                wsum += sh[s] * da
            cuda.syncthreads()
        red[tid] = wsum
        cuda.syncthreads()
        _block_sum(red, tid)
        wsum = red[0]
        for s in range(tid, S, THREADS):          # dZ written once
            dz[zb + s] = sh[s] * (sh[S + s] - wsum)

    return backward


FORWARD = Kernel("spatial_softmax_forward", _make_forward, "ffffnn", THREADS)
BACKWARD = Kernel("spatial_softmax_backward", _make_backward, "ffffffnnn", THREADS)


def spatial_softmax_forward(z, x):
    """Eqs. 8-9: z (B, N, N) scores, x (B, C, N, N) -> x_att (B, C, N, N), a (B, N, N), cache (SoftmaxKernelSaved)."""
    xp = array_module(x)
    B, C = x.shape[:2]
    z2 = xp.ascontiguousarray(z).reshape(B, -1)
    x3 = xp.ascontiguousarray(x).reshape(B, C, -1)
    S = z2.shape[1]
    a, x_att = xp.empty_like(z2), xp.empty_like(x3)
    most = (MAX_SHARED - THREADS * x.dtype.itemsize) // (2 * x.dtype.itemsize)
    if S > most:
        raise ValueError(f"spatial softmax kernels: {S} positions per map, at most {most} in {x.dtype} "
                         f"(77 x 77 in float32)")
    FORWARD.launch(x.dtype, (B, cdiv(C * S, CHUNK)), THREADS, z2, x3, a, x_att, C, S, shared=S * x.dtype.itemsize)
    return x_att.reshape(x.shape), a.reshape(z.shape), SoftmaxKernelSaved(x3, a, x.shape)


def spatial_softmax_backward(dx_att, cache, da_extra=None):
    """-> dz (B, N, N), dx (B, C, N, N) the gradient through eq. 9's direct product only."""
    x3, a, shape = cache.x, cache.a, cache.shape
    xp = array_module(x3)
    B, C, S = x3.shape
    d3 = xp.ascontiguousarray(dx_att).reshape(x3.shape)
    extra = a if da_extra is None else xp.ascontiguousarray(da_extra).reshape(a.shape)
    dz, dx = xp.empty_like(a), xp.empty_like(x3)
    BACKWARD.launch(x3.dtype, B, THREADS, d3, x3, a, extra, dz, dx, C, S, int(da_extra is not None),
                    shared=2 * S * x3.dtype.itemsize)
    return dz.reshape((B,) + shape[2:]), dx.reshape(shape)
