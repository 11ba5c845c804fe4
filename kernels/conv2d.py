"""Stride-1 "same" convolution (VideoLSTM's '*' in eqs. 1-9) as one Numba CUDA implicit-GEMM kernel that serves
the forward, the input gradient (dgrad) and the weight gradient (wgrad).

Contract: the same as ``tinyalstm.layers.conv.conv2d_forward`` / ``conv2d_backward`` (x NCHW, w (K, C, kh, kw), odd
kh and kw, zero padding). All three are one matrix product whose im2col operand is never built:

    forward   out (K, B*H*W)    = W (K, C*kh*kw)      @ cols(x) (C*kh*kw, B*H*W)
    dgrad     dx  (C, B*H*W)    = W' (C, K*kh*kw)     @ cols(dout) (K*kh*kw, B*H*W)   W'[c, k, p, q] = W[k, c, -p, -q]
    wgrad     dW  (K, C*kh*kw)  = dout (K, B*H*W)     @ cols(x)^T (B*H*W, C*kh*kw)

**Two offset tables describe the im2col matrix.** Entry (r, n) of cols(x), for a kernel tap r = (c, p, q) and an
output position n = (b, i, j), is ``x_flat[tap_x[r] + pos_x[n]]`` when ``0 <= tap_i[r] + pos_i[n] < H`` and
``0 <= tap_j[r] + pos_j[n] < W``, else 0 (the padding), with ``tap_x = c*H*W + (p - kh//2)*W + (q - kw//2)``,
``tap_i = p - kh//2``, ``tap_j = q - kw//2``, ``pos_x = b*C*H*W + i*W + j``, ``pos_i = i``, ``pos_j = j``. Both tables
are made once per shape on the host (int32; cached), as CUTLASS's implicit GEMM precomputes its filter offsets,
so the kernel's main loop has no division and no modulo: a gather is three table reads (cached: every thread of
a warp reads the same entries), two adds, two compares and a load. The same tables, in the other roles, give
every operand of the three products:

    operand A[m, k] = a[m * a_stride + a_off[k]]   forward: W rows (a_off = r); dgrad: W read flipped and
                                                    transposed through a_off (no flipped copy is made);
                                                    wgrad: dout (a_off = the positions' dout offsets)
    operand B[k, n] = the gather above             forward and dgrad: k a tap, n a position; wgrad: swapped
    out[m, n] = out[m * o_stride + o_off[n]]       forward and dgrad: NCHW maps; wgrad: dW rows

**Tiling for the machine.** A block of 256 threads computes a 128 x 128 tile of the output from 8-deep slices
of A and B staged in shared memory; each thread keeps an 8 x 8 sub-tile in registers (64 accumulators), so per
slice step it reads 8 + 8 values from shared memory, as four 128-bit loads, for 64 FFMA. The slice loop is fully
unrolled (8 steps, 512 FFMA per slice). The A tile is stored transposed with rows padded by 4 words, so its
stores are free of bank conflicts and its rows stay 16-byte aligned for the vector loads. ``python -m
tinyalstm.perf.kernels`` reads the result from the SASS (FFMA share of the main loop, registers, spills).

**Split-K when the output is small.** dgrad at the paper's size has a 512 x 1568 output (52 tiles of 128 x 128)
and a reduction of 18,432: too few blocks for 132 SMs. The reduction is then split over ``gridDim.z`` blocks
that write partial tiles, summed by one reduction afterwards (deterministic, no atomics).

Arrays are CuPy arrays (raw pointers, launched on CuPy's current stream, see ``launch.py``); under
``NUMBA_ENABLE_CUDASIM=1`` NumPy arrays, which is how CI checks the numbers.
"""
import functools
from typing import NamedTuple

import numpy as np
from numba import cuda, from_dtype, int32

from .launch import Kernel, array_module, cdiv

BM, BN, BK = 128, 128, 8        # output tile rows x columns, reduction slice depth
TM, TN = 8, 8                   # each thread's sub-tile
THREADS = 256                   # (BM / TM) x (BN / TN) = 16 x 16 threads per block
A_LD = BM + 4                   # the transposed A tile's padded row length (words)
A_PER_THREAD = BM * BK // THREADS   # 4 values of A and 4 of B loaded by each thread per slice
B_PER_THREAD = BN * BK // THREADS
A_ROW_STEP = THREADS // BK      # 32: rows of A between one thread's loads
B_ROW_STEP = THREADS // BN      # 2: slice rows of B between one thread's loads
TARGET_BLOCKS = 264             # split the reduction until a launch has about 2 blocks per SM of an H100
MIN_SLICES_PER_SPLIT = 16       # ... but keep at least 16 slices (128 reduction steps) per block
OUTSIDE = -(1 << 20)            # pos_i of a column beyond the output: every tap then reads padding


