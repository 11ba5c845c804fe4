"""Stride-1 "same" convolution, ReLU and 2x2 max-pooling, hand-written forward/backward pairs (NCHW).

These are the building blocks of VideoLSTM's convolutional gates (eqs. 1-9) and of the small frame encoders.
The CPU path is im2col + one matrix product: the kh*kw shifted views of the zero-padded input are stacked
into columns (C kh kw, B H W) and multiplied by the weights viewed as (K, C kh kw). The stacking loops over the
kh*kw kernel offsets, not over pixels, so it costs kh*kw array copies, and the same code runs on CuPy arrays.

On the GPU (CuPy arrays) the forward and backward run the implicit-GEMM Numba CUDA kernels of
``kernels/conv2d.py`` instead. The cache carries the backward that matches the forward that made it.
"""
from typing import Callable, NamedTuple

from .. import backend
from ..backend import array_module


class ConvCache(NamedTuple):
    backward: Callable   # the backward that matches the forward that ran (im2col or the CUDA kernel)
    saved: object        # what that backward reads


class Im2colSaved(NamedTuple):
    shape: tuple         # x.shape (B, C, H, W)
    cols: object         # (C*kh*kw, B*H*W) im2col columns of x
    w: object            # (K, C, kh, kw)
    bias: bool = True    # whether the forward added a bias (else the backward computes no bias gradient)


class MaxPoolCache(NamedTuple):
    shape: tuple         # x.shape
    arg: object          # (B, C, H//2, W//2) position of each window's maximum, 0..3


def im2col(x, kh, kw):
    """x (B, C, H, W) -> columns (C*kh*kw, B*H*W) of the zero-padded "same" windows (row order c, p, q; column
    order b, i, j). Batch along the columns makes the convolution one large matrix product instead of B small
    ones of H*W columns each (49 at 7x7, too narrow for BLAS to reach its speed)."""
    xp = array_module(x)
    B, C, H, W = x.shape
    ph, pw = kh // 2, kw // 2
    xpad = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))).transpose(1, 0, 2, 3)
    cols = xp.empty((C, kh, kw, B, H, W), dtype=x.dtype)
    for p in range(kh):
        for q in range(kw):
            cols[:, p, q] = xpad[:, :, p:p + H, q:q + W]
    return cols.reshape(C * kh * kw, B * H * W)


def col2im(dcols, shape, kh, kw):
    """Adjoint of ``im2col``: columns (C*kh*kw, B*H*W) -> (B, C, H, W), overlapping windows summed."""
    xp = array_module(dcols)
    B, C, H, W = shape
    ph, pw = kh // 2, kw // 2
    dcols = dcols.reshape(C, kh, kw, B, H, W)
    dxpad = xp.zeros((C, B, H + 2 * ph, W + 2 * pw), dtype=dcols.dtype)
    for p in range(kh):
        for q in range(kw):
            dxpad[:, :, p:p + H, q:q + W] += dcols[:, p, q]
    return dxpad[:, :, ph:ph + H, pw:pw + W].transpose(1, 0, 2, 3)


def conv2d_forward(x, w, b=None):
    """Stride-1 "same" convolution (cross-correlation, zero padding), VideoLSTM's '*' in eqs. 1-9.

    out[n, k, i, j] = b[k] + sum_{c,p,q} w[k, c, p, q] x[n, c, i + p - kh//2, j + q - kw//2]
    x (B, C, H, W), w (K, C, kh, kw) with odd kh and kw, b (K,) or None (no bias: the recurrent and score
    convolutions, whose bias is another term's) -> out (B, K, H, W), cache.
    """
    if backend.use_kernels(x):
        from ..kernels import conv2d as gpu   # the GPU path only: imports numba.cuda
        out, saved = gpu.conv2d_forward(x, w, b)
        return out, ConvCache(gpu.conv2d_backward, saved)
    B, C, H, W = x.shape
    K, _, kh, kw = w.shape
    cols = im2col(x, kh, kw)
    out = w.reshape(K, -1) @ cols
    if b is not None:
        out += b[:, None]
    out = out.reshape(K, B, H, W).transpose(1, 0, 2, 3)
    return (array_module(x).ascontiguousarray(out),
            ConvCache(conv2d_backward_im2col, Im2colSaved(x.shape, cols, w, b is not None)))


def conv2d_backward(dout, cache):
    """Gradients of ``conv2d_forward``: dout (B, K, H, W) -> dx (B, C, H, W), dw (K, C, kh, kw), db (K,) (None
    for a convolution without bias)."""
    return cache.backward(dout, cache.saved)


def conv2d_backward_im2col(dout, saved):
    """The im2col backward from ``Im2colSaved``: the two products of the forward's GEMM, then ``col2im``. The
    reference the CUDA kernels of ``kernels/conv2d.py`` are checked against."""
    w = saved.w
    K, _, kh, kw = w.shape
    d = dout.transpose(1, 0, 2, 3).reshape(K, -1)
    dw = (d @ saved.cols.T).reshape(w.shape)
    dx = col2im(w.reshape(K, -1).T @ d, saved.shape, kh, kw)
    return dx, dw, (d.sum(axis=1) if saved.bias else None)


def relu_forward(x):
    """max(x, 0) elementwise; any shape. The cache is the mask x > 0."""
    xp = array_module(x)
    return xp.maximum(x, 0), x > 0


def relu_backward(dout, positive):
    """dx = dout where the input was positive (``positive``: the forward's cache)."""
    return dout * positive


def maxpool2x2_forward(x):
    """Non-overlapping 2x2 max-pooling: x (B, C, H, W) -> (B, C, H//2, W//2); odd last rows/columns dropped."""
    B, C, H, W = x.shape
    Ho, Wo = H // 2, W // 2
    win = x[:, :, :2 * Ho, :2 * Wo].reshape(B, C, Ho, 2, Wo, 2).transpose(0, 1, 2, 4, 3, 5).reshape(
        B, C, Ho, Wo, 4)
    arg = win.argmax(axis=-1)
    out = array_module(x).take_along_axis(win, arg[..., None], axis=-1)[..., 0]
    return out, MaxPoolCache(x.shape, arg)


def maxpool2x2_backward(dout, cache):
    """The gradient goes to the (first) maximum of each window; dropped rows/columns get zero."""
    xp = array_module(dout)
    (B, C, H, W), arg = cache.shape, cache.arg
    Ho, Wo = H // 2, W // 2
    dwin = (xp.arange(4) == arg[..., None]) * dout[..., None]
    dx = xp.zeros((B, C, H, W), dtype=dout.dtype)
    dx[:, :, :2 * Ho, :2 * Wo] = dwin.reshape(B, C, Ho, Wo, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(
        B, C, 2 * Ho, 2 * Wo)
    return dx
