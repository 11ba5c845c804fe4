"""The convolutional LSTM of VideoLSTM eqs. 1-6: the LSTM of lstm.py with every matrix product replaced by a
stride-1 "same" convolution, so gates, cell and hidden state keep their N x N spatial layout.

    I_t = sigma(W_xi * X_t + W_hi * H_{t-1} + b_i)      (1)
    F_t = sigma(W_xf * X_t + W_hf * H_{t-1} + b_f)      (2)
    O_t = sigma(W_xo * X_t + W_ho * H_{t-1} + b_o)      (3)
    G_t = tanh (W_xc * X_t + W_hc * H_{t-1} + b_c)      (4)
    C_t = F_t . C_{t-1} + I_t . G_t                      (5)
    H_t = O_t . tanh(C_t)                                (6)

The four gates' kernels are stacked on the output-channel axis in the order i, f, o, g: Wx (4K, C, k, k),
Wh (4K, K, k, k), b (4K,), one bias per gate channel (the authors' code: no peepholes, zero biases). The pointwise
part is ``lstm_cell_forward`` from lstm.py, which slices gates on axis 1 for both layouts.
"""
from typing import NamedTuple

from ..backend import array_module
from .conv import ConvCache, conv2d_backward, conv2d_forward
from .feedforward import tanh_backward, tanh_forward
from .lstm import CellCache, lstm_cell_backward, lstm_cell_forward


class ConvLSTMStepCache(NamedTuple):
    x_conv: ConvCache    # W_x* X_t + b
    h_conv: ConvCache    # W_h* H_{t-1}
    cell: CellCache


class RecurrentStepCache(NamedTuple):
    h_conv: ConvCache    # W_h* H_{t-1} (the input convolution is done once for all steps)
    cell: CellCache


class ConvInitialStateCache(NamedTuple):
    steps: int           # T, the number of maps averaged
    conv: ConvCache
    out: object          # the tanh output


class ConvLSTMCache(NamedTuple):
    x_shape: tuple       # (B, T, C, N, N)
    x_conv: ConvCache    # the input convolution of all B*T frames
    Wh: object
    steps: list          # a RecurrentStepCache per step


def conv_lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One ConvLSTM step, eqs. 1-6.

    x (B, C, N, N), prev_h (B, K, N, N), prev_c (B, K, N, N), Wx (4K, C, k, k), Wh (4K, K, k, k), b (4K,)
    -> next_h (B, K, N, N), next_c (B, K, N, N), cache.
    """
    ax, x_cache = conv2d_forward(x, Wx, b)
    ah, h_cache = conv2d_forward(prev_h, Wh)
    next_h, next_c, cell_cache = lstm_cell_forward(ax + ah, prev_c)
    return next_h, next_c, ConvLSTMStepCache(x_cache, h_cache, cell_cache)


def conv_lstm_step_backward(dnext_h, dnext_c, cache):
    """-> dx (B, C, N, N), dprev_h, dprev_c (B, K, N, N), dWx (4K, C, k, k), dWh (4K, K, k, k), db (4K,)."""
    da, dprev_c = lstm_cell_backward(dnext_h, dnext_c, cache.cell)
    dx, dWx, db = conv2d_backward(da, cache.x_conv)
    dprev_h, dWh, _ = conv2d_backward(da, cache.h_conv)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def conv_lstm_forward(x, h0, c0, Wx, Wh, b):
    """ConvLSTM over a sequence: x (B, T, C, N, N), h0 and c0 (B, K, N, N) -> h (B, T, K, N, N), c (same), cache.

    The input convolution W_x* X_t + b for all T frames is one convolution over B*T images; only W_h* H_{t-1}
    stays inside the loop.
    """
    xp = array_module(x)
    B, T, C, N1, N2 = x.shape
    ax, x_cache = conv2d_forward(x.reshape(B * T, C, N1, N2), Wx, b)
    ax = ax.reshape(B, T, *ax.shape[1:])
    h = xp.empty((B, T) + h0.shape[1:], dtype=h0.dtype)
    c = xp.empty_like(h)
    prev_h, prev_c, steps = h0, c0, []
    for t in range(T):
        ah, h_cache = conv2d_forward(prev_h, Wh)
        prev_h, prev_c, cell_cache = lstm_cell_forward(ax[:, t] + ah, prev_c)
        h[:, t], c[:, t] = prev_h, prev_c
        steps.append(RecurrentStepCache(h_cache, cell_cache))
    return h, c, ConvLSTMCache(x.shape, x_cache, Wh, steps)


def conv_lstm_backward(dh, cache, dc_last=None):
    """BPTT for ``conv_lstm_forward``: dh (B, T, K, N, N), optional dc_last (B, K, N, N)
    -> dx (B, T, C, N, N), dh0, dc0 (B, K, N, N), dWx, dWh, db."""
    xp = array_module(dh)
    x_shape, Wh = cache.x_shape, cache.Wh
    B, T = x_shape[:2]
    da = xp.empty((B, T, Wh.shape[0]) + dh.shape[3:], dtype=dh.dtype)
    dWh = xp.zeros_like(Wh)
    dprev_h = xp.zeros_like(dh[:, 0])
    dprev_c = xp.zeros_like(dprev_h) if dc_last is None else dc_last
    for t in reversed(range(T)):
        step = cache.steps[t]
        da_t, dprev_c = lstm_cell_backward(dh[:, t] + dprev_h, dprev_c, step.cell)
        dprev_h, dWh_t, _ = conv2d_backward(da_t, step.h_conv)
        dWh += dWh_t
        da[:, t] = da_t
    dx, dWx, db = conv2d_backward(da.reshape(B * T, *da.shape[2:]), cache.x_conv)
    return dx.reshape(x_shape), dprev_h, dprev_c, dWx, dWh, db


def conv_initial_state_forward(x, W, b):
    """A ConvLSTM's initial state from the time-mean of its input maps (the authors' code):
    tanh(W * mean_t x + b); x (B, T, C, N, N), W (K, C, k, k), b (K,) -> (B, K, N, N), cache."""
    pre, conv_cache = conv2d_forward(x.mean(axis=1), W, b)
    out, _ = tanh_forward(pre)
    return out, ConvInitialStateCache(x.shape[1], conv_cache, out)


def conv_initial_state_backward(dout, cache):
    """-> dx (B, T, C, N, N), dW (K, C, k, k), db (K,)."""
    dxbar, dW, db = conv2d_backward(tanh_backward(dout, cache.out), cache.conv)
    return array_module(dout).repeat(dxbar[:, None] / cache.steps, cache.steps, axis=1), dW, db