class ConvSaved(NamedTuple):
    x: object            # (B, C, H, W) contiguous input
    w: object            # (K, C, kh, kw) contiguous weights
    bias: bool = True    # whether the forward added a bias (else no bias gradient is computed)


@cuda.jit(device=True, inline=True)
def _rank1(As, Bs, acc, ra, rb, kk, tx, ty):
    """acc += As[kk, this thread's 8 rows] x Bs[kk, its 8 columns]: one step of the slice, 64 FFMA."""
    for i in range(TM):
        ra[i] = As[kk, ty * TM + i]
    for j in range(TN):
        rb[j] = Bs[kk, tx * TN + j]
    for i in range(TM):
        for j in range(TN):
            acc[i, j] += ra[i] * rb[j]


def _make_gemm(dtype):
    nb = from_dtype(dtype)
    zero = dtype.type(0)

    def gemm(a, a_off, row_x, row_i, row_j, col_x, col_i, col_j, out_off, x, bias, out,
             M, K, N, a_stride, o_stride, H, W, slices_per_split):
        """out[z][m * o_stride + out_off[n]] = (z == 0) bias[m] + sum_k A[m, k] B[k, n] over split z's slices,
        A[m, k] = a[m * a_stride + a_off[k]], B[k, n] = x[row_x[k] + col_x[n]] inside the map (row_i[k] + col_i[n],
        row_j[k] + col_j[n]), else 0. The rows k are taps and the columns n positions (forward, dgrad), or the
        other way round (wgrad). Grid (ceil(N/128), ceil(M/128), splits), 256 threads."""
        tx, ty = int32(cuda.threadIdx.x), int32(cuda.threadIdx.y)    # block (16, 16)
        tid = ty * 16 + tx
        m0 = int32(cuda.blockIdx.y) * BM
        n0 = int32(cuda.blockIdx.x) * BN
        k_begin = int32(cuda.blockIdx.z) * slices_per_split * BK
        k_end = min(K, k_begin + slices_per_split * BK)
        As = cuda.shared.array((BK, A_LD), nb)
        Bs = cuda.shared.array((BK, BN), nb)
        acc = cuda.local.array((TM, TN), nb)
        ra = cuda.local.array(TM, nb)
        rb = cuda.local.array(TN, nb)
        for i in range(TM):
            for j in range(TN):
                acc[i, j] = zero

        # This thread's fixed parts of its loads, made once before the main loop.
        a_k = tid & (BK - 1)                              # A: one slice row, rows m of A 32 apart
        a_m = tid >> 3
        a_rows = cuda.local.array(A_PER_THREAD, int32)
        for s in range(A_PER_THREAD):
            m = m0 + a_m + s * A_ROW_STEP
            a_rows[s] = m * a_stride if m < M else int32(-1)
        b_n = tid & (BN - 1)                              # B: one column n, slice rows 2 apart
        b_k = tid >> 7
        n = n0 + b_n
        n_x, n_i, n_j = int32(0), int32(OUTSIDE), int32(0)     # this column's half of every gather
        if n < N:
            n_x, n_i, n_j = col_x[n], col_i[n], col_j[n]

        # int32 casts keep the loop's index math and compares 32-bit (Numba widens int32 + int32 to int64)
        for k0 in range(k_begin, k_end, int32(BK)):
            k = int32(k0 + a_k)
            off = a_off[k] if k < k_end else int32(0)
            for s in range(A_PER_THREAD):
                As[a_k, a_m + s * A_ROW_STEP] = a[a_rows[s] + off] if (k < k_end and a_rows[s] >= 0) else zero
            for s in range(B_PER_THREAD):
                kk = int32(b_k + s * B_ROW_STEP)
                k = int32(k0 + kk)
                v = zero
                if k < k_end:
                    i = int32(n_i + row_i[k])
                    j = int32(n_j + row_j[k])
                    if 0 <= i < H and 0 <= j < W:
                        v = x[n_x + row_x[k]]
                Bs[kk, b_n] = v
            cuda.syncthreads()
            # the slice, unrolled by hand (LLVM leaves an 8-step loop of 64 FFMA rolled): per step 8 + 8 values
            # from shared memory (four 128-bit loads) for 64 FFMA
            _rank1(As, Bs, acc, ra, rb, 0, tx, ty)
            _rank1(As, Bs, acc, ra, rb, 1, tx, ty)
            _rank1(As, Bs, acc, ra, rb, 2, tx, ty)
            _rank1(As, Bs, acc, ra, rb, 3, tx, ty)
            _rank1(As, Bs, acc, ra, rb, 4, tx, ty)
            _rank1(As, Bs, acc, ra, rb, 5, tx, ty)
            _rank1(As, Bs, acc, ra, rb, 6, tx, ty)
            _rank1(As, Bs, acc, ra, rb, 7, tx, ty)
            cuda.syncthreads()

        z = int32(cuda.blockIdx.z)
        base = z * M * N
        for i in range(TM):
            m = m0 + ty * TM + i
            if m < M:
                b = bias[m] if z == 0 else zero
                for j in range(TN):
                    n = n0 + tx * TN + j
                    if n < N:
                        out[base + m * o_stride + out_off[n]] = acc[i, j] + b

    return gemm


