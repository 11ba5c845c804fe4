"""The LSTM of aLSTM eqs. 7-12, one step and a whole sequence with backpropagation through time.

Gate order is i, f, o, g everywhere: the pre-activation ``a (B, 4H)`` holds i in columns [0, H), f in [H, 2H),
o in [2H, 3H) and g in [3H, 4H).

    i_t = sigma(W_i v_t + U_i h_{t-1} + b_i)      (7)
    f_t = sigma(W_f v_t + U_f h_{t-1} + b_f)      (8)
    o_t = sigma(W_o v_t + U_o h_{t-1} + b_o)      (9)
    g_t = tanh (W_c v_t + U_c h_{t-1} + b_c)      (10)
    c_t = f_t * c_{t-1} + i_t * g_t               (11)
    h_t = o_t * tanh(c_t)                          (12)

The pointwise part (eqs. 7-12 after the matrix products) is ``lstm_cell_forward``; the one-step LSTM, the
sequence LSTM, the attention decoder (alstm_decoder.py) and the ConvLSTM (conv_lstm.py) all feed their own
pre-activation into it.
"""
from typing import Callable, NamedTuple

from .. import backend
from ..backend import array_module
from .feedforward import sigmoid


class CellCache(NamedTuple):
    backward: Callable   # the backward that matches the forward that ran (NumPy code or the CUDA kernel)
    saved: object        # what that backward reads


class CellSaved(NamedTuple):
    """The NumPy path's saved gates and states, each (B, H) or (B, K, N, N)."""
    i: object
    f: object
    o: object
    g: object
    prev_c: object
    tanh_c: object


class StepCache(NamedTuple):
    x: object
    prev_h: object
    Wx: object
    Wh: object
    cell: CellCache


class SequenceCache(NamedTuple):
    x: object        # (B, N, D)
    h0: object       # (B, H)
    h: object        # (B, N, H) every hidden state
    Wx: object
    Wh: object
    cells: list      # a CellCache per step


class InitialStateCache(NamedTuple):
    steps: int       # T, the number of attended vectors averaged
    abar: object     # (B, da) their mean
    W_h0: object
    W_c0: object
    h0: object
    c0: object


def lstm_cell_forward(a, prev_c):
    """Eqs. 7-12 given the pre-activation: a (B, 4H), prev_c (B, H) -> next_h (B, H), next_c (B, H), cache.

    Gates are stacked on axis 1, so the same code serves convolutional gates (VideoLSTM eqs. 1-6):
    a (B, 4K, N, N), prev_c (B, K, N, N). On the GPU (CuPy arrays) the fused Numba CUDA kernel of
    ``kernels/lstm_pointwise.py`` does the same in one pass; the cache carries the matching backward.
    """
    if backend.use_kernels(a):
        from ..kernels import lstm_pointwise as gpu   # the GPU path only: imports numba.cuda
        next_h, next_c, saved = gpu.lstm_pointwise_forward(a, prev_c)
        return next_h, next_c, CellCache(gpu.lstm_pointwise_backward, saved)
    xp = array_module(a)
    H = prev_c.shape[1]
    ifo = sigmoid(a[:, :3 * H])
    i, f, o = ifo[:, :H], ifo[:, H:2 * H], ifo[:, 2 * H:]
    g = xp.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    tanh_c = xp.tanh(next_c)
    next_h = o * tanh_c
    return next_h, next_c, CellCache(lstm_cell_backward_numpy, CellSaved(i, f, o, g, prev_c, tanh_c))


def lstm_cell_backward(dnext_h, dnext_c, cache):
    """Gradients of ``lstm_cell_forward``: -> da (B, 4H), dprev_c (B, H)."""
    return cache.backward(dnext_h, dnext_c, cache.saved)


def lstm_cell_backward_numpy(dnext_h, dnext_c, saved):
    """The NumPy backward of eqs. 7-12 from the saved gates (``CellSaved``); the reference the CUDA kernel of
    ``kernels/lstm_pointwise.py`` is checked against."""
    i, f, o, g, prev_c, tanh_c = saved.i, saved.f, saved.o, saved.g, saved.prev_c, saved.tanh_c
    xp = array_module(i)
    do = dnext_h * tanh_c
    dc = dnext_c + dnext_h * o * (1.0 - tanh_c * tanh_c)
    di, df, dg = dc * g, dc * prev_c, dc * i
    da = xp.concatenate([di * i * (1.0 - i), df * f * (1.0 - f), do * o * (1.0 - o), dg * (1.0 - g * g)], axis=1)
    return da, dc * f


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One LSTM step, eqs. 7-12.

    x (B, D), prev_h (B, H), prev_c (B, H), Wx (D, 4H), Wh (H, 4H), b (4H,)
    -> next_h (B, H), next_c (B, H), cache.
    """
    a = x @ Wx + prev_h @ Wh + b
    next_h, next_c, cell_cache = lstm_cell_forward(a, prev_c)
    return next_h, next_c, StepCache(x, prev_h, Wx, Wh, cell_cache)


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Gradients of one step: -> dx (B, D), dprev_h (B, H), dprev_c (B, H), dWx (D, 4H), dWh (H, 4H), db (4H,)."""
    da, dprev_c = lstm_cell_backward(dnext_h, dnext_c, cache.cell)
    return da @ cache.Wx.T, da @ cache.Wh.T, dprev_c, cache.x.T @ da, cache.prev_h.T @ da, da.sum(axis=0)


