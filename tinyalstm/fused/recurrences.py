"""The three convolutional recurrences of VideoLSTM and their initial states on the fused CPU path, each a
forward/backward pair with the signature, results and gradient order of its step-by-step form in layers/: the
ConvLSTM (eqs. 1-6, layers/conv_lstm.py), the ConvALSTM (sec. 3.1, eqs. 7-9 then 1-6, layers/conv_alstm.py) and
VideoLSTM (sec. 3.2, eqs. 10-15, 7-9 from H^m_t, 1-6; layers/motion_attention.py)."""
from typing import NamedTuple

import numpy as np

from .attention import (AttentionBuffers, attention_maps, attention_setup, attention_step_backward,
                        attention_step_forward, attention_weight_gradients, attention_work)
from .layout import (Grid, col2im_sequence, col2im_step, conv_gemm, from_channel_major, gemm_weights,
                     im2col_sequence, im2col_step, input_gradient_columns, make_grid, new_states,
                     state_from_channel_major, state_to_channel_major, states_from_channel_major, to_channel_major,
                     weight_gradient)
from .loops import lstm_cell_backward_into


# -- the pointwise LSTM (eqs. 1-6 after the convolutions), on (4K, L) blocks --------------------------------------
def cell_forward(acts, prev_c, c, tanh_c, h):
    """acts (4K, L) holds the pre-activations, bias included; overwritten with the gates [i; f; o; g] =
    [sigma; sigma; sigma; tanh] of them (eqs. 1-4). Writes c = f . prev_c + i . g (eq. 5), tanh_c and
    h = o . tanh(c) (eq. 6), each (K, L)."""
    K = prev_c.shape[0]
    ifo = acts[:3 * K]
    ifo *= 0.5
    np.tanh(acts, out=acts)
    ifo *= 0.5
    ifo += 0.5
    i, f, o, g = acts[:K], acts[K:2 * K], acts[2 * K:3 * K], acts[3 * K:]
    np.multiply(f, prev_c, out=c)
    c += i * g
    np.tanh(c, out=tanh_c)
    np.multiply(o, tanh_c, out=h)


def cell_backward(dh, dc, acts, prev_c, tanh_c, da, t, dprev_c):
    """Gradients of ``cell_forward`` for dh, dc (K, L) of h and c: writes da[:, t] (da (4K, T, L)) of the
    pre-activations and dprev_c (K, L) (which may be dc itself). The equations, as NumPy would write them:

        dc_total = dc + dh o (1 - tanh_c^2)
        da_i = dc_total g i (1 - i),  da_f = dc_total prev_c f (1 - f),  da_o = dh tanh_c o (1 - o),
        da_g = dc_total i (1 - g^2),  dprev_c = dc_total f

    run as one Numba loop (loops.py)."""
    lstm_cell_backward_into(dh, dc, acts, prev_c, tanh_c, da, t, dprev_c)


# -- initial states (the authors' code): tanh(W * mean_t X + b) -------------------------------------------------------
class FusedInitialCache(NamedTuple):
    grid: Grid
    x_shape: tuple       # (B, T, C, N, N)
    cols: object         # (C k k, 1, L) columns of mean_t X
    out: object          # (2K, 1, L) [h0; c0]
    W2: object           # (2K, C k k) [W_h0; W_c0]
    kernel: tuple        # (kh, kw)


def conv_initial_states_fused_forward(x, W_h0, b_h0, W_c0, b_c0):
    """Both initial states of a ConvLSTM, h0 = tanh(W_h0 * mean_t x + b_h0) and c0 likewise (conv_lstm.py's
    ``conv_initial_state_forward`` twice), as one GEMM of the stacked kernels [W_h0; W_c0] (one size k x k):
    x (B, T, C, N, N), W (K, C, k, k), b (K,) -> h0, c0 (B, K, N, N), cache."""
    grid, K, (kh, kw) = make_grid(x), W_h0.shape[0], W_h0.shape[2:]
    cols = im2col_sequence(grid, to_channel_major(x.mean(axis=1, keepdims=True)), kh, kw, "cols")
    W2 = np.concatenate([W_h0.reshape(K, -1), W_c0.reshape(K, -1)])
    out = conv_gemm(W2, cols)
    out += np.concatenate([b_h0, b_c0])[:, None, None]
    np.tanh(out, out=out)
    cache = FusedInitialCache(grid, x.shape, cols, out, W2, (kh, kw))
    return state_from_channel_major(out[:K, 0], grid), state_from_channel_major(out[K:, 0], grid), cache


