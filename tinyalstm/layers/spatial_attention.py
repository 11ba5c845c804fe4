"""Spatial softmax attention of the Convolutional ALSTM (VideoLSTM eqs. 7-9).

    Z_t = W_z * tanh(W_xa * X_t + W_ha * H + b_a)         a 2-d score map, N x N          (7)
    A_t^{ij} = exp(Z_t^{ij}) / sum_{i'j'} exp(Z_t^{i'j'})  softmax over the N x N positions (8)
    X~_t = A_t . X_t                                       every channel weighted, no sum   (9)

H is the top layer's H_{t-1} in the ConvALSTM (eq. 7) and the flow layer's current H^m_t in motion-based
attention (sec. 3.2); the same function serves both. The kernel sizes come from the weights: the authors' code
uses 1x1 projections (``W_xa``, ``W_ha``, ``W_z`` all 1x1, the default of the models), the paper writes
convolutions (k x k, an option).

Shapes: X (B, C, N, N), H (B, K, N, N), W_xa (Ka, C, k, k), W_ha (Ka, K, k, k), b_a (Ka,), W_z (1, Ka, kz, kz).

Eqs. 8-9 are one pair, ``spatial_softmax_forward/backward``; on the GPU (CuPy arrays) the fused Numba CUDA kernels
of ``kernels/spatial_softmax.py`` (same contract) run instead, and the convolutions of eq. 7 run conv.py's kernels.
"""
from typing import Callable, NamedTuple

from .. import backend
from ..backend import array_module
from .conv import ConvCache, conv2d_backward, conv2d_forward


class SoftmaxCache(NamedTuple):
    backward: Callable   # the backward that matches the forward that ran (NumPy code or the CUDA kernel)
    saved: object        # what that backward reads


class SoftmaxSaved(NamedTuple):
    x: object            # (B, C, N, N) maps
    a: object            # (B, N, N) attention


class SpatialAttentionCache(NamedTuple):
    e: object            # (B, Ka, N, N) tanh(W_xa * X + W_ha * H + b_a)
    x_conv: ConvCache
    h_conv: ConvCache
    z_conv: ConvCache
    softmax: SoftmaxCache


def spatial_softmax_forward(z, x):
    """Eqs. 8-9: scores z (B, N, N), maps x (B, C, N, N) -> x_att = A . X (B, C, N, N), A (B, N, N), cache."""
    if backend.use_kernels(x):
        from ..kernels import spatial_softmax as gpu   # the GPU path only: imports numba.cuda
        x_att, a, saved = gpu.spatial_softmax_forward(z, x)
        return x_att, a, SoftmaxCache(gpu.spatial_softmax_backward, saved)
    xp = array_module(x)
    B, N1, N2 = z.shape
    z = z.reshape(B, N1 * N2)
    a = xp.exp(z - z.max(axis=1, keepdims=True))
    a = (a / a.sum(axis=1, keepdims=True)).reshape(B, N1, N2)
    return a[:, None] * x, a, SoftmaxCache(spatial_softmax_backward_numpy, SoftmaxSaved(x, a))


def spatial_softmax_backward(dx_att, cache, da_extra=None):
    """Gradients of eqs. 8-9 for upstream dx_att (B, C, N, N) and an optional direct gradient of the map
    da_extra (B, N, N) -> dz (B, N, N), dx (B, C, N, N) through the product A . X only."""
    return cache.backward(dx_att, cache.saved, da_extra)


def spatial_softmax_backward_numpy(dx_att, saved, da_extra=None):
    """The NumPy backward of eqs. 8-9 from ``SoftmaxSaved``; the reference the CUDA kernel of
    ``kernels/spatial_softmax.py`` is checked against."""
    x, a = saved.x, saved.a
    da = (dx_att * x).sum(axis=1)
    if da_extra is not None:
        da = da + da_extra
    return a * (da - (a * da).sum(axis=(1, 2), keepdims=True)), a[:, None] * dx_att


def spatial_attention_forward(x, h, Wxa, Wha, ba, Wz):
    """Eqs. 7-9 -> x_att (B, C, N, N) = A . X, A (B, N, N) (each map sums to 1), cache."""
    xp = array_module(x)
    px, x_cache = conv2d_forward(x, Wxa, ba)
    ph, h_cache = conv2d_forward(h, Wha)
    e = xp.tanh(px + ph)
    z, z_cache = conv2d_forward(e, Wz)
    x_att, a, softmax_cache = spatial_softmax_forward(z[:, 0], x)
    return x_att, a, SpatialAttentionCache(e, x_cache, h_cache, z_cache, softmax_cache)


def spatial_attention_backward(dx_att, cache, da_extra=None):
    """Gradients of ``spatial_attention_forward`` for upstream dx_att (B, C, N, N) and, optionally, a direct
    gradient of the attention map da_extra (B, N, N) -> dx, dh, dWxa, dWha, dba, dWz."""
    dz, dx_direct = spatial_softmax_backward(dx_att, cache.softmax, da_extra)
    de, dWz, _ = conv2d_backward(dz[:, None], cache.z_conv)
    dpre = de * (1.0 - cache.e * cache.e)
    dx, dWxa, dba = conv2d_backward(dpre, cache.x_conv)
    dh, dWha, _ = conv2d_backward(dpre, cache.h_conv)
    return dx + dx_direct, dh, dWxa, dWha, dba, dWz
