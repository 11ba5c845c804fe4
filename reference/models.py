"""Plain NumPy float64 forward references of the whole-model losses.

Built only from the ops in ops.py. Each model takes `params`, a dict of
float64 arrays (keys listed per function), and optional dropout keep-masks;
a mask of None means no dropout (evaluation). The drop probability `p` is
used only where a mask is given.
"""
import numpy as np

from .ops import (
    affine,
    alstm_step,
    dropout,
    initial_state,
    lstm,
    lstm_step,
    sigmoid_input_layer,
    softmax,
    stepwise_cross_entropy,
)


def _input(params, V, mask_in, p):
    """X = sigmoid(V W_in + b_in), then X = dropout(X, p, mask_in) if mask_in is given.

    V: (B, N, dv), mask_in: (B, N, dv) or None  ->  X: (B, N, dv)
    """
    X = sigmoid_input_layer(V, params['W_in'], params['b_in'])
    if mask_in is not None:
        X = dropout(X, p, mask_in)
    return X


def _stepwise_head(params, h, y, mask_out, p):
    """Per-step classifier (aLSTM sec. 3.4): s_t = dropout(h_t) Wy + by.

    loss = stepwise_cross_entropy(s, y); probs = (1/N) sum_t softmax(s_t).
    h: (B, N, H), y: (B,), mask_out: (B, N, H) or None
    Returns loss (scalar), probs (B, C).
    """
    if mask_out is not None:
        h = dropout(h, p, mask_out)
    scores = affine(h, params['Wy'], params['by'])  # (B, N, C)
    loss = stepwise_cross_entropy(scores, y)
    probs = np.mean(softmax(scores), axis=1)
    return loss, probs


def lstm_model_loss(params, V, y, mask_in=None, mask_out=None, p=0.5):
    """Vanilla LSTM classifier loss.

    X = sigmoid(V W_in + b_in) [dropout mask_in];  h0 = c0 = 0;
    h = lstm(X, h0, c0, Wx, Wh, b) (eqs. 7-12);  s_t = h_t [dropout mask_out] Wy + by;
    loss = -(1/(B N)) sum_{b,t} log softmax(s_t)[y_b];  probs = (1/N) sum_t softmax(s_t).

    params: 'W_in' (dv, dv), 'b_in' (dv,), 'Wx' (dv, 4H), 'Wh' (H, 4H), 'b' (4H,),
            'Wy' (H, C), 'by' (C,)
    V: (B, N, dv), y: (B,) int, mask_in: (B, N, dv) or None, mask_out: (B, N, H) or None
    Returns loss (scalar), probs (B, C).
    """
    V = np.asarray(V, dtype=np.float64)
    X = _input(params, V, mask_in, p)
    B = V.shape[0]
    H = np.asarray(params['Wh']).shape[0]
    h0 = np.zeros((B, H))
    c0 = np.zeros((B, H))
    h, _ = lstm(X, h0, c0, params['Wx'], params['Wh'], params['b'])
    return _stepwise_head(params, h, y, mask_out, p)


def alstm_model_loss(params, V, A, y, mask_in=None, mask_out=None, p=0.5):
    """aLSTM variant (a): attention at every step.

    X = sigmoid(V W_in + b_in) [dropout mask_in];  h0, c0 = initial_state(A);
    for t = 0..N-1: h_t, c_t, k_t, w_t = alstm_step(X_t, h_{t-1}, c_{t-1}, A)
    (eqs. 3-5 attention from h_{t-1}, then eqs. 6-12);
    s_t = h_t [dropout mask_out] Wy + by; loss and probs as in lstm_model_loss.

    params: the lstm_model_loss keys plus 'Wk' (da, 4H), 'Wah' (H, M), 'Waa' (da, M),
            'ba' (M,), 'u' (M,), 'W_h0' (da, H), 'b_h0' (H,), 'W_c0' (da, H), 'b_c0' (H,)
    V: (B, N, dv), A: (B, T, da) (T may differ from N), y: (B,) int,
    mask_in: (B, N, dv) or None, mask_out: (B, N, H) or None
    Returns loss (scalar), probs (B, C), w (B, N, T).
    """
    V = np.asarray(V, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    X = _input(params, V, mask_in, p)
    B, N, _ = V.shape
    T = A.shape[1]
    h, c = initial_state(A, params['W_h0'], params['b_h0'], params['W_c0'], params['b_c0'])
    H = h.shape[1]
    hs = np.zeros((B, N, H))
    w = np.zeros((B, N, T))
    for t in range(N):
        h, c, _, w_t = alstm_step(
            X[:, t], h, c, A, params['Wx'], params['Wh'], params['Wk'], params['b'],
            params['Wah'], params['Waa'], params['ba'], params['u'])
        hs[:, t] = h
        w[:, t] = w_t
    loss, probs = _stepwise_head(params, hs, y, mask_out, p)
    return loss, probs, w


def alstm_b_model_loss(params, V, A, y, mask_in=None, mask_out=None, p=0.5):
    """aLSTM variant (b): attention once, at the last step.

    X = sigmoid(V W_in + b_in) [dropout mask_in];  h0, c0 = initial_state(A);
    t = 0..N-2: h_t, c_t = lstm_step(X_t, h_{t-1}, c_{t-1}) (eqs. 7-12, no context);
    t = N-1:    h_t, c_t, k, w = alstm_step(X_t, h_{t-1}, c_{t-1}, A) (eqs. 3-12;
                attention from h_{N-2}, or from h0 when N = 1);
    s = h_{N-1} [dropout mask_out] Wy + by;
    loss = -(1/B) sum_b log softmax(s_b)[y_b];  probs = softmax(s).

    params: same keys as alstm_model_loss.
    V: (B, N, dv), A: (B, T, da), y: (B,) int,
    mask_in: (B, N, dv) or None, mask_out: (B, H) or None
    Returns loss (scalar), probs (B, C), w (B, T).
    """
    V = np.asarray(V, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    X = _input(params, V, mask_in, p)
    N = V.shape[1]
    h, c = initial_state(A, params['W_h0'], params['b_h0'], params['W_c0'], params['b_c0'])
    for t in range(N - 1):
        h, c = lstm_step(X[:, t], h, c, params['Wx'], params['Wh'], params['b'])
    h, c, _, w = alstm_step(
        X[:, N - 1], h, c, A, params['Wx'], params['Wh'], params['Wk'], params['b'],
        params['Wah'], params['Waa'], params['ba'], params['u'])
    if mask_out is not None:
        h = dropout(h, p, mask_out)
    s = affine(h, params['Wy'], params['by'])  # (B, C)
    # one "step": the stepwise loss with N = 1 is exactly the mean over b
    loss = stepwise_cross_entropy(s[:, None, :], y)
    probs = softmax(s)
    return loss, probs, w