def conv_initial_states_fused_backward(dh0, dc0, cache):
    """dh0, dc0 (B, K, N, N) -> dx (B, T, C, N, N) (a read-only broadcast: every step's gradient is the same),
    dW_h0, db_h0, dW_c0, db_c0."""
    grid, (B, T, C, H, W), K, (kh, kw) = cache.grid, cache.x_shape, dh0.shape[1], cache.kernel
    dpre = to_channel_major(np.concatenate([dh0, dc0], axis=1)[:, None])                  # (2K, 1, L)
    dpre *= 1.0 - cache.out * cache.out
    dW = weight_gradient(dpre, cache.cols).reshape(2 * K, C, kh, kw)
    db = dpre.sum(axis=(1, 2))
    dcols = input_gradient_columns(cache.W2, dpre, np.empty(cache.cols.shape, dpre.dtype))
    dxbar = col2im_sequence(grid, dcols, kh, kw, np.empty((C, 1, grid.size), dpre.dtype))
    dxbar /= T
    dx = np.broadcast_to(from_channel_major(dxbar, grid), (B, T, C, H, W))     # the same at every step
    return dx, dW[:K], db[:K], dW[K:], db[K:]


# -- ConvLSTM (eqs. 1-6) ---------------------------------------------------------------------------------------------
class FusedConvLSTMCache(NamedTuple):
    grid: Grid
    x_shape: tuple
    cols_x: object       # (C k k, T, L) columns of X
    cols_h: object       # (K k k, T, L) columns of H_{t-1}
    cs: object           # (T + 1, K, L) c0, C_1 .. C_T
    acts: object         # (T, 4K, L) gate activations
    tanh_c: object       # (T, K, L)
    Wx: object
    Wh: object


def conv_lstm_fused_forward(x, h0, c0, Wx, Wh, b, workspace=None):
    """As ``conv_lstm_forward``: x (B, T, C, N, N), h0 and c0 (B, K, N, N) -> h, c (B, T, K, N, N), cache."""
    grid = make_grid(x, workspace)
    B, T, C, _, _ = x.shape
    K, (kh, kw), L = h0.shape[1], Wx.shape[2:], grid.size
    cols_x = im2col_sequence(grid, to_channel_major(x, grid.empty("x", (C, T, L))), kh, kw, "cols x")
    ax = conv_gemm(Wx.reshape(4 * K, -1), cols_x, grid.empty("ax", (4 * K, T, L)))   # W_x * X_t, all t at once
    ax += b[:, None, None]
    Wh2 = Wh.reshape(4 * K, -1)
    hs, cs = new_states(grid, "hs", h0, T), new_states(grid, "cs", c0, T)
    cols_h, acts = grid.empty("cols h", (K * kh * kw, T, L)), grid.empty("acts", (T, 4 * K, L))
    tanh_c = grid.empty("tanh c", (T, K, L))
    for t in range(T):
        im2col_step(grid, hs[t], kh, kw, cols_h, 0, t)
        conv_gemm(Wh2, cols_h[:, t], out=acts[t])                    # W_h * H_{t-1}
        acts[t] += ax[:, t]
        cell_forward(acts[t], cs[t], cs[t + 1], tanh_c[t], hs[t + 1])
    cache = FusedConvLSTMCache(grid, x.shape, cols_x, cols_h, cs, acts, tanh_c, Wx, Wh)
    return states_from_channel_major(hs[1:], grid), states_from_channel_major(cs[1:], grid), cache


