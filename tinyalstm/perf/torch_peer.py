"""PyTorch peers of the VideoLSTM-paper models, the comparison point of ``tinyalstm.bench`` (never used by the library).

PyTorch is not a dependency of tinyalstm: this module imports torch at the top, so import it only after
``import torch`` has worked (steps.py and peer_check.py do exactly that, lazily, inside a function).

Each peer computes the same function as its tinyalstm model, written the way a competent PyTorch user would write
it: a dict of leaf tensors for the parameters (same names and shapes as ``model.params``), ``F.conv2d`` for every
stride-1 "same" convolution (cuDNN on a GPU), autograd for the backward pass. ``peer_check.verify_peer`` checks the
equality on a small float64 configuration before any peer is timed.

- initial states: tanh(W * mean_t X + b) for h0 and c0 (and for the flow layer's hm0, cm0 from M);
- ConvLSTM gates, VideoLSTM eqs. 1-6, order i, f, o, g on the channel axis; the input convolution W_x* X_t + b
  runs once over all B*T frames (tinyalstm does the same), only W_h* H_{t-1} stays in the loop;
- spatial attention, eqs. 7-9: Z = W_z * tanh(W_xa * X_t + W_ha * H + b_a), softmax over the N*N positions,
  X~_t = A_t . X_t; H = H_{t-1} (ConvALSTM) or the flow layer's current H^m_t (VideoLSTM, sec. 3.2);
- VideoLSTM's flow layer, eqs. 10-15: a ConvLSTM on the channel-stacked [M_t; H_{t-1}] (``Wmx`` holds W^m_x and
  W^m_e stacked the same way);
- head: hidden map flattened -> FC 1024 -> tanh -> dropout -> class scores at every step; softmax cross-entropy
  averaged over batch and steps.
"""
import torch
import torch.nn.functional as F

PEER_MODELS = ("convlstm", "convalstm", "videolstm")     # the registry names of the models written here


