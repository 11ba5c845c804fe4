"""The fused CPU path of the three convolutional recurrences of VideoLSTM (arXiv 1607.01794): the ConvLSTM
(eqs. 1-6), the ConvALSTM (sec. 3.1, eqs. 7-9 with 1-6) and VideoLSTM's motion-based attention (sec. 3.2,
eqs. 10-15 with 7-9 and 1-6), and the initial states, each a forward/backward pair with the signature, the
results and the gradient order of its step-by-step form (conv_lstm.py, conv_alstm.py, motion_attention.py),
which stays the readable statement of the equations. The models use this path on NumPy arrays; CuPy arrays take
the step-by-step path and its CUDA kernels; ``backend.implementation`` decides (``TINYALSTM_FUSED=0`` switches this
path off, to compare the two or to measure what it buys).

The same equations, arranged for a CPU's BLAS:

- Channel-major maps. A map is (C, L), L = B*H*W positions of a step (batch, row, column), so a convolution's
  GEMM (K, C k k) x (C k k, L) reads and writes the layout the next step uses: no transpose between
  (B, K, H, W) and (K, B, H, W) inside the recurrence. Inputs and results are transposed once per sequence.
- One GEMM per layer and step. The convolutions of a step that add up, W_x* X~_t + W_h* H_{t-1} (eqs. 1-4) and
  W^m_e* H_{t-1} + W^m_h* H^m_{t-1} (eqs. 10-13), are one product of the side-by-side kernels [W_x | W_h] with
  the stacked columns [cols(X~_t); cols(H_{t-1})]. VideoLSTM's column buffer stacks [X~_t; H_{t-1}; H^m_{t-1}],
  so H_{t-1}'s columns are built once and read by both layers.
- Hoisting. Convolutions of the inputs alone (the ConvLSTM's W_x* X_t, the flow layer's W^m_x* M_t, the
  attention's W_xa* X_t) run once over all T steps as one GEMM of T*L columns before the loop; after the loop,
  every weight gradient is one GEMM over all T*L columns, and so are the input gradients of those convolutions.
  Only the recurrent products and their input gradients stay in the loop.
- im2col / col2im and the cell's backward are Numba loops (cpu_loops.py); the forward gate math runs as in-place
  NumPy passes on contiguous (4K, L) blocks (NumPy's tanh is vectorised, Numba's is not), with
  sigma(x) = (1 + tanh(x / 2)) / 2 so that one tanh pass serves all four gates.
- Buffers. A model passes a ``Workspace``: the ~100 MB of per-sequence buffers are then kept from one training
  step to the next instead of being handed back to the OS and faulted in again (a tenth of a step's time). A
  cache is valid until the next forward pass with the same workspace; its backward checks that.

Layouts of what a sequence keeps: per-step arrays (T, rows, L) (states (T + 1, K, L), index 0 the initial state);
what the weight gradients contract over all steps at once (rows, T, L) (columns, gate gradients).

All gate kernels (W_x, W_h, and the flow layer's W^m_x, W^m_h) must have one size kh x kw; the attention kernels
(W_xa, W_ha) and the score kernel (W_z) take their own sizes. Shapes as in the step-by-step modules: X
(B, T, C, N, N), M (B, T, Cm, N, N), states (B, K, N, N) and (B, Km, N, N); Wx (4K, C, k, k), Wh (4K, K, k, k),
b (4K,); Wmx (4Km, Cm + K, k, k) (W^m_x then W^m_e), Wmh (4Km, Km, k, k), bm (4Km,); Wxa (Ka, C, ka, ka),
Wha (Ka, K or Km, ka, ka), ba (Ka,), Wz (1, Ka, kz, kz).
"""
from typing import NamedTuple, Optional

import numpy as np

from .cpu_loops import col2im_into, im2col_into, lstm_cell_backward_into, window_mask


