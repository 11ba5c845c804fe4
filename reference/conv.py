"""Plain NumPy float64 forward references of convolution-layer ops.

Images and feature maps are NCHW: (batch B, channels C, height H, width W).
Written from the definitions below, independently of the library. Explicit
loops over output positions are used on purpose: clarity over speed.
"""
import numpy as np

from .ops import _f64, sigmoid, tanh


def conv2d(x, w, b):
    """Stride-1 "same" 2-D cross-correlation with zero padding (deep-learning "convolution").

    xpad = x zero-padded by kh//2 rows top and bottom and kw//2 columns left and right;
    out[n, k, i, j] = b[k] + sum_{c, p, q} w[k, c, p, q] * xpad[n, c, i + p, j + q]
    for p = 0..kh-1, q = 0..kw-1 (no kernel flip).

    x: (B, C, H, W), w: (K, C, kh, kw) with kh, kw odd, b: (K,)  ->  out: (B, K, H, W)
    Raises ValueError on an even kernel size, a channel mismatch or bad shapes.
    """
    x, w, b = _f64(x), _f64(w), _f64(b)
    if x.ndim != 4:
        raise ValueError(f"x must be (B, C, H, W), got shape {x.shape}")
    if w.ndim != 4:
        raise ValueError(f"w must be (K, C, kh, kw), got shape {w.shape}")
    B, C, H, W = x.shape
    K, Cw, kh, kw = w.shape
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"kernel size must be odd, got ({kh}, {kw})")
    if Cw != C:
        raise ValueError(f"channel mismatch: x has {C} channels, w expects {Cw}")
    if b.shape != (K,):
        raise ValueError(f"b must be ({K},), got shape {b.shape}")
    ph, pw = kh // 2, kw // 2
    xpad = np.zeros((B, C, H + 2 * ph, W + 2 * pw), dtype=np.float64)
    xpad[:, :, ph:ph + H, pw:pw + W] = x
    out = np.empty((B, K, H, W), dtype=np.float64)
    for n in range(B):
        for k in range(K):
            for i in range(H):
                for j in range(W):
                    window = xpad[n, :, i:i + kh, j:j + kw]  # (C, kh, kw)
                    out[n, k, i, j] = b[k] + np.sum(w[k] * window)
    return out


def relu(x):
    """Rectified linear unit, elementwise: relu(x) = max(x, 0).

    x: any shape  ->  same shape
    """
    return np.maximum(_f64(x), 0.0)


def maxpool2x2(x):
    """Non-overlapping 2x2 max pooling, stride 2.

    out[n, c, i, j] = max(x[n, c, 2i, 2j], x[n, c, 2i, 2j+1],
                          x[n, c, 2i+1, 2j], x[n, c, 2i+1, 2j+1])
    An odd trailing row/column is dropped (floor), as in most libraries.

    x: (B, C, H, W)  ->  out: (B, C, H//2, W//2)
    """
    x = _f64(x)
    if x.ndim != 4:
        raise ValueError(f"x must be (B, C, H, W), got shape {x.shape}")
    B, C, H, W = x.shape
    Ho, Wo = H // 2, W // 2
    out = np.empty((B, C, Ho, Wo), dtype=np.float64)
    for n in range(B):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, c, i, j] = np.max(x[n, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2])
    return out


def conv_lstm_step(x, prev_h, prev_c, Wx, Wh, b):
    """One ConvLSTM step (VideoLSTM eqs. 1-6), written per gate from the equations.

    x: (B, C, N, N), prev_h, prev_c: (B, K, N, N), Wx: (4K, C, k, k), Wh: (4K, K, k, k), b: (4K,);
    gate blocks of K output channels in order i, f, o, g.
      I = sigmoid(Wxi * X + Whi * H + bi)  (1)   F = sigmoid(Wxf * X + Whf * H + bf)  (2)
      O = sigmoid(Wxo * X + Who * H + bo)  (3)   G = tanh(Wxc * X + Whc * H + bc)     (4)
      C = F . C_prev + I . G               (5)   H = O . tanh(C)                      (6)
    Returns (next_h, next_c), each (B, K, N, N).
    """
    K = _f64(prev_c).shape[1]
    zeros = np.zeros(K)
    gate = {}
    for n, name in enumerate("ifog"):
        blk = slice(n * K, (n + 1) * K)
        pre = conv2d(x, Wx[blk], _f64(b)[blk]) + conv2d(prev_h, Wh[blk], zeros)
        gate[name] = tanh(pre) if name == "g" else sigmoid(pre)
    c = gate["f"] * _f64(prev_c) + gate["i"] * gate["g"]
    return gate["o"] * tanh(c), c


