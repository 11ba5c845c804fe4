"""Layout, buffers and columns of the fused CPU path: channel-major maps (C, L), L = B*H*W, a ``Workspace`` of
buffers kept from one training step to the next, im2col / col2im of whole sequences into stacked column buffers,
and the convolution as one GEMM of side-by-side kernels (see the package docstring for why)."""
from typing import NamedTuple, Optional

import numpy as np

from .loops import col2im_into, im2col_into, window_mask


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
    masks: dict                      # (kh, kw) -> loops.window_mask
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
            raise RuntimeError("fused path: this cache's buffers were reused by a later forward pass with the same "
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
        raise ValueError(f"fused path: expected a C-contiguous (K, L) map, got strides {a.strides}")
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


def new_states(grid, name, s0, T):
    """The buffer ``name`` (T + 1, K, L) for a state over T steps, its index 0 set to s0 (B, K, H, W)."""
    s = grid.empty(name, (T + 1, s0.shape[1], grid.size))
    s[0] = state_to_channel_major(s0)
    return s
