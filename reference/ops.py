"""Plain NumPy float64 forward references of the aLSTM ops.

Written from the equations of Torabi & Sigal, "aLSTM" (arXiv 1708.09522);
equation numbers below refer to that paper. Explicit loops are used on
purpose: clarity over speed.
"""
import numpy as np


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def affine(x, w, b):
    """Affine map: out = x w + b.

    out[..., m] = sum_d x[..., d] * w[d, m] + b[m]

    x: (..., D), w: (D, M), b: (M,)  ->  out: (..., M)
    """
    x, w, b = _f64(x), _f64(w), _f64(b)
    D, M = w.shape
    rows = x.reshape(-1, D)
    out = np.empty((rows.shape[0], M), dtype=np.float64)
    for r in range(rows.shape[0]):
        acc = b.copy()
        for d in range(D):
            acc = acc + rows[r, d] * w[d]
        out[r] = acc
    return out.reshape(x.shape[:-1] + (M,))


def sigmoid(x):
    """Logistic sigmoid, elementwise: sigmoid(x) = 1 / (1 + exp(-x)).

    Stable form: for x >= 0 use 1/(1+exp(-x)); for x < 0 use exp(x)/(1+exp(x)).

    x: any shape  ->  same shape
    """
    x = _f64(x)
    z = np.exp(-np.abs(x))  # in (0, 1], never overflows
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def tanh(x):
    """Hyperbolic tangent, elementwise: tanh(x) = (e^x - e^-x) / (e^x + e^-x).

    x: any shape  ->  same shape
    """
    return np.tanh(_f64(x))


def _gates_to_state(a, prev_c):
    """LSTM gates and update from a pre-activation (aLSTM eqs. 7-12).

    a: (B, 4H), blocks in order i, f, o, g; prev_c: (B, H)
    i = sigmoid(a[:, 0:H]), f = sigmoid(a[:, H:2H]), o = sigmoid(a[:, 2H:3H]),
    g = tanh(a[:, 3H:4H]); c = f * prev_c + i * g; h = o * tanh(c).
    Returns (h, c), each (B, H).
    """
    H = prev_c.shape[1]
    i = sigmoid(a[:, 0:H])
    f = sigmoid(a[:, H:2 * H])
    o = sigmoid(a[:, 2 * H:3 * H])
    g = tanh(a[:, 3 * H:4 * H])
    c = f * prev_c + i * g
    h = o * tanh(c)
    return h, c


def lstm_step(x, prev_h, prev_c, Wx, Wh, b):
    """One LSTM step (aLSTM eqs. 7-12).

    a = x Wx + prev_h Wh + b, split into 4 blocks of H columns, order i, f, o, g:
      i = sigmoid(a_i)  (7)    f = sigmoid(a_f)  (8)    o = sigmoid(a_o)  (9)
      g = tanh(a_g)     (10)   c = f * prev_c + i * g (11)   h = o * tanh(c) (12)

    x: (B, D), prev_h: (B, H), prev_c: (B, H), Wx: (D, 4H), Wh: (H, 4H), b: (4H,)
    Returns (next_h, next_c), each (B, H).
    """
    x, prev_h, prev_c = _f64(x), _f64(prev_h), _f64(prev_c)
    a = affine(x, Wx, b) + affine(prev_h, Wh, np.zeros(_f64(Wh).shape[1]))
    return _gates_to_state(a, prev_c)


def lstm(x, h0, c0, Wx, Wh, b):
    """LSTM over a sequence: (h_t, c_t) = lstm_step(x_t, h_{t-1}, c_{t-1}), t = 0..N-1.

    x: (B, N, D), h0: (B, H), c0: (B, H), Wx: (D, 4H), Wh: (H, 4H), b: (4H,)
    Returns h: (B, N, H) and c: (B, N, H), the states after every step.
    """
    x, h, c = _f64(x), _f64(h0), _f64(c0)
    B, N, _ = x.shape
    H = h.shape[1]
    hs = np.zeros((B, N, H))
    cs = np.zeros((B, N, H))
    for t in range(N):
        h, c = lstm_step(x[:, t], h, c, Wx, Wh, b)
        hs[:, t] = h
        cs[:, t] = c
    return hs, cs


def temporal_attention(prev_h, A, Wah, Waa, ba, u):
    """Bahdanau temporal attention (aLSTM eqs. 3-5).

    For each batch item b and frame i = 0..T-1:
      e_i = tanh(prev_h[b] Wah + A[b, i] Waa + ba)          matching vector (M,)
      m_i = u . e_i                                         matching score   (3)
      w_i = exp(m_i) / sum_j exp(m_j)                       weights          (4)
      k   = sum_i w_i A[b, i]                               context          (5)

    prev_h: (B, H), A: (B, T, da), Wah: (H, M), Waa: (da, M), ba: (M,), u: (M,)
    Returns k: (B, da), w: (B, T).
    """
    prev_h, A, u = _f64(prev_h), _f64(A), _f64(u)
    B, T, da = A.shape
    k = np.zeros((B, da))
    w = np.zeros((B, T))
    for bi in range(B):
        hpart = affine(prev_h[bi], Wah, ba)  # (M,)
        m = np.zeros(T)
        for i in range(T):
            e = tanh(hpart + affine(A[bi, i], Waa, np.zeros(u.shape[0])))
            m[i] = np.sum(u * e)
        ex = np.exp(m - np.max(m))
        w[bi] = ex / np.sum(ex)
        for i in range(T):
            k[bi] = k[bi] + w[bi, i] * A[bi, i]
    return k, w


