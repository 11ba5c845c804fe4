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
- One block per video (batch row): the softmax needs a max and a sum over all S positions, and a block can do
  both reductions in shared memory with barriers, so one launch does eqs. 8 and 9 together; no partial sums go
  through global memory and no second launch is needed.
- Fusion: the forward reads z and x once and writes A and X~ once; the backward reads dX~, X and A once and
  writes dZ and dX once. Unfused (CuPy), the same work is ~8 passes (max, exp, sum, divide, broadcast multiply;
  multiply, channel sum, Jacobian, broadcast multiply).
- The channel sum of the backward is done by a 32 x 8 thread layout: 32 threads along positions (neighbouring
  addresses, coalesced) times 8 along channels, each summing C/8 channels in registers, then a shared-memory
  reduction over the 8, which gives a deterministic result (no atomics).
- The max is subtracted before exp (eq. 8 is invariant to it) so that float32 never overflows.
- Positions are handled by strided loops, so any map size works (no fixed-size shared array over positions).
"""
import functools
import math
from typing import NamedTuple

import numpy as np
from numba import cuda, from_dtype

from .launch import array_module, stream_of

PX, PC = 32, 8              # threads along positions x along channels (backward channel sum)
THREADS = PX * PC


class SoftmaxKernelSaved(NamedTuple):
    x: object            # (B, C, N*N) maps
    a: object            # (B, N*N) attention
    shape: tuple         # the maps' shape (B, C, N, N)


@cuda.jit(device=True, inline=True)
def _block_reduce(red, tid, use_max):
    """Tree reduction of red[0:THREADS] in shared memory; the result ends in red[0]."""
    step = THREADS // 2
    while step > 0:
        if tid < step:
            if use_max:
                red[tid] = max(red[tid], red[tid + step])
            else:
                red[tid] += red[tid + step]
        cuda.syncthreads()
        step //= 2


@functools.cache
def _kernels(dtype):
    nb = from_dtype(np.dtype(dtype))
    zero = np.dtype(dtype).type(0)

    @cuda.jit
    def forward(z, x, a, x_att):
        B, C, S = x.shape
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        red = cuda.shared.array(THREADS, nb)
        m = -math.inf
        for s in range(tid, S, THREADS):
            m = max(m, z[b, s])
        red[tid] = m
        cuda.syncthreads()
        _block_reduce(red, tid, True)
        zmax = red[0]
        cuda.syncthreads()
        total = zero
        for s in range(tid, S, THREADS):
            e = math.exp(z[b, s] - zmax)
            a[b, s] = e
            total += e
        red[tid] = total
        cuda.syncthreads()
        _block_reduce(red, tid, False)
        total = red[0]
        for s in range(tid, S, THREADS):        # each thread rescales the entries it wrote itself
            a[b, s] = a[b, s] / total
        cuda.syncthreads()                       # makes every a[b, :] visible to the whole block
        for n in range(tid, C * S, THREADS):
            s = n % S
            x_att[b, n // S, s] = a[b, s] * x[b, n // S, s]

    @cuda.jit
    def backward(dx_att, x, a, da_extra, has_extra, dz, dx):
        B, C, S = x.shape
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        ps, pc = tid % PX, tid // PX
        red = cuda.shared.array(THREADS, nb)
        wsum = zero                               # this thread's share of sum_s A[s] dA[s]
        for s0 in range(0, S, PX):
            s = s0 + ps
            part = zero
            if s < S:
                for c in range(pc, C, PC):
                    part += dx_att[b, c, s] * x[b, c, s]
            red[tid] = part
            cuda.syncthreads()
            if pc == 0 and s < S:
                da = zero
                for q in range(PC):
                    da += red[q * PX + ps]
                if has_extra:
                    da += da_extra[b, s]
                dz[b, s] = da                     # dA for now; turned into dZ below
                wsum += a[b, s] * da
            cuda.syncthreads()
        red[tid] = wsum
        cuda.syncthreads()
        _block_reduce(red, tid, False)
        wsum = red[0]
        if pc == 0:                               # the threads that wrote dA[s] read it back
            for s in range(ps, S, PX):
                dz[b, s] = a[b, s] * (dz[b, s] - wsum)
        for n in range(tid, C * S, THREADS):
            s = n % S
            dx[b, n // S, s] = a[b, s] * dx_att[b, n // S, s]

    return forward, backward


def spatial_softmax_forward(z, x):
    """Eqs. 8-9: z (B, N, N) scores, x (B, C, N, N) -> x_att (B, C, N, N), a (B, N, N), cache (SoftmaxKernelSaved)."""
    xp = array_module(x)
    B, C = x.shape[:2]
    z2 = xp.ascontiguousarray(z).reshape(B, -1)
    x3 = xp.ascontiguousarray(x).reshape(B, C, -1)
    a, x_att = xp.empty_like(z2), xp.empty_like(x3)
    _kernels(x.dtype)[0][B, THREADS, stream_of(x)](z2, x3, a, x_att)
    return x_att.reshape(x.shape), a.reshape(z.shape), SoftmaxKernelSaved(x3, a, x.shape)


def spatial_softmax_backward(dx_att, cache, da_extra=None):
    """-> dz (B, N, N), dx (B, C, N, N) the gradient through eq. 9's direct product only."""
    x3, a, shape = cache.x, cache.a, cache.shape
    xp = array_module(x3)
    B = shape[0]
    d3 = xp.ascontiguousarray(dx_att).reshape(x3.shape)
    extra = a if da_extra is None else xp.ascontiguousarray(da_extra).reshape(a.shape)
    dz, dx = xp.empty_like(a), xp.empty_like(x3)
    _kernels(x3.dtype)[1][B, THREADS, stream_of(x3)](d3, x3, a, extra, da_extra is not None, dz, dx)
    return dz.reshape((B,) + shape[2:]), dx.reshape(shape)