def conv_lstm(x, h0, c0, Wx, Wh, b):
    """ConvLSTM over time: x (B, T, C, N, N), h0, c0 (B, K, N, N) -> all h, c (B, T, K, N, N)."""
    x = _f64(x)
    h, c, hs, cs = _f64(h0), _f64(c0), [], []
    for t in range(x.shape[1]):
        h, c = conv_lstm_step(x[:, t], h, c, Wx, Wh, b)
        hs.append(h)
        cs.append(c)
    return np.stack(hs, axis=1), np.stack(cs, axis=1)


def spatial_attention(x, h, Wxa, Wha, ba, Wz):
    """Spatial softmax attention (VideoLSTM eqs. 7-9), position by position.

    x: (B, C, N, N), h: (B, K, N, N), Wxa: (Ka, C, k, k), Wha: (Ka, K, k, k), ba: (Ka,), Wz: (1, Ka, kz, kz).
      Z = Wz * tanh(Wxa * X + Wha * H + ba)           (7)
      A[i, j] = exp(Z[i, j]) / sum_{i', j'} exp(Z)    (8)
      X~[c, i, j] = A[i, j] X[c, i, j]                (9)
    Returns (x_att (B, C, N, N), A (B, N, N)).
    """
    x = _f64(x)
    Ka = _f64(ba).shape[0]
    e = tanh(conv2d(x, Wxa, ba) + conv2d(h, Wha, np.zeros(Ka)))
    z = conv2d(e, Wz, np.zeros(1))[:, 0]
    B, N1, N2 = z.shape
    A = np.empty_like(z)
    x_att = np.empty_like(x)
    for n in range(B):
        zmax = max(z[n, i, j] for i in range(N1) for j in range(N2))
        total = sum(np.exp(z[n, i, j] - zmax) for i in range(N1) for j in range(N2))
        for i in range(N1):
            for j in range(N2):
                A[n, i, j] = np.exp(z[n, i, j] - zmax) / total
                x_att[n, :, i, j] = A[n, i, j] * x[n, :, i, j]
    return x_att, A


def motion_conv_lstm_step(m, prev_hm, prev_cm, h_top, Wmx, Wmh, Wme, bm):
    """The flow layer of motion-based attention (VideoLSTM eqs. 10-15), gate by gate.

    m: (B, Cm, N, N) flow map, prev_hm, prev_cm: (B, Km, N, N), h_top: (B, K, N, N) the top layer's H_{t-1},
    Wmx: (4Km, Cm, k, k), Wmh: (4Km, Km, k, k), Wme: (4Km, K, k, k), bm: (4Km,); gate order i, f, o, g.
      gate = act(Wm_x * M + Wm_h * H^m_{t-1} + Wm_e * H_{t-1} + b^m)   (10-13)
      C^m = F^m . C^m_{t-1} + I^m . G^m (14);  H^m = O^m . tanh(C^m) (15)
    Returns (hm, cm).
    """
    Km = _f64(prev_cm).shape[1]
    zeros = np.zeros(Km)
    gate = {}
    for n, name in enumerate("ifog"):
        blk = slice(n * Km, (n + 1) * Km)
        pre = (conv2d(m, Wmx[blk], _f64(bm)[blk]) + conv2d(prev_hm, Wmh[blk], zeros)
               + conv2d(h_top, Wme[blk], zeros))
        gate[name] = tanh(pre) if name == "g" else sigmoid(pre)
    cm = gate["f"] * _f64(prev_cm) + gate["i"] * gate["g"]
    return gate["o"] * tanh(cm), cm
