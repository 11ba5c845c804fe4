"""Spatial softmax attention of the Convolutional ALSTM (VideoLSTM eqs. 7-9).

    Z_t = W_z * tanh(W_xa * X_t + W_ha * H + b_a)         a 2-d score map, N x N          (7)
    A_t^{ij} = exp(Z_t^{ij}) / sum_{i'j'} exp(Z_t^{i'j'})  softmax over the N x N positions (8)
    X~_t = A_t . X_t                                       every channel weighted, no sum   (9)

H is the top layer's H_{t-1} in the ConvALSTM (eq. 7) and the flow layer's current H^m_t in motion-based
attention (sec. 3.2); the same function serves both. The kernel sizes come from the weights: the authors' code
uses 1x1 projections (``W_xa``, ``W_ha``, ``W_z`` all 1x1, the default of the models), the paper writes
convolutions (k x k, an option).

Shapes: X (B, C, N, N), H (B, K, N, N), W_xa (Ka, C, k, k), W_ha (Ka, K, k, k), b_a (Ka,), W_z (1, Ka, kz, kz).
"""
from .backend import array_module
from .conv import conv2d_backward, conv2d_forward


def spatial_attention_forward(x, h, Wxa, Wha, ba, Wz):
    """Eqs. 7-9 -> x_att (B, C, N, N) = A . X, A (B, N, N) (each map sums to 1), cache."""
    xp = array_module(x)
    B, _, N1, N2 = x.shape
    px, x_cache = conv2d_forward(x, Wxa, ba)
    ph, h_cache = conv2d_forward(h, Wha, xp.zeros_like(ba))
    e = xp.tanh(px + ph)
    z, z_cache = conv2d_forward(e, Wz, xp.zeros(1, dtype=Wz.dtype))
    z = z.reshape(B, N1 * N2)
    a = xp.exp(z - z.max(axis=1, keepdims=True))
    a = (a / a.sum(axis=1, keepdims=True)).reshape(B, N1, N2)
    return a[:, None] * x, a, (x, a, e, x_cache, h_cache, z_cache)


def spatial_attention_backward(dx_att, cache, da_extra=None):
    """Gradients of ``spatial_attention_forward`` for upstream dx_att (B, C, N, N) and, optionally, a direct
    gradient of the attention map da_extra (B, N, N) -> dx, dh, dWxa, dWha, dba, dWz."""
    x, a, e, x_cache, h_cache, z_cache = cache
    da = (dx_att * x).sum(axis=1)
    if da_extra is not None:
        da = da + da_extra
    dz = a * (da - (a * da).sum(axis=(1, 2), keepdims=True))
    de, dWz, _ = conv2d_backward(dz[:, None], z_cache)
    dpre = de * (1.0 - e * e)
    dx, dWxa, dba = conv2d_backward(dpre, x_cache)
    dh, dWha, _ = conv2d_backward(dpre, h_cache)
    return dx + a[:, None] * dx_att, dh, dWxa, dWha, dba, dWz