GEMM = Kernel("conv2d_gemm", _make_gemm, "f" + "i" * 8 + "fff" + "n" * 8, THREADS)


@functools.lru_cache(maxsize=64)
def _tap_table(xp, device, C, H, W, kh, kw, flip_channels):
    """Per kernel tap r = (c, p, q): rows a_off (r itself, or for dgrad the offset of W[c', c, -p, -q] in a
    weight array with ``flip_channels`` input channels), tap_x, tap_i, tap_j, as int32 (5, C*kh*kw) on the device
    of ``xp`` (made once per shape)."""
    c, p, q = np.meshgrid(np.arange(C), np.arange(kh), np.arange(kw), indexing="ij")
    di, dj = p - kh // 2, q - kw // 2
    r = np.arange(C * kh * kw).reshape(c.shape)
    flipped = c * flip_channels * kh * kw + (kh * kw - 1 - (p * kw + q))
    return _int32(xp, np.stack([r, c * H * W + di * W + dj, di, dj, flipped]).reshape(5, -1))


@functools.lru_cache(maxsize=64)
def _position_table(xp, device, B, C, H, W, M):
    """Per output position n = (b, i, j): rows pos_x (b*C*H*W + i*W + j, into an input of C channels), pos_i,
    pos_j, and out_off (b*M*H*W + i*W + j, into an output of M channels), as int32 (4, B*H*W) on the device of
    ``xp`` (made once per shape)."""
    b, i, j = np.meshgrid(np.arange(B), np.arange(H), np.arange(W), indexing="ij")
    s = i * W + j
    return _int32(xp, np.stack([b * C * H * W + s, i, j, b * M * H * W + s]).reshape(4, -1))


def _int32(xp, table):
    if table.size and (table.max() >= 2**31 or table.min() < -2**31):
        raise ValueError(f"conv2d: an offset exceeds 32 bits ({table.max()}); split the batch")
    return _made(xp, xp.asarray(np.ascontiguousarray(table, dtype=np.int32)))


def _device(xp):
    """The GPU the current CuPy arrays live on (None for NumPy): the caches below hold one copy per device."""
    return None if xp is np else xp.cuda.Device().id


def _made(xp, array):
    """A cached array made on the device: wait once for its copy or fill, so that launches on any stream later
    (a non-blocking one included) find it complete."""
    if xp is not np:
        xp.cuda.get_current_stream().synchronize()
    return array


@functools.lru_cache(maxsize=64)
def _zero_bias(xp, device, n, dtype):
    """A zero bias of n entries on the device, made once per (size, dtype): the epilogue of a convolution without
    bias reads it, and no array is allocated per step."""
    return _made(xp, xp.zeros(n, dtype=dtype))