def conv(x, w, b=None):
    """Stride-1 "same" cross-correlation, zero padding (odd kernels): x (B, C, N, N), w (K, C, k, k) -> (B, K, N, N)."""
    return F.conv2d(x, w, b, padding=(w.shape[2] // 2, w.shape[3] // 2))


def init_state(x, w, b):
    """tanh(W * mean_t x + b): x (B, T, C, N, N), w (K, C, k, k) -> (B, K, N, N)."""
    return torch.tanh(conv(x.mean(dim=1), w, b))


def cell(a, prev_c):
    """The pointwise LSTM (eqs. 1-6 after the convolutions): a (B, 4K, N, N) gates stacked i, f, o, g;
    prev_c (B, K, N, N) -> next_h, next_c."""
    i, f, o, g = a.chunk(4, dim=1)
    next_c = torch.sigmoid(f) * prev_c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(next_c), next_c


def lstm_step(x, prev_h, prev_c, Wx, Wh, b):
    """One ConvLSTM step, eqs. 1-6: x (B, C, N, N), prev_h and prev_c (B, K, N, N) -> next_h, next_c."""
    return cell(conv(x, Wx, b) + conv(prev_h, Wh), prev_c)


def attend(x, h, p):
    """Spatial softmax attention, eqs. 7-9: x (B, C, N, N), h (B, K, N, N) -> A . x (B, C, N, N)."""
    e = torch.tanh(conv(x, p["Wxa"], p["ba"]) + conv(h, p["Wha"]))
    z = conv(e, p["Wz"]).flatten(1)                              # (B, N*N): one score per position
    return torch.softmax(z, dim=1).view(x.shape[0], 1, *x.shape[2:]) * x


def convlstm_hidden(p, X):
    """ConvLSTM: X (B, T, C, N, N) -> all hidden maps (B, T, K, N, N)."""
    B, T = X.shape[:2]
    h, c = init_state(X, p["W_h0"], p["b_h0"]), init_state(X, p["W_c0"], p["b_c0"])
    ax = conv(X.flatten(0, 1), p["Wx"], p["b"]).unflatten(0, (B, T))   # input convolution, all frames at once
    hs = []
    for t in range(T):
        h, c = cell(ax[:, t] + conv(h, p["Wh"]), c)
        hs.append(h)
    return torch.stack(hs, dim=1)


def convalstm_hidden(p, X):
    """ConvALSTM (sec. 3.1): attention from H_{t-1} on X_t, then the ConvLSTM step on X~_t."""
    h, c = init_state(X, p["W_h0"], p["b_h0"]), init_state(X, p["W_c0"], p["b_c0"])
    hs = []
    for t in range(X.shape[1]):
        h, c = lstm_step(attend(X[:, t], h, p), h, c, p["Wx"], p["Wh"], p["b"])
        hs.append(h)
    return torch.stack(hs, dim=1)


def videolstm_hidden(p, X, M):
    """VideoLSTM (sec. 3.2): the flow layer steps first on [M_t; H_{t-1}], its current H^m_t drives the attention
    on X_t, then the top ConvLSTM steps on X~_t. X (B, T, C, N, N), M (B, T, Cm, N, N) -> (B, T, K, N, N)."""
    h, c = init_state(X, p["W_h0"], p["b_h0"]), init_state(X, p["W_c0"], p["b_c0"])
    hm, cm = init_state(M, p["W_hm0"], p["b_hm0"]), init_state(M, p["W_cm0"], p["b_cm0"])
    hs = []
    for t in range(X.shape[1]):
        hm, cm = lstm_step(torch.cat([M[:, t], h], dim=1), hm, cm, p["Wmx"], p["Wmh"], p["bm"])
        h, c = lstm_step(attend(X[:, t], hm, p), h, c, p["Wx"], p["Wh"], p["b"])
        hs.append(h)
    return torch.stack(hs, dim=1)


def head_loss(p, hs, y, dropout=None):
    """FC-1024-tanh-dropout-scores at every step, softmax cross-entropy averaged over the B*T steps.

    hs (B, T, K, N, N), y (B,) int64. ``dropout``: None (off); a float p (``F.dropout`` in training mode, a fresh
    mask each call); or (p, keep_mask) with keep_mask (B, T, fc) of 0/1, scaled by 1/(1-p) like
    ``tinyalstm.layers.feedforward.dropout_forward`` (used to check the peer against tinyalstm with the same mask).
    """
    T = hs.shape[1]
    act = torch.tanh(hs.flatten(2) @ p["W_fc"] + p["b_fc"])
    if isinstance(dropout, tuple):
        rate, keep = dropout
        act = act * keep * (1.0 / (1.0 - rate))
    elif dropout:
        act = F.dropout(act, dropout, training=True)
    scores = act @ p["Wy"] + p["by"]
    return F.cross_entropy(scores.flatten(0, 1), y.repeat_interleave(T))   # row b*T + t has label y[b]


def loss(name, p, X, y, M=None, dropout=None):
    """The whole model ``name``'s training loss (a 0-d tensor)."""
    if name == "convlstm":
        hs = convlstm_hidden(p, X)
    elif name == "convalstm":
        hs = convalstm_hidden(p, X)
    elif name == "videolstm":
        hs = videolstm_hidden(p, X, M)
    else:
        raise ValueError(f"name: expected one of {PEER_MODELS}, got {name!r}")
    return head_loss(p, hs, y, dropout)


def params_from(numpy_params, device, dtype):
    """Leaf tensors (requires_grad) copied from a dict of NumPy arrays, e.g. a tinyalstm model's params."""
    return {k: torch.tensor(v, device=device, dtype=dtype, requires_grad=True) for k, v in numpy_params.items()}


def loss_and_grads(name, p, X, y, M=None, dropout=None):
    """-> loss (float), {name: grad} like p, {"X": dX[, "M": dM]} (X and M must require grad)."""
    inputs = {"X": X} if M is None else {"X": X, "M": M}
    value = loss(name, p, X, y, M, dropout)
    grads = torch.autograd.grad(value, list(p.values()) + list(inputs.values()))
    return float(value.detach()), dict(zip(p, grads[:len(p)])), dict(zip(inputs, grads[len(p):]))