# -- buffers, layout and columns -----------------------------------------------------------------------------------
class Workspace:
    """Named arrays kept from one call of the fused path to the next (a model keeps one for its recurrence).

    ``take(name, shape, dtype)`` returns the array kept under ``name`` if it has that shape and dtype (with
    whatever it held), else a new one that it keeps. Every forward pass that uses the workspace starts a new
    ``generation``; a cache remembers its own, and its backward refuses to run on buffers a later forward pass
    has overwritten. Arrays handed to the caller (results, gradients) are never workspace arrays.
    """

    def __init__(self):
        self.arrays, self.generation = {}, 0

    def take(self, name, shape, dtype):
        a = self.arrays.get(name)
        if a is None or a.shape != shape or a.dtype != dtype:
            a = self.arrays[name] = np.empty(shape, dtype)
        return a


class Grid(NamedTuple):
    """One call's context: the positions of a step, B maps of H x W (L = B*H*W columns), the window masks made for
    them, and where buffers come from (a Workspace, or new arrays)."""
    batch: int
    height: int
    width: int
    dtype: np.dtype
    masks: dict                      # (kh, kw) -> cpu_loops.window_mask
    workspace: Optional[Workspace]
    generation: int                  # the workspace's generation this call's buffers belong to

    @property
    def size(self):
        return self.batch * self.height * self.width

    def mask(self, kh, kw):
        if (kh, kw) not in self.masks:
            self.masks[kh, kw] = window_mask(self.batch, self.height, self.width, kh, kw, self.dtype)
        return self.masks[kh, kw]

    def empty(self, name, shape):
        """An uninitialised buffer: the workspace's ``name``, or a new array."""
        if self.workspace is None:
            return np.empty(shape, self.dtype)
        return self.workspace.take(name, tuple(shape), self.dtype)

    def check(self):
        """Raise if a later forward pass has reused this call's workspace buffers."""
        if self.workspace is not None and self.workspace.generation != self.generation:
            raise RuntimeError("fused_cpu: this cache's buffers were reused by a later forward pass with the same "
                               "Workspace; run the backward pass before the next forward pass")


def make_grid(x, workspace=None):
    """The Grid of x (B, ..., H, W); starts a new generation of ``workspace``."""
    generation = 0
    if workspace is not None:
        workspace.generation += 1
        generation = workspace.generation
    return Grid(x.shape[0], x.shape[-2], x.shape[-1], x.dtype, {}, workspace, generation)


def to_channel_major(x, out=None):
    """(B, T, C, H, W) -> (C, T, B*H*W), a C-contiguous copy (never a view of x; into ``out`` when given)."""
    B, T, C, H, W = x.shape
    if out is None:
        return np.array(x.transpose(2, 1, 0, 3, 4), order="C").reshape(C, T, B * H * W)
    np.copyto(out.reshape(C, T, B, H, W), x.transpose(2, 1, 0, 3, 4))
    return out


def from_channel_major(a, grid):
    """(C, T, L) -> (B, T, C, H, W), a new C-contiguous array."""
    C, T, _ = a.shape
    return np.ascontiguousarray(a.reshape(C, T, grid.batch, grid.height, grid.width).transpose(2, 1, 0, 3, 4))


def states_from_channel_major(s, grid):
    """(T, K, L) -> (B, T, K, H, W), a new C-contiguous array."""
    return from_channel_major(s.transpose(1, 0, 2), grid)


def state_to_channel_major(s):
    """(B, K, H, W) -> (K, L), a copy."""
    return to_channel_major(s[:, None])[:, 0]


def state_from_channel_major(s, grid):
    """(K, L) -> (B, K, H, W)."""
    return from_channel_major(s[:, None], grid)[:, 0]


def as_sequence(a):
    """A contiguous map (K, L) viewed as a one-step sequence (K, 1, L), the form the Numba loops index (a view, so
    that what they write lands in ``a``)."""
    if not a.flags.c_contiguous:
        raise ValueError(f"fused_cpu: expected a C-contiguous (K, L) map, got strides {a.strides}")
    return a.reshape(a.shape[0], 1, a.shape[1])


