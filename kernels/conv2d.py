"""Stride-1 "same" convolution (VideoLSTM's '*' in eqs. 1-9) as Numba CUDA implicit-GEMM kernels: the forward,
the gradient with respect to the input (the same kernel on flipped weights) and the weight gradient summed over
every image of the batch (B*T images when a whole sequence's input convolution is one call).

Contract: the same as ``tinyalstm.layers.conv.conv2d_forward`` / ``conv2d_backward`` (x NCHW, w (K, C, kh, kw), odd
kh and kw, zero padding). Both kernels are one matrix product whose second operand is the im2col matrix, which
is never built:

    forward   out (K, B*H*W)    = W (K, C*kh*kw)     @ cols (C*kh*kw, B*H*W)
    dgrad     dx                = conv(dout, W')     W'[c, k, p, q] = W[k, c, kh-1-p, kw-1-q]
    wgrad     dW (K, C*kh*kw)   = dout (K, B*H*W)    @ cols^T (B*H*W, C*kh*kw)

Design choices that matter:
- Implicit im2col. At VideoLSTM's size (512 channels, 3x3, 7x7 maps, batch 32) the column matrix of one step is
  9x the input (29 MB in float32), written and read back every step. Here each block gathers the window values it
  needs straight from x into shared memory, zero for positions in the padding, so x is read from global memory
  about 9x per block row instead of materialising 9x x once per call and reading it per block row.
- Tiling. A block computes a 64 x 64 tile of the output from 16-deep slices of both operands staged in shared
  memory, so every value loaded from global memory is used 64 times. Each of the 256 threads keeps a 4 x 4
  sub-tile in registers (the loads from shared memory per multiply-add drop from 2 to 0.5), strided by 16 so
  that both shared-memory reads and global stores of neighbouring threads touch neighbouring addresses.
- Coalescing. Tile loads are ordered so that neighbouring threads read neighbouring addresses: along the
  reduction index for W, along spatial positions for x and dout. The shared tiles that are stored transposed are
  padded by one column, which removes the 16-way bank conflicts of the transposed store.
- One kernel for forward and dgrad. The input gradient of a stride-1 "same" convolution with an odd kernel is a
  "same" convolution of dout with the spatially flipped, channel-transposed kernel, so dgrad costs one weight
  copy (K*C*kh*kw, 37 MB at the paper's size, ~0.02 ms of bandwidth on an H100) and no second kernel to test.
- The bias is added in the forward's epilogue (no extra pass); the bias gradient is a CuPy reduction.
- No split-K: at the sizes that matter the output tiles alone give >= 2000 blocks for the wgrad (K=2048 by
  C*9=4608) and ~800 for the forward (K=2048 by B*49=1568), enough to fill 132 SMs.

Arrays are CuPy arrays passed through ``__cuda_array_interface__`` (no copies); kernels are launched on CuPy's
current stream. Under ``NUMBA_ENABLE_CUDASIM=1`` they take NumPy arrays, which is how CI checks them.
"""
import functools
from typing import NamedTuple

import numpy as np
from numba import cuda, from_dtype

from .launch import array_module, stream_of

TM, TN, TK = 64, 64, 16     # output tile rows x columns, reduction slice depth
TX, TY = 16, 16             # threads per block; each computes (TM/TY) x (TN/TX) = 4 x 4 outputs


class ConvSaved(NamedTuple):
    x: object            # (B, C, H, W) contiguous input
    w: object            # (K, C, kh, kw)
    bias: bool = True    # whether the forward added a bias (else no bias gradient is computed)
RM, RN = TM // TY, TN // TX


@cuda.jit(device=True, inline=True)
def _window_value(x, r, n, kh, kw, zero):
    """Entry (r, n) of the implicit im2col matrix: r = (c, p, q) a kernel tap, n = (b, s) an output position;
    zero where the window reaches into the "same" padding."""
    B, C, H, W = x.shape
    S = H * W
    c, pq = r // (kh * kw), r % (kh * kw)
    b, s = n // S, n % S
    i, j = s // W + pq // kw - kh // 2, s % W + pq % kw - kw // 2
    if 0 <= i < H and 0 <= j < W:
        return x[b, c, i, j]
    return zero


@cuda.jit(device=True, inline=True)
def _multiply_tiles(As, Bs, acc, tx, ty):
    """acc[i, j] += sum_k As[k, ty + 16 i] Bs[k, tx + 16 j]: this thread's 4 x 4 outputs, strided by 16 so that
    neighbouring threads read neighbouring shared-memory words."""
    for kk in range(TK):
        for i in range(RM):
            a = As[kk, ty + i * TY]
            for j in range(RN):
                acc[i, j] += a * Bs[kk, tx + j * TX]