def conv_lstm_fused_backward(dh, cache, dc_last=None):
    """As ``conv_lstm_backward``: dh (B, T, K, N, N), optional dc_last (B, K, N, N) -> dx, dh0, dc0, dWx, dWh,
    db."""
    grid, Wx, Wh = cache.grid, cache.Wx, cache.Wh
    grid.check()
    K, kh, kw = Wh.shape[0] // 4, Wh.shape[2], Wh.shape[3]
    T, L, dt = cache.acts.shape[0], grid.size, dh.dtype
    dhc = to_channel_major(dh, grid.empty("dh", (K, T, L)))
    da = grid.empty("da", (4 * K, T, L))
    dprev_h = np.zeros((K, L), dt)
    dprev_c = np.zeros((K, L), dt) if dc_last is None else state_to_channel_major(dc_last)
    WhT, dcols = Wh.reshape(4 * K, -1).T, grid.empty("dcols", (K * kh * kw, L))
    for t in reversed(range(T)):
        cell_backward(dhc[:, t] + dprev_h, dprev_c, cache.acts[t], cache.cs[t], cache.tanh_c[t], da, t, dprev_c)
        np.matmul(WhT, da[:, t], out=dcols)
        col2im_step(grid, dcols, 0, kh, kw, dprev_h)
    dcols_x = input_gradient_columns(Wx.reshape(4 * K, -1), da, grid.empty("dcols x", cache.cols_x.shape))
    dx = col2im_sequence(grid, dcols_x, kh, kw, grid.empty("dx", (Wx.shape[1], T, L)))
    return (from_channel_major(dx, grid), state_from_channel_major(dprev_h, grid),
            state_from_channel_major(dprev_c, grid), weight_gradient(da, cache.cols_x, Wx.shape),
            weight_gradient(da, cache.cols_h, Wh.shape), da.sum(axis=(1, 2)))


# -- ConvALSTM (sec. 3.1: eqs. 7-9 from H_{t-1}, then 1-6 on X~_t) ---------------------------------------------------
class FusedConvALSTMCache(NamedTuple):
    grid: Grid
    xc: object           # (C, T, L) the input maps, channel-major
    cols: object         # ((C + K) k k, T, L) columns of [X~_t; H_{t-1}]
    cs: object           # (T + 1, K, L)
    acts: object         # (T, 4K, L)
    tanh_c: object       # (T, K, L)
    att: AttentionBuffers
    weights: tuple       # Wx, Wh, Wxa, Wha, Wz
    W2: object           # (4K, (C + K) k k) [W_x | W_h]


def conv_alstm_fused_forward(x, h0, c0, Wx, Wh, b, Wxa, Wha, ba, Wz, workspace=None):
    """As ``conv_alstm_forward``: x (B, T, C, N, N) -> h (B, T, K, N, N), attention maps (B, T, N, N), cache."""
    grid = make_grid(x, workspace)
    _, T, C, _, _ = x.shape
    K, (kh, kw), L = h0.shape[1], Wx.shape[2:], grid.size
    kha, kz, Ckk = Wha.shape[2:], Wz.shape[2:], C * kh * kw
    xc = to_channel_major(x, grid.empty("x", (C, T, L)))
    att = attention_setup(grid, xc, K, Wxa, Wha, ba, Wz)
    Wha2, Wz2, W2 = Wha.reshape(Wha.shape[0], -1), Wz.reshape(1, -1), gemm_weights(Wx, Wh)
    hs, cs = new_states(grid, "hs", h0, T), new_states(grid, "cs", c0, T)
    cols, acts = grid.empty("cols", (Ckk + K * kh * kw, T, L)), grid.empty("acts", (T, 4 * K, L))
    tanh_c, x_att = grid.empty("tanh c", (T, K, L)), grid.empty("x att", (C, L))
    for t in range(T):
        attention_step_forward(grid, att, t, xc[:, t], hs[t], Wha2, Wz2, kha, kz, x_att)   # (7-9) from H_{t-1}
        im2col_step(grid, x_att, kh, kw, cols, 0, t)
        im2col_step(grid, hs[t], kh, kw, cols, Ckk, t)
        conv_gemm(W2, cols[:, t], out=acts[t])                       # [W_x | W_h] * [X~_t; H_{t-1}]
        acts[t] += b[:, None]
        cell_forward(acts[t], cs[t], cs[t + 1], tanh_c[t], hs[t + 1])
    cache = FusedConvALSTMCache(grid, xc, cols, cs, acts, tanh_c, att, (Wx, Wh, Wxa, Wha, Wz), W2)
    return states_from_channel_major(hs[1:], grid), attention_maps(att, grid), cache