def splits_for(M, N, K):
    """How many blocks share one output tile's reduction: enough for ~2 blocks per SM, at least 16 slices each."""
    blocks = cdiv(M, BM) * cdiv(N, BN)
    most = max(1, cdiv(K, BK) // MIN_SLICES_PER_SPLIT)
    return int(min(most, max(1, TARGET_BLOCKS // blocks)))


def _gemm(xp, a, a_off, rows, cols, out_off, x, bias, out_shape, M, K, N, a_stride, o_stride, H, W, splits=None):
    """One launch of the GEMM kernel (plus the sum over splits when the reduction is split). ``rows`` and
    ``cols``: the (x offset, i, j) rows of the reduction's and the columns' tables."""
    splits = splits_for(M, N, K) if splits is None else splits
    slices = cdiv(cdiv(K, BK), splits)
    splits = cdiv(cdiv(K, BK), slices)                   # no empty split
    out = xp.empty((splits,) + tuple(out_shape), dtype=x.dtype)
    GEMM.launch(x.dtype, (cdiv(N, BN), cdiv(M, BM), splits), (16, 16),
                a, a_off, rows[0], rows[1], rows[2], cols[0], cols[1], cols[2], out_off, x, bias, out,
                M, K, N, a_stride, o_stride, H, W, slices)
    return out[0] if splits == 1 else out.sum(axis=0)


def conv2d_forward(x, w, b=None, splits=None):
    """x (B, C, H, W), w (K, C, kh, kw), b (K,) or None (no bias) -> out (B, K, H, W), cache (ConvSaved).
    ``splits`` forces the number of reduction splits (tests); by default ``splits_for`` chooses."""
    xp = array_module(x)
    B, C, H, W = x.shape
    K, _, kh, kw = w.shape
    if kh % 2 == 0 or kw % 2 == 0:   # dgrad's flipped table assumes the window centred on its output
        raise ValueError(f"conv2d kernel: odd kernel sizes only, got {kh} x {kw}")
    x, w = xp.ascontiguousarray(x), xp.ascontiguousarray(w)
    if x.size == 0 or w.size == 0:   # nothing to launch (a grid of 0 blocks is refused)
        out = xp.zeros((B, K, H, W), dtype=x.dtype) + (0 if b is None else b.reshape(1, K, 1, 1))
        return out, ConvSaved(x, w, b is not None)
    device = _device(xp)
    taps = _tap_table(xp, device, C, H, W, kh, kw, 0)
    positions = _position_table(xp, device, B, C, H, W, K)
    bias = _zero_bias(xp, device, K, x.dtype) if b is None else xp.ascontiguousarray(b)
    R = C * kh * kw
    out = _gemm(xp, w, taps[0], taps[1:4], positions[0:3], positions[3], x, bias, (B, K, H, W),
                K, R, B * H * W, R, H * W, H, W, splits)
    return out, ConvSaved(x, w, b is not None)


def conv2d_backward(dout, cache, splits=None):
    """-> dx (B, C, H, W), dw (K, C, kh, kw), db (K,) (None for a convolution without bias)."""
    x, w = cache.x, cache.w
    xp = array_module(dout)
    B, C, H, W = x.shape
    K, _, kh, kw = w.shape
    dout = xp.ascontiguousarray(dout)
    S = H * W
    if x.size == 0 or w.size == 0:
        return (xp.zeros(x.shape, dtype=dout.dtype), xp.zeros(w.shape, dtype=dout.dtype),
                dout.sum(axis=(0, 2, 3)) if cache.bias else None)
    device = _device(xp)
    # dgrad: a convolution of dout (K channels) with W read flipped and transposed through the tap table
    dtaps = _tap_table(xp, device, K, H, W, kh, kw, C)
    dpositions = _position_table(xp, device, B, K, H, W, C)
    dx = _gemm(xp, w, dtaps[4], dtaps[1:4], dpositions[0:3], dpositions[3], dout,
               _zero_bias(xp, device, C, dout.dtype), (B, C, H, W), C, K * kh * kw, B * S, kh * kw, S, H, W, splits)
    # wgrad: dout (K, B*S) @ cols(x)^T: the reduction runs over positions, the columns over x's taps
    taps = _tap_table(xp, device, C, H, W, kh, kw, 0)
    positions = _position_table(xp, device, B, C, H, W, K)
    dw = _gemm(xp, dout, positions[3], positions[0:3], taps[1:4], taps[0], x,
               _zero_bias(xp, device, K, dout.dtype), (K, C, kh, kw), K, B * S, C * kh * kw, S, C * kh * kw, H, W,
               splits)
    return dx, dw, (dout.sum(axis=(0, 2, 3)) if cache.bias else None)