def lstm_forward(x, h0, c0, Wx, Wh, b):
    """The LSTM over a whole sequence, eqs. 7-12 for t = 1..N.

    x (B, N, D), h0 (B, H), c0 (B, H), Wx (D, 4H), Wh (H, 4H), b (4H,) -> h (B, N, H), c (B, N, H), cache.
    The input projection x Wx + b is one matrix product for all steps; only h_{t-1} Wh stays inside the loop.
    N = 0 is allowed and returns empty (B, 0, H) arrays.
    """
    xp = array_module(x)
    B, N, _ = x.shape
    H = h0.shape[1]
    xw = x @ Wx + b
    h = xp.empty((B, N, H), dtype=h0.dtype)
    c = xp.empty((B, N, H), dtype=h0.dtype)
    prev_h, prev_c, cells = h0, c0, []
    for t in range(N):
        prev_h, prev_c, cell_cache = lstm_cell_forward(xw[:, t] + prev_h @ Wh, prev_c)
        h[:, t], c[:, t] = prev_h, prev_c
        cells.append(cell_cache)
    return h, c, SequenceCache(x, h0, h, Wx, Wh, cells)


def lstm_backward(dh, cache, dc_last=None):
    """Backpropagation through time for ``lstm_forward``.

    dh (B, N, H) upstream gradient of every hidden state; dc_last (B, H) optional gradient of the last cell
    -> dx (B, N, D), dh0 (B, H), dc0 (B, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    """
    xp = array_module(dh)
    x, h0, h, Wx, Wh = cache.x, cache.h0, cache.h, cache.Wx, cache.Wh
    B, N, D = x.shape
    H = h0.shape[1]
    da = xp.empty((B, N, 4 * H), dtype=dh.dtype)
    dWh = xp.zeros_like(Wh)
    dprev_h = xp.zeros_like(h0)
    dprev_c = xp.zeros_like(h0) if dc_last is None else dc_last
    for t in reversed(range(N)):
        da_t, dprev_c = lstm_cell_backward(dh[:, t] + dprev_h, dprev_c, cache.cells[t])
        prev_h = h[:, t - 1] if t > 0 else h0
        dWh += prev_h.T @ da_t
        dprev_h = da_t @ Wh.T
        da[:, t] = da_t
    dx = da @ Wx.T
    dWx = x.reshape(-1, D).T @ da.reshape(-1, 4 * H)
    return dx, dprev_h, dprev_c, dWx, dWh, da.reshape(-1, 4 * H).sum(axis=0)


def initial_state_forward(A, W_h0, b_h0, W_c0, b_c0):
    """Initial LSTM state from the mean of the attended data (as in Show, Attend and Tell / Sharma's ALSTM).

    abar = mean_i a_i;  h0 = tanh(abar W_h0 + b_h0);  c0 = tanh(abar W_c0 + b_c0).
    A (B, T, da), W_h0 and W_c0 (da, H), b_h0 and b_c0 (H,) -> h0 (B, H), c0 (B, H), cache.
    """
    xp = array_module(A)
    abar = A.mean(axis=1)
    h0 = xp.tanh(abar @ W_h0 + b_h0)
    c0 = xp.tanh(abar @ W_c0 + b_c0)
    return h0, c0, InitialStateCache(A.shape[1], abar, W_h0, W_c0, h0, c0)


def initial_state_backward(dh0, dc0, cache):
    """-> dA (B, T, da), dW_h0, db_h0, dW_c0, db_c0."""
    T = cache.steps
    dah = dh0 * (1.0 - cache.h0 * cache.h0)
    dac = dc0 * (1.0 - cache.c0 * cache.c0)
    dabar = dah @ cache.W_h0.T + dac @ cache.W_c0.T
    dA = (dabar / T)[:, None, :].repeat(T, axis=1)
    return dA, cache.abar.T @ dah, dah.sum(axis=0), cache.abar.T @ dac, dac.sum(axis=0)