def conv_alstm_fused_backward(dh, cache, datt=None):
    """As ``conv_alstm_backward``: dh (B, T, K, N, N), optional datt (B, T, N, N) -> dx, dh0, dc0, dWx, dWh, db,
    dWxa, dWha, dba, dWz."""
    grid, att, (Wx, Wh, Wxa, Wha, Wz) = cache.grid, cache.att, cache.weights
    grid.check()
    K, C, kh, kw = Wh.shape[0] // 4, Wx.shape[1], Wh.shape[2], Wh.shape[3]
    Ka, kha, kz, Ckk = Wxa.shape[0], Wha.shape[2:], Wz.shape[2:], C * kh * kw
    T, L, dt = cache.acts.shape[0], grid.size, dh.dtype
    dhc = to_channel_major(dh, grid.empty("dh", (K, T, L)))
    da, dpre = grid.empty("da", (4 * K, T, L)), grid.empty("dpre", (Ka, T, L))
    dz, dx = grid.empty("dz", (1, T, L)), grid.empty("dx", (C, T, L))
    dprev_h, dprev_c, dh_att = np.zeros((K, L), dt), np.zeros((K, L), dt), grid.empty("dh att", (K, L))
    W2T, Wha2, Wz2 = cache.W2.T, Wha.reshape(Ka, -1), Wz.reshape(1, -1)
    dcols, dx_att = grid.empty("dcols", (Ckk + K * kh * kw, L)), grid.empty("dx att", (C, L))
    work = attention_work(grid, Ka, K, kha, kz)
    for t in reversed(range(T)):
        cell_backward(dhc[:, t] + dprev_h, dprev_c, cache.acts[t], cache.cs[t], cache.tanh_c[t], da, t, dprev_c)
        np.matmul(W2T, da[:, t], out=dcols)
        col2im_step(grid, dcols, 0, kh, kw, dx_att)
        col2im_step(grid, dcols, Ckk, kh, kw, dprev_h)
        attention_step_backward(grid, att, t, cache.xc[:, t], dx_att, None if datt is None else datt[:, t], Wha2,
                                Wz2, kha, kz, dpre[:, t], dz[:, t], dx[:, t], dh_att, work)
        dprev_h += dh_att
    dWxa, dWha, dba, dWz = attention_weight_gradients(grid, att, dpre, dz, Wxa, Wha, Wz, dx)
    dWx, dWh = weight_gradient(da, cache.cols[:Ckk], Wx.shape), weight_gradient(da, cache.cols[Ckk:], Wh.shape)
    return (from_channel_major(dx, grid), state_from_channel_major(dprev_h, grid),
            state_from_channel_major(dprev_c, grid), dWx, dWh, da.sum(axis=(1, 2)), dWxa, dWha, dba, dWz)


# -- VideoLSTM (sec. 3.2: the flow layer, eqs. 10-15; attention from H^m_t, eqs. 7-9; the top ConvLSTM, 1-6) --------
class FusedVideoLSTMCache(NamedTuple):
    grid: Grid
    xc: object           # (C, T, L) RGB maps, channel-major
    cols_m: object       # (Cm k k, T, L) columns of M
    cols: object         # ((C + K + Km) k k, T, L) columns of [X~_t; H_{t-1}; H^m_{t-1}]
    cs: object           # (T + 1, K, L) top cells
    cms: object          # (T + 1, Km, L) flow cells
    acts: object         # (T, 4K, L) top gates
    tanh_c: object       # (T, K, L)
    acts_m: object       # (T, 4Km, L) flow gates
    tanh_cm: object      # (T, Km, L)
    att: AttentionBuffers
    weights: tuple       # Wx, Wh, Wmx, Wmh, Wxa, Wha, Wz
    W2: object           # (4K, (C + K) k k) [W_x | W_h]
    Wm2: object          # (4Km, (K + Km) k k) [W^m_e | W^m_h]