def alstm_step(x, prev_h, prev_c, A, Wx, Wh, Wk, b, Wah, Waa, ba, u):
    """One aLSTM decoder step (eq. 6 with eqs. 7-12 conditioned on the context).

    k, w = temporal_attention(prev_h, A, Wah, Waa, ba, u)       (eqs. 3-5, from h_{t-1})
    a = x Wx + prev_h Wh + k Wk + b, blocks i, f, o, g as in lstm_step;
    c = f * prev_c + i * g; h = o * tanh(c).

    x: (B, D), prev_h: (B, H), prev_c: (B, H), A: (B, T, da),
    Wx: (D, 4H), Wh: (H, 4H), Wk: (da, 4H), b: (4H,),
    Wah: (H, M), Waa: (da, M), ba: (M,), u: (M,)
    Returns next_h: (B, H), next_c: (B, H), k: (B, da), w: (B, T).
    """
    x, prev_h, prev_c = _f64(x), _f64(prev_h), _f64(prev_c)
    k, w = temporal_attention(prev_h, A, Wah, Waa, ba, u)
    zero = np.zeros(_f64(Wh).shape[1])
    a = affine(x, Wx, b) + affine(prev_h, Wh, zero) + affine(k, Wk, zero)
    h, c = _gates_to_state(a, prev_c)
    return h, c, k, w


def sigmoid_input_layer(V, W_in, b_in):
    """Input layer (aLSTM sec. 4.1): X = sigmoid(V W_in + b_in), keeps the input size.

    V: (B, N, dv), W_in: (dv, dv), b_in: (dv,)  ->  X: (B, N, dv)
    """
    return sigmoid(affine(V, W_in, b_in))


def dropout(x, p, mask):
    """Inverted dropout with a given keep-mask: out = x * mask / (1 - p).

    x: any shape, p: drop probability (float in [0, 1)), mask: 0/1, same shape as x.
    """
    return _f64(x) * _f64(mask) / (1.0 - p)


def softmax(s):
    """Softmax over the last axis: softmax(s)_j = exp(s_j - max s) / sum_l exp(s_l - max s).

    s: (..., C)  ->  (..., C), rows summing to 1
    """
    s = _f64(s)
    ex = np.exp(s - np.max(s, axis=-1, keepdims=True))
    return ex / np.sum(ex, axis=-1, keepdims=True)


def _log_softmax(s):
    """log softmax(s) over the last axis via log-sum-exp: s_j - max s - log sum_l exp(s_l - max s)."""
    s = _f64(s)
    mx = np.max(s, axis=-1, keepdims=True)
    return s - mx - np.log(np.sum(np.exp(s - mx), axis=-1, keepdims=True))


def stepwise_cross_entropy(scores, y):
    """Per-step cross-entropy averaged over batch and time.

    loss = -(1 / (B N)) sum_{b, t} log softmax(scores[b, t])[y[b]]

    scores: (B, N, C), y: (B,) int class per sequence  ->  scalar float
    """
    scores = _f64(scores)
    y = np.asarray(y, dtype=np.int64)
    B, N, _ = scores.shape
    logp = _log_softmax(scores)
    total = 0.0
    for bi in range(B):
        for t in range(N):
            total -= logp[bi, t, y[bi]]
    return total / (B * N)


def stepwise_sigmoid_cross_entropy(scores, Y):
    """Per-step, per-class sigmoid cross-entropy, summed over classes and averaged over batch and time.

    loss = -(1 / (B N)) sum_{b, t, c} [Y[b, c] log sigmoid(s) + (1 - Y[b, c]) log(1 - sigmoid(s))], s = scores[b, t, c]

    scores: (B, N, C), Y: (B, C) 0/1 labels per sequence  ->  scalar float
    """
    scores = _f64(scores)
    B, N, C = scores.shape
    total = 0.0
    for bi in range(B):
        for t in range(N):
            for c in range(C):
                s = scores[bi, t, c]
                log_p = -np.logaddexp(0.0, -s)          # log sigmoid(s)
                log_q = -np.logaddexp(0.0, s)           # log (1 - sigmoid(s))
                total -= Y[bi, c] * log_p + (1 - Y[bi, c]) * log_q
    return total / (B * N)


def initial_state(A, W_h0, b_h0, W_c0, b_c0):
    """Initial aLSTM state from the mean attended frame.

    abar = (1/T) sum_i A[:, i];  h0 = tanh(abar W_h0 + b_h0);  c0 = tanh(abar W_c0 + b_c0)

    A: (B, T, da), W_h0: (da, H), b_h0: (H,), W_c0: (da, H), b_c0: (H,)
    Returns h0: (B, H), c0: (B, H).
    """
    A = _f64(A)
    abar = np.mean(A, axis=1)
    return tanh(affine(abar, W_h0, b_h0)), tanh(affine(abar, W_c0, b_c0))
