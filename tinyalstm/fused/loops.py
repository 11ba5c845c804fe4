"""im2col and col2im as Numba CPU loops on channel-major maps: the data movement of the fused CPU path
(tinyalstm.fused). layers/conv.py's ``im2col`` / ``col2im`` are the readable form of the same two maps.

Layout. A sequence of maps is an array (C, T, L), C-contiguous: channel, step, and the L = B*H*W positions of
one step in the order (batch, row, column). A single map is (C, 1, L). A column buffer is (R, T, L): the rows
(c, p, q) of the "same" windows of a stride-1 convolution, C*kh*kw of them for each input, stacked along R for
several inputs; its step t, ``cols[:, t]``, is the (R, L) right-hand factor of that step's GEMM.

The trick. Flattened over (batch, row, column), the kernel offset (p, q) shifts a channel by
``off = (p - kh//2) * W + (q - kw//2)`` positions. A shifted copy is right except where the window reaches into
the zero padding (or, after the flat shift, into the neighbouring row or image); those positions depend only on
(p, q), and a 0/1 ``mask`` (kh*kw, L) made once per shape zeroes them. So every column row is one contiguous
shifted copy times the mask, and col2im is the adjoint: a shifted, masked sum into each channel. Both are loops
LLVM vectorises, 5-10x faster than conv.py's kh*kw strided NumPy copies of (C, B, H, W) blocks at 7x7 maps.

The loop bodies are plain Python (they run, slowly, without Numba); ``numba.njit`` compiles them on first use,
cached on disk. They index whole C-contiguous arrays, with the step as an index, rather than taking strided
views: Numba vectorises only what it knows to be contiguous.
"""
import functools

import numpy as np


def window_mask(batch, height, width, kh, kw, dtype):
    """The 0/1 mask (kh*kw, B*H*W): 1 where the window offset (p, q) of output position (b, i, j) reads inside the
    map, x[b, i + p - kh//2, j + q - kw//2]; 0 where it reads the zero padding."""
    m = np.zeros((kh * kw, batch, height, width), dtype=dtype)
    for p in range(kh):
        for q in range(kw):
            di, dj = p - kh // 2, q - kw // 2
            m[p * kw + q, :, max(0, -di):min(height, height - di), max(0, -dj):min(width, width - dj)] = 1
    return m.reshape(kh * kw, batch * height * width)


def _im2col_loops(x, tx, width, kh, kw, mask, out, row0, to):
    """out[row0 + (c*kh + p)*kw + q, to, m] = x[c, tx, m + off(p, q)] * mask[p*kw + q, m] (0 outside 0..L-1).

    x (C, Tx, L), mask (kh*kw, L), out (R, To, L), all C-contiguous."""
    C, L = x.shape[0], x.shape[2]
    for c in range(C):
        xs = x[c, tx]
        for p in range(kh):
            for q in range(kw):
                s = p * kw + q
                o = out[row0 + c * kh * kw + s, to]
                off = (p - kh // 2) * width + (q - kw // 2)
                lo = min(L, max(0, -off))
                hi = max(lo, min(L, L - off))        # lo <= hi even when |off| >= L
                src, dst, mk = xs[lo + off:hi + off], o[lo:hi], mask[s, lo:hi]
                for m in range(hi - lo):
                    dst[m] = src[m] * mk[m]
                o[:lo] = 0
                o[hi:] = 0


def _col2im_loops(dcols, td, row0, width, kh, kw, mask, dx, tx, accumulate):
    """The adjoint of ``_im2col_loops``: dx[c, tx, m + off(p, q)] += dcols[row0 + (c*kh + p)*kw + q, td, m] *
    mask[p*kw + q, m], summed over (p, q) in that order; dx[:, tx] is zeroed first unless ``accumulate``.

    dcols (R, Td, L), mask (kh*kw, L), dx (C, Tx, L), all C-contiguous."""
    C, L = dx.shape[0], dx.shape[2]
    for c in range(C):
        acc = dx[c, tx]
        if not accumulate:
            acc[:] = 0
        for p in range(kh):
            for q in range(kw):
                s = p * kw + q
                off = (p - kh // 2) * width + (q - kw // 2)
                lo = min(L, max(0, -off))
                hi = max(lo, min(L, L - off))        # lo <= hi even when |off| >= L
                d, mk, a = dcols[row0 + c * kh * kw + s, td, lo:hi], mask[s, lo:hi], acc[lo + off:hi + off]
                for m in range(hi - lo):
                    a[m] += d[m] * mk[m]


@functools.lru_cache(maxsize=None)
def _compiled(name):
    """The loop ``name`` compiled by Numba (compiled on first use; cached on disk)."""
    import numba                      # heavy (~0.25 s): imported when a loop is first compiled, not with the package
    return numba.njit(cache=True, boundscheck=False)(globals()[name])


def im2col_into(x, tx, width, kh, kw, mask, out, row0, to):
    """Write the kh x kw "same" windows of map x[:, tx] (C, L) into rows row0 .. row0 + C*kh*kw of column
    buffer step out[:, to]; see ``_im2col_loops``. Arrays must be C-contiguous and of one dtype."""
    _compiled("_im2col_loops")(x, tx, width, kh, kw, mask, out, row0, to)


def col2im_into(dcols, td, row0, width, kh, kw, mask, dx, tx, accumulate=False):
    """dx[:, tx] (C, L) (+)= the adjoint of ``im2col_into`` applied to rows row0 .. row0 + C*kh*kw of
    dcols[:, td]; see ``_col2im_loops``."""
    _compiled("_col2im_loops")(dcols, td, row0, width, kh, kw, mask, dx, tx, accumulate)


def _lstm_cell_backward_loops(dh, dc, acts, prev_c, tanh_c, da, t, dprev_c):
    """The LSTM cell's backward (VideoLSTM eqs. 1-6, aLSTM eqs. 7-12) in one pass over the positions:
    dh, dc (K, L) gradients of h and c, acts (4K, L) the gates [i; f; o; g], prev_c, tanh_c (K, L)
    -> da[:, t] (da (4K, T, L)) of the pre-activations and dprev_c (K, L), which may be dc itself."""
    K, L = prev_c.shape
    for k in range(K):
        i, f, o, g = acts[k], acts[K + k], acts[2 * K + k], acts[3 * K + k]
        dh_k, dc_k, pc, tc, dpc = dh[k], dc[k], prev_c[k], tanh_c[k], dprev_c[k]
        da_i, da_f, da_o, da_g = da[k, t], da[K + k, t], da[2 * K + k, t], da[3 * K + k, t]
        for m in range(L):
            dct = dc_k[m] + dh_k[m] * o[m] * (1 - tc[m] * tc[m])
            da_i[m] = dct * g[m] * i[m] * (1 - i[m])
            da_f[m] = dct * pc[m] * f[m] * (1 - f[m])
            da_o[m] = dh_k[m] * tc[m] * o[m] * (1 - o[m])
            da_g[m] = dct * i[m] * (1 - g[m] * g[m])
            dpc[m] = dct * f[m]


def lstm_cell_backward_into(dh, dc, acts, prev_c, tanh_c, da, t, dprev_c):
    """See ``_lstm_cell_backward_loops``; all arrays C-contiguous and of one dtype."""
    _compiled("_lstm_cell_backward_loops")(dh, dc, acts, prev_c, tanh_c, da, t, dprev_c)