def videolstm_fused_forward(x, m, h0, c0, hm0, cm0, Wx, Wh, b, Wmx, Wmh, bm, Wxa, Wha, ba, Wz, workspace=None):
    """As ``videolstm_forward``: x (B, T, C, N, N), m (B, T, Cm, N, N), states -> h (B, T, K, N, N), attention
    maps (B, T, N, N), cache."""
    grid = make_grid(x, workspace)
    _, T, C, _, _ = x.shape
    Cm, K, Km = m.shape[2], h0.shape[1], hm0.shape[1]
    (kh, kw), L = Wx.shape[2:], grid.size
    kha, kz, Ckk, Kkk = Wha.shape[2:], Wz.shape[2:], C * kh * kw, K * kh * kw
    xc = to_channel_major(x, grid.empty("x", (C, T, L)))
    cols_m = im2col_sequence(grid, to_channel_major(m, grid.empty("m", (Cm, T, L))), kh, kw, "cols m")
    axm = conv_gemm(Wmx[:, :Cm].reshape(4 * Km, -1), cols_m, grid.empty("axm", (4 * Km, T, L)))  # W^m_x * M_t, all t
    axm += bm[:, None, None]
    att = attention_setup(grid, xc, Km, Wxa, Wha, ba, Wz)
    Wha2, Wz2 = Wha.reshape(Wha.shape[0], -1), Wz.reshape(1, -1)
    W2, Wm2 = gemm_weights(Wx, Wh), gemm_weights(Wmx[:, Cm:], Wmh)  # [W_x | W_h], [W^m_e | W^m_h]
    hs, cs = new_states(grid, "hs", h0, T), new_states(grid, "cs", c0, T)
    hms, cms = new_states(grid, "hms", hm0, T), new_states(grid, "cms", cm0, T)
    cols = grid.empty("cols", (Ckk + Kkk + Km * kh * kw, T, L))
    acts, tanh_c = grid.empty("acts", (T, 4 * K, L)), grid.empty("tanh c", (T, K, L))
    acts_m, tanh_cm = grid.empty("acts m", (T, 4 * Km, L)), grid.empty("tanh cm", (T, Km, L))
    x_att = grid.empty("x att", (C, L))
    for t in range(T):
        im2col_step(grid, hs[t], kh, kw, cols, Ckk, t)
        im2col_step(grid, hms[t], kh, kw, cols, Ckk + Kkk, t)
        conv_gemm(Wm2, cols[Ckk:, t], out=acts_m[t])                 # (10-13) [W^m_e | W^m_h] * [H_{t-1}; H^m_{t-1}]
        acts_m[t] += axm[:, t]
        cell_forward(acts_m[t], cms[t], cms[t + 1], tanh_cm[t], hms[t + 1])                  # (14-15)
        attention_step_forward(grid, att, t, xc[:, t], hms[t + 1], Wha2, Wz2, kha, kz, x_att)  # (7-9) from H^m_t
        im2col_step(grid, x_att, kh, kw, cols, 0, t)
        conv_gemm(W2, cols[:Ckk + Kkk, t], out=acts[t])              # (1-4) [W_x | W_h] * [X~_t; H_{t-1}]
        acts[t] += b[:, None]
        cell_forward(acts[t], cs[t], cs[t + 1], tanh_c[t], hs[t + 1])                        # (5-6)
    cache = FusedVideoLSTMCache(grid, xc, cols_m, cols, cs, cms, acts, tanh_c, acts_m, tanh_cm, att,
                                (Wx, Wh, Wmx, Wmh, Wxa, Wha, Wz), W2, Wm2)
    return states_from_channel_major(hs[1:], grid), attention_maps(att, grid), cache


