"""Spatial attention (VideoLSTM eqs. 7-9) of the fused CPU path, one step at a time on channel-major maps: the
input's attention convolution W_xa * X_t hoisted over all steps, the state's W_ha * H and the score W_z * tanh(.)
as GEMMs per step, the softmax over each map's positions; weight gradients as one GEMM over all steps. The readable
form is layers/spatial_attention.py."""
from typing import NamedTuple

import numpy as np

from .layout import (col2im_sequence, col2im_step, conv_gemm, im2col_sequence, im2col_step, input_gradient_columns,
                     weight_gradient)


# -- spatial attention (eqs. 7-9), one step ------------------------------------------------------------------------
class AttentionBuffers(NamedTuple):
    """What the attention keeps over a sequence."""
    px: object           # (Ka, T, L) W_xa * X_t + b_a, every step (hoisted)
    cols_x: object       # (C ka ka, T, L) columns of X for W_xa
    cols_s: object       # (Ks ka ka, T, L) columns of the attention's state (H_{t-1} or H^m_t) for W_ha
    e: object            # (T, Ka, L) tanh(W_xa * X_t + W_ha * H + b_a)
    cols_e: object       # (Ka kz kz, T, L) columns of e for W_z
    a: object            # (T, B, H*W) the attention maps


def attention_setup(grid, xc, state_channels, Wxa, Wha, ba, Wz):
    """The hoisted input projection W_xa * X_t + b_a of every step and the per-step buffers."""
    Ka, (ka1, ka2), (kz1, kz2) = Wxa.shape[0], Wha.shape[2:], Wz.shape[2:]
    _, T, L = xc.shape
    cols_x = im2col_sequence(grid, xc, *Wxa.shape[2:], "att cols x")
    px = conv_gemm(Wxa.reshape(Ka, -1), cols_x, grid.empty("att px", (Ka, T, L)))
    px += ba[:, None, None]
    return AttentionBuffers(px, cols_x, grid.empty("att cols s", (state_channels * ka1 * ka2, T, L)),
                            grid.empty("att e", (T, Ka, L)), grid.empty("att cols e", (Ka * kz1 * kz2, T, L)),
                            grid.empty("att a", (T, grid.batch, grid.height * grid.width)))


def attention_step_forward(grid, buf, t, x, state, Wha2, Wz2, kha, kz, out):
    """Eqs. 7-9 at step t: x (C, L) the map X_t, state (Ks, L) contiguous (H_{t-1} or H^m_t) -> writes
    X~_t = A_t . X_t (C, L) into ``out`` and keeps e, the columns and A_t in ``buf``."""
    im2col_step(grid, state, *kha, buf.cols_s, 0, t)
    e = buf.e[t]
    conv_gemm(Wha2, buf.cols_s[:, t], out=e)
    e += buf.px[:, t]
    np.tanh(e, out=e)                                                             # (7), inside
    im2col_step(grid, e, *kz, buf.cols_e, 0, t)
    z = conv_gemm(Wz2, buf.cols_e[:, t]).reshape(grid.batch, -1)                  # (7)
    a = np.exp(z - z.max(axis=1, keepdims=True))
    a /= a.sum(axis=1, keepdims=True)                                             # (8)
    buf.a[t] = a
    np.multiply(x, a.reshape(1, -1), out=out)                                     # (9)


def attention_work(grid, Ka, Ks, kha, kz):
    """Per-step buffers of ``attention_step_backward``: (dcols_e, dcols_s, de)."""
    L = grid.size
    return (grid.empty("att dcols e", (Ka * kz[0] * kz[1], L)), grid.empty("att dcols s", (Ks * kha[0] * kha[1], L)),
            grid.empty("att de", (Ka, L)))


def attention_step_backward(grid, buf, t, x, dxatt, datt_t, Wha2, Wz2, kha, kz, dpre, dz, dx_direct, ds, work):
    """Gradients of ``attention_step_forward`` for dxatt (C, L) (and datt_t (B, H, W) of the map, or None):
    writes dx_direct (C, L) = A . dxatt, dz (1, L) and dpre (Ka, L) (the gradient inside the tanh, kept for the
    weight gradients after the loop), and ds (Ks, L) of the state map. ``work``: ``attention_work``'s buffers."""
    dcols_e, dcols_s, de = work
    a = buf.a[t]
    da = (dxatt * x).sum(axis=0).reshape(a.shape)
    if datt_t is not None:
        da += datt_t.reshape(a.shape)
    dz[...] = (a * (da - (a * da).sum(axis=1, keepdims=True))).reshape(dz.shape)
    np.multiply(dxatt, a.reshape(1, -1), out=dx_direct)
    np.multiply(Wz2.T, dz, out=dcols_e)          # (Ka kz kz, 1) x (1, L): an outer product, 5x faster than matmul's
    col2im_step(grid, dcols_e, 0, *kz, de)
    e = buf.e[t]
    np.multiply(de, 1.0 - e * e, out=dpre)
    np.matmul(Wha2.T, dpre, out=dcols_s)
    col2im_step(grid, dcols_s, 0, *kha, ds)


def attention_weight_gradients(grid, buf, dpre, dz, Wxa, Wha, Wz, dx):
    """After the loop: dWxa, dWha, dba, dWz from the kept gradients dpre (Ka, T, L) and dz (1, T, L); adds the
    W_xa path's input gradient into dx (C, T, L)."""
    Ka, kh, kw = Wxa.shape[0], Wxa.shape[2], Wxa.shape[3]
    dcols_x = input_gradient_columns(Wxa.reshape(Ka, -1), dpre, grid.empty("att dcols x", buf.cols_x.shape))
    col2im_sequence(grid, dcols_x, kh, kw, dx, accumulate=True)
    return (weight_gradient(dpre, buf.cols_x, Wxa.shape), weight_gradient(dpre, buf.cols_s, Wha.shape),
            dpre.sum(axis=(1, 2)), weight_gradient(dz, buf.cols_e, Wz.shape))


def attention_maps(buf, grid):
    """(T, B, H*W) -> a new (B, T, H, W)."""
    T = buf.a.shape[0]
    return np.ascontiguousarray(buf.a.reshape(T, grid.batch, grid.height, grid.width).transpose(1, 0, 2, 3))