@functools.cache
def _kernels(dtype):
    """Compile the two kernels for one float dtype (shared and local arrays need it at compile time)."""
    nb = from_dtype(np.dtype(dtype))
    zero = np.dtype(dtype).type(0)

    @cuda.jit
    def forward(x, w, bias, out, kh, kw):
        """out[b, m, s] = bias[m] + sum_r w[m, r] * cols[r, b*S + s]; x (B, C, H, W), w (M, C*kh*kw)."""
        B, C, H, W = x.shape
        M, R = w.shape
        S = H * W
        L = B * S
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        tid = ty * TX + tx
        m0, n0 = cuda.blockIdx.y * TM, cuda.blockIdx.x * TN
        As = cuda.shared.array((TK, TM + 1), nb)
        Bs = cuda.shared.array((TK, TN), nb)
        acc = cuda.local.array((RM, RN), nb)
        for i in range(RM):
            for j in range(RN):
                acc[i, j] = 0
        for r0 in range(0, R, TK):
            for step in range(TM * TK // (TX * TY)):
                idx = tid + step * TX * TY
                mm, kk = idx // TK, idx % TK            # neighbouring threads: neighbouring r of one row of w
                m, r = m0 + mm, r0 + kk
                As[kk, mm] = w[m, r] if (m < M and r < R) else 0
            for step in range(TN * TK // (TX * TY)):
                idx = tid + step * TX * TY
                kk, nn = idx // TN, idx % TN            # neighbouring threads: neighbouring output positions
                r, n = r0 + kk, n0 + nn
                Bs[kk, nn] = _window_value(x, r, n, kh, kw, zero) if (r < R and n < L) else zero
            cuda.syncthreads()
            _multiply_tiles(As, Bs, acc, tx, ty)
            cuda.syncthreads()
        for i in range(RM):
            m = m0 + ty + i * TY
            if m < M:
                for j in range(RN):
                    n = n0 + tx + j * TX
                    if n < L:
                        out[n // S, m, n % S] = acc[i, j] + bias[m]

    @cuda.jit
    def wgrad(dout, x, dw, kh, kw):
        """dw[m, r] = sum_{b,s} dout[b, m, s] * cols[r, b*S + s]; dout (B, M, S), x (B, C, H, W), dw (M, C*kh*kw)."""
        B, C, H, W = x.shape
        M, R = dw.shape
        S = H * W
        L = B * S
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        tid = ty * TX + tx
        m0, r0 = cuda.blockIdx.y * TM, cuda.blockIdx.x * TN
        As = cuda.shared.array((TK, TM + 1), nb)
        Bs = cuda.shared.array((TK, TN + 1), nb)
        acc = cuda.local.array((RM, RN), nb)
        for i in range(RM):
            for j in range(RN):
                acc[i, j] = 0
        for l0 in range(0, L, TK):
            for step in range(TM * TK // (TX * TY)):
                idx = tid + step * TX * TY
                mm, kk = idx // TK, idx % TK            # neighbouring threads: neighbouring positions of dout
                m, n = m0 + mm, l0 + kk
                As[kk, mm] = dout[n // S, m, n % S] if (m < M and n < L) else 0
            for step in range(TN * TK // (TX * TY)):
                idx = tid + step * TX * TY
                rr, kk = idx // TK, idx % TK            # neighbouring threads: neighbouring positions of x
                r, n = r0 + rr, l0 + kk
                Bs[kk, rr] = _window_value(x, r, n, kh, kw, zero) if (r < R and n < L) else zero
            cuda.syncthreads()
            _multiply_tiles(As, Bs, acc, tx, ty)
            cuda.syncthreads()
        for i in range(RM):
            m = m0 + ty + i * TY
            if m < M:
                for j in range(RN):
                    r = r0 + tx + j * TX
                    if r < R:
                        dw[m, r] = acc[i, j]

    return forward, wgrad


def _grid(rows, cols):
    return ((cols + TN - 1) // TN, (rows + TM - 1) // TM), (TX, TY)


_ZERO_BIAS = {}


def _zero_bias(xp, n, dtype):
    """A zero bias of n entries on the device, made once per (size, dtype): the epilogue of a convolution without
    bias reads it, and no array is allocated per step."""
    key = (xp.__name__, n, str(dtype))
    if key not in _ZERO_BIAS:
        _ZERO_BIAS[key] = xp.zeros(n, dtype=dtype)
    return _ZERO_BIAS[key]


def conv2d_forward(x, w, b=None):
    """x (B, C, H, W), w (K, C, kh, kw), b (K,) or None (no bias) -> out (B, K, H, W), cache (ConvSaved)."""
    xp = array_module(x)
    B, C, H, W = x.shape
    K, _, kh, kw = w.shape
    x = xp.ascontiguousarray(x)
    w2 = xp.ascontiguousarray(w).reshape(K, -1)
    out = xp.empty((B, K, H * W), dtype=x.dtype)
    grid, block = _grid(K, B * H * W)
    bias = _zero_bias(xp, K, x.dtype) if b is None else xp.ascontiguousarray(b)
    _kernels(x.dtype)[0][grid, block, stream_of(x)](x, w2, bias, out, kh, kw)
    return out.reshape(B, K, H, W), ConvSaved(x, w, b is not None)


def conv2d_backward(dout, cache):
    """-> dx (B, C, H, W), dw (K, C, kh, kw), db (K,) (None for a convolution without bias)."""
    x, w = cache.x, cache.w
    xp = array_module(dout)
    B, C, H, W = x.shape
    K, _, kh, kw = w.shape
    dout = xp.ascontiguousarray(dout)
    flipped = xp.ascontiguousarray(w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
    dx, _ = conv2d_forward(dout, flipped)
    dw = xp.empty((K, C * kh * kw), dtype=dout.dtype)
    grid, block = _grid(K, C * kh * kw)
    _kernels(dout.dtype)[1][grid, block, stream_of(dout)](dout.reshape(B, K, H * W), x, dw, kh, kw)
    return dx, dw.reshape(w.shape), (dout.sum(axis=(0, 2, 3)) if cache.bias else None)