def gemm_weights(*ws):
    """Kernels w_i (Kout, C_i, kh, kw) side by side as one GEMM matrix (Kout, sum_i C_i kh kw), the row order of
    the columns that im2col writes for the inputs stacked in the same order."""
    return np.concatenate([w.reshape(w.shape[0], -1) for w in ws], axis=1)


def im2col_step(grid, x, kh, kw, cols, row0, t):
    """The columns of map x (C, L), contiguous, into rows row0 .. row0 + C kh kw of step t of cols (R, T, L)."""
    im2col_into(as_sequence(x), 0, grid.width, kh, kw, grid.mask(kh, kw), cols, row0, t)


def col2im_step(grid, dcols, row0, kh, kw, dx, accumulate=False):
    """The adjoint of ``im2col_step`` for one step's dcols (R, L), contiguous: rows row0 .. row0 + C kh kw into
    dx (C, L) (added when ``accumulate``)."""
    col2im_into(as_sequence(dcols), 0, row0, grid.width, kh, kw, grid.mask(kh, kw), as_sequence(dx), 0, accumulate)


def im2col_sequence(grid, x, kh, kw, name):
    """The columns of every step of x (C, T, L): the buffer ``name`` (C kh kw, T, L); for a 1x1 kernel, x itself
    (its columns are the map)."""
    if kh == kw == 1:
        return x
    C, T, L = x.shape
    cols = grid.empty(name, (C * kh * kw, T, L))
    for t in range(T):
        im2col_into(x, t, grid.width, kh, kw, grid.mask(kh, kw), cols, 0, t)
    return cols


def col2im_sequence(grid, dcols, kh, kw, out, accumulate=False):
    """The adjoint of ``im2col_sequence``: dcols (C kh kw, T, L) -> out (C, T, L) (added when ``accumulate``)."""
    if kh == kw == 1:
        if accumulate:
            out += dcols
        else:
            out[...] = dcols
        return out
    for t in range(dcols.shape[1]):
        col2im_into(dcols, t, 0, grid.width, kh, kw, grid.mask(kh, kw), out, t, accumulate)
    return out


def conv_gemm(w2, cols, out=None):
    """The forward product of a convolution, the one place the fused path runs one: w2 (Kout, R) x cols (R, L)
    -> (Kout, L), or x cols (R, T, L) of every step -> (Kout, T, L) as one GEMM; into ``out`` when given."""
    if cols.ndim == 2:
        return np.matmul(w2, cols, out=out)
    R, T, L = cols.shape
    out = np.empty((w2.shape[0], T, L), cols.dtype) if out is None else out
    np.matmul(w2, cols.reshape(R, T * L), out=out.reshape(-1, T * L))
    return out


def input_gradient_columns(w2, dout, out):
    """The columns' gradient of a convolution of every step, one GEMM: w2 (Kout, R), dout (Kout, T, L)
    -> out (R, T, L)."""
    K, T, L = dout.shape
    np.matmul(w2.T, dout.reshape(K, T * L), out=out.reshape(-1, T * L))
    return out


def weight_gradient(dout, cols, shape=None, out=None):
    """sum over steps and positions of dout (Kout, T, L) times the columns (R, T, L): one GEMM -> a new
    (Kout, R) (or into ``out``), reshaped to ``shape`` when given."""
    dw = np.matmul(dout.reshape(dout.shape[0], -1), cols.reshape(cols.shape[0], -1).T, out=out)
    return dw if shape is None else dw.reshape(shape)


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

    run as one Numba loop (cpu_loops.py)."""
    lstm_cell_backward_into(dh, dc, acts, prev_c, tanh_c, da, t, dprev_c)


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


def new_states(grid, name, s0, T):
    """The buffer ``name`` (T + 1, K, L) for a state over T steps, its index 0 set to s0 (B, K, H, W)."""
    s = grid.empty(name, (T + 1, s0.shape[1], grid.size))
    s[0] = state_to_channel_major(s0)
    return s


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