def videolstm_fused_backward(dh, cache, datt=None):
    """As ``videolstm_backward``: dh (B, T, K, N, N), optional datt (B, T, N, N) -> dx, dm, dh0, dc0, dhm0, dcm0,
    dWx, dWh, db, dWmx, dWmh, dbm, dWxa, dWha, dba, dWz."""
    grid, att, (Wx, Wh, Wmx, Wmh, Wxa, Wha, Wz) = cache.grid, cache.att, cache.weights
    grid.check()
    K, Km, C, kh, kw = Wh.shape[0] // 4, Wmh.shape[0] // 4, Wx.shape[1], Wh.shape[2], Wh.shape[3]
    Cm, Ka, kha, kz = Wmx.shape[1] - K, Wxa.shape[0], Wha.shape[2:], Wz.shape[2:]
    Ckk, Kkk = C * kh * kw, K * kh * kw
    T, L, dt = cache.acts.shape[0], grid.size, dh.dtype
    dhc = to_channel_major(dh, grid.empty("dh", (K, T, L)))
    da, da_m = grid.empty("da", (4 * K, T, L)), grid.empty("da m", (4 * Km, T, L))
    dpre, dz, dx = grid.empty("dpre", (Ka, T, L)), grid.empty("dz", (1, T, L)), grid.empty("dx", (C, T, L))
    dprev_h, dprev_c = np.zeros((K, L), dt), np.zeros((K, L), dt)
    dprev_hm, dprev_cm, dhm_att = np.zeros((Km, L), dt), np.zeros((Km, L), dt), grid.empty("dhm att", (Km, L))
    W2T, Wm2T = cache.W2.T, cache.Wm2.T
    Wha2, Wz2 = Wha.reshape(Ka, -1), Wz.reshape(1, -1)
    dcols, dcols_m = grid.empty("dcols", (Ckk + Kkk, L)), grid.empty("dcols m", (Kkk + Km * kh * kw, L))
    dx_att, work = grid.empty("dx att", (C, L)), attention_work(grid, Ka, Km, kha, kz)
    for t in reversed(range(T)):
        # the top ConvLSTM: dprev_h, dprev_c hold the gradients of H_t and C_t from step t + 1
        cell_backward(dhc[:, t] + dprev_h, dprev_c, cache.acts[t], cache.cs[t], cache.tanh_c[t], da, t, dprev_c)
        np.matmul(W2T, da[:, t], out=dcols)
        col2im_step(grid, dcols, 0, kh, kw, dx_att)
        col2im_step(grid, dcols, Ckk, kh, kw, dprev_h)
        # the attention, to H^m_t; then the flow layer, to H_{t-1} (added) and H^m_{t-1}
        attention_step_backward(grid, att, t, cache.xc[:, t], dx_att, None if datt is None else datt[:, t], Wha2,
                                Wz2, kha, kz, dpre[:, t], dz[:, t], dx[:, t], dhm_att, work)
        dprev_hm += dhm_att
        cell_backward(dprev_hm, dprev_cm, cache.acts_m[t], cache.cms[t], cache.tanh_cm[t], da_m, t, dprev_cm)
        np.matmul(Wm2T, da_m[:, t], out=dcols_m)
        col2im_step(grid, dcols_m, 0, kh, kw, dprev_h, accumulate=True)
        col2im_step(grid, dcols_m, Kkk, kh, kw, dprev_hm)
    dWxa, dWha, dba, dWz = attention_weight_gradients(grid, att, dpre, dz, Wxa, Wha, Wz, dx)
    # one GEMM per returned gradient (or part of it, written in place), none copied out of a larger one
    dWx, dWh = weight_gradient(da, cache.cols[:Ckk], Wx.shape), weight_gradient(da, cache.cols[Ckk:Ckk + Kkk], Wh.shape)
    dWmh = weight_gradient(da_m, cache.cols[Ckk + Kkk:], Wmh.shape)
    dWmx = np.empty(Wmx.shape, dt)                                   # [dW^m_x | dW^m_e]
    weight_gradient(da_m, cache.cols_m, out=dWmx.reshape(4 * Km, -1)[:, :Cm * kh * kw])
    weight_gradient(da_m, cache.cols[Ckk:Ckk + Kkk], out=dWmx.reshape(4 * Km, -1)[:, Cm * kh * kw:])
    dcols_seq = input_gradient_columns(Wmx[:, :Cm].reshape(4 * Km, -1), da_m, grid.empty("dcols m seq",
                                                                                        cache.cols_m.shape))
    dm = col2im_sequence(grid, dcols_seq, kh, kw, grid.empty("dm", (Cm, T, L)))
    state = lambda s: state_from_channel_major(s, grid)  # noqa: E731
    return (from_channel_major(dx, grid), from_channel_major(dm, grid), state(dprev_h), state(dprev_c),
            state(dprev_hm), state(dprev_cm), dWx, dWh, da.sum(axis=(1, 2)), dWmx, dWmh, da_m.sum(axis=(1, 2)),
            dWxa, dWha, dba, dWz)
