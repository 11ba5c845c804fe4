"""The VideoLSTM paper's models (Li et al., Table 1-2): ConvLSTM, ALSTM (Sharma), ConvALSTM, VideoLSTM and
MotionALSTM (Sharma's ALSTM with motion-based attention, Table 2).

Inputs: feature maps X (B, T, C, N, N) (RGB or flow ConvNet maps) and, for VideoLSTM and MotionALSTM only, flow
maps M (B, T, Cm, N, N) that drive the attention (sec. 3.2). Labels y (B,).

Shared parts (authors' code, shared/papers/README.md):
- initial states from the time-mean of the input maps: ``tanh(W * mean_t X + b)`` (a convolution, VideoLSTM);
  ``tanh(mean_{t,l} x W + b)`` for Sharma's ALSTM (fully connected: lstm.initial_state_forward);
- the head: the hidden state flattened -> fully connected 1024 tanh -> dropout 0.7 -> class scores at every step,
  softmax cross-entropy averaged over all steps; prediction = per-step softmax averaged.

Every model returns attention maps A (B, T, N, N) with its scores. The ConvLSTM has no attention: it weighs every
position equally, and returns that uniform 1/N^2 map so that downstream code treats all models alike.
"""
import numpy as np

from . import backend
from .checks import check_float_array, check_labels, check_probability
from .conv import conv2d_backward, conv2d_forward
from .conv_alstm import conv_alstm_backward, conv_alstm_forward
from .conv_lstm import conv_lstm_backward, conv_lstm_forward
from .layers import (affine_backward, affine_forward, dropout_backward, dropout_forward, dropout_mask, softmax,
                     stepwise_softmax_loss, tanh_backward, tanh_forward)
from .lstm import initial_state_backward, initial_state_forward
from .motion_attention import videolstm_backward, videolstm_forward
from .soft_attention_lstm import (motion_soft_attention_lstm_backward, motion_soft_attention_lstm_forward,
                                  soft_attention_lstm_backward, soft_attention_lstm_forward)


def _odd(name, k):
    if int(k) != k or k < 1 or k % 2 == 0:
        raise ValueError(f"{name}: expected an odd kernel size >= 1, got {k!r}")
    return int(k)


def conv_init_state_forward(x, W, b):
    """State from the time-mean of the maps (VideoLSTM): tanh(W * mean_t x + b); x (B, T, C, N, N),
    W (K, C, k, k) -> (B, K, N, N), cache."""
    pre, conv_cache = conv2d_forward(x.mean(axis=1), W, b)
    out, tanh_cache = tanh_forward(pre)
    return out, (x.shape[1], conv_cache, tanh_cache)


def conv_init_state_backward(dout, cache):
    """-> dx (B, T, C, N, N), dW, db."""
    T, conv_cache, tanh_cache = cache
    dxbar, dW, db = conv2d_backward(tanh_backward(dout, tanh_cache), conv_cache)
    return backend.array_module(dout).repeat(dxbar[:, None] / T, T, axis=1), dW, db


class _VideoClassifier:
    """Parameters, validation, the head and the loss shared by the five models."""

    uses_flow = False

    def __init__(self, channels, map_size, hidden, n_classes, fc_dim, dropout, seed, dtype, shapes):
        self.channels, self.map_size, self.n_classes = int(channels), int(map_size), int(n_classes)
        self.dropout = float(check_probability("dropout", dropout))
        self.dtype = np.dtype(dtype)
        if self.dtype.type not in (np.float32, np.float64):
            raise TypeError(f"dtype: expected float32 or float64, got {self.dtype}")
        state = hidden * (map_size ** 2 if self.spatial_state else 1)
        shapes = {**shapes, "W_fc": (state, fc_dim), "b_fc": (fc_dim,), "Wy": (fc_dim, n_classes), "by": (n_classes,)}
        rng = np.random.default_rng(seed)
        host = {}
        for name, shape in shapes.items():
            if name.startswith("b"):
                host[name] = np.zeros(shape)
            else:
                fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else shape[0]
                host[name] = rng.uniform(-1, 1, size=shape) / np.sqrt(fan_in)
        self.params = {k: backend.to_device(v, self.dtype) for k, v in host.items()}

    # -- validation -----------------------------------------------------------------------------------------
    def _inputs(self, X, M):
        n = self.map_size
        X = check_float_array("X", X, 5, {2: self.channels, 3: n, 4: n})
        if self.uses_flow:
            if M is None:
                raise ValueError(f"M: {type(self).__name__} needs flow maps (B, T, Cm, N, N) for its motion-based "
                                 "attention, got None")
            M = check_float_array("M", M, 5, {2: self.flow_channels})
            if M.shape[3:] != X.shape[3:]:
                raise ValueError(f"M: flow maps must have the RGB maps' size {tuple(X.shape[3:])}, "
                                 f"got {tuple(M.shape[3:])}")
            if M.shape[:2] != X.shape[:2]:
                raise ValueError(f"M: expected batch and time {tuple(X.shape[:2])} like X, got {tuple(M.shape[:2])}")
            M = backend.to_device(M, self.dtype)
        elif M is not None:
            raise ValueError(f"M: {type(self).__name__} reads no flow maps, got shape {tuple(M.shape)}; pass M=None")
        return backend.to_device(X, self.dtype), M

    # -- head -----------------------------------------------------------------------------------------------
    def _head_forward(self, h, mask):
        p = self.params
        B, T = h.shape[:2]
        fc, fc_cache = affine_forward(h.reshape(B, T, -1), p["W_fc"], p["b_fc"])
        act, tanh_cache = tanh_forward(fc)
        drop, drop_cache = dropout_forward(act, self.dropout, mask)
        scores, out_cache = affine_forward(drop, p["Wy"], p["by"])
        return scores, (h.shape, fc_cache, tanh_cache, drop_cache, out_cache)

    def _head_backward(self, dscores, cache, g):
        shape, fc_cache, tanh_cache, drop_cache, out_cache = cache
        ddrop, g["Wy"], g["by"] = affine_backward(dscores, out_cache)
        dfc = tanh_backward(dropout_backward(ddrop, drop_cache), tanh_cache)
        dh, g["W_fc"], g["b_fc"] = affine_backward(dfc, fc_cache)
        return dh.reshape(shape)

    # -- public API -----------------------------------------------------------------------------------------
    def loss_and_input_grads(self, X, y, M=None, rng=None):
        """Per-step softmax cross-entropy over all steps -> (loss, grads like params, {"X": dX[, "M": dM]}).
        ``rng`` (numpy Generator) switches on dropout in the head and draws its mask."""
        X, M = self._inputs(X, M)
        y = backend.to_device(check_labels("y", y, X.shape[0], self.n_classes))
        mask = None
        if rng is not None and self.dropout > 0:
            mask = backend.to_device(dropout_mask(X.shape[:2] + (self.params["W_fc"].shape[1],), self.dropout, rng,
                                                  self.dtype))
        scores, _, cache = self._forward(X, M, mask)
        loss, dscores = stepwise_softmax_loss(scores, y)
        grads, dinputs = self._backward(dscores, cache)
        return float(loss), grads, dinputs

    def loss(self, X, y, M=None, rng=None):
        loss, grads, _ = self.loss_and_input_grads(X, y, M, rng)
        return loss, grads

    def predict(self, X, M=None):
        """-> class probabilities (B, C) (per-step softmax averaged), attention maps (B, T, N, N)."""
        X, M = self._inputs(X, M)
        scores, att, _ = self._forward(X, M, None)
        return softmax(scores).mean(axis=1), att


class ConvLSTM(_VideoClassifier):
    """ConvLSTM baseline (VideoLSTM eqs. 1-6, Table 1): conv gates, no attention.

    channels C and map_size N of the input maps, hidden K channels, gate kernel k (paper: 3).
    """

    spatial_state = True

    def __init__(self, channels, map_size, hidden, n_classes, kernel=3, fc_dim=1024, dropout=0.7, seed=0,
                 dtype=np.float32):
        k, C, K = _odd("kernel", kernel), channels, hidden
        super().__init__(C, map_size, K, n_classes, fc_dim, dropout, seed, dtype, self._shapes(C, K, k))

    @staticmethod
    def _shapes(C, K, k):
        return {"Wx": (4 * K, C, k, k), "Wh": (4 * K, K, k, k), "b": (4 * K,),
                "W_h0": (K, C, k, k), "b_h0": (K,), "W_c0": (K, C, k, k), "b_c0": (K,)}

    def _init(self, X):
        p = self.params
        h0, h0_cache = conv_init_state_forward(X, p["W_h0"], p["b_h0"])
        c0, c0_cache = conv_init_state_forward(X, p["W_c0"], p["b_c0"])
        return h0, c0, (h0_cache, c0_cache)

    def _init_backward(self, dh0, dc0, cache, g):
        dX1, g["W_h0"], g["b_h0"] = conv_init_state_backward(dh0, cache[0])
        dX2, g["W_c0"], g["b_c0"] = conv_init_state_backward(dc0, cache[1])
        return dX1 + dX2

    def _forward(self, X, M, mask):
        p = self.params
        h0, c0, init_cache = self._init(X)
        h, _, rec_cache = conv_lstm_forward(X, h0, c0, p["Wx"], p["Wh"], p["b"])
        scores, head_cache = self._head_forward(h, mask)
        xp = backend.array_module(X)
        B, T, _, N1, N2 = X.shape
        att = xp.full((B, T, N1, N2), 1.0 / (N1 * N2), dtype=X.dtype)
        return scores, att, (init_cache, rec_cache, head_cache)

    def _backward(self, dscores, cache):
        init_cache, rec_cache, head_cache = cache
        g = {}
        dh = self._head_backward(dscores, head_cache, g)
        dX, dh0, dc0, g["Wx"], g["Wh"], g["b"] = conv_lstm_backward(dh, rec_cache)
        return g, {"X": dX + self._init_backward(dh0, dc0, init_cache, g)}


class ConvALSTM(ConvLSTM):
    """Convolutional ALSTM (VideoLSTM sec. 3.1, eqs. 1-9): spatial attention from H_{t-1} on X_t, conv gates.

    ``att_kernel`` 1 (default: the authors' code uses 1x1 attention projections) or 3 (the paper's convolutions);
    ``att_dim`` the channels of the attention's hidden layer (Ka).
    """

    def __init__(self, channels, map_size, hidden, n_classes, kernel=3, att_kernel=1, att_dim=None, fc_dim=1024,
                 dropout=0.7, seed=0, dtype=np.float32):
        k, ka, C, K = _odd("kernel", kernel), _odd("att_kernel", att_kernel), channels, hidden
        Ka = int(att_dim or K)
        shapes = {**self._shapes(C, K, k), "Wxa": (Ka, C, ka, ka), "Wha": (Ka, K, ka, ka), "ba": (Ka,),
                  "Wz": (1, Ka, ka, ka)}
        _VideoClassifier.__init__(self, C, map_size, K, n_classes, fc_dim, dropout, seed, dtype, shapes)

    def _att(self):
        p = self.params
        return p["Wxa"], p["Wha"], p["ba"], p["Wz"]

    def _forward(self, X, M, mask):
        p = self.params
        h0, c0, init_cache = self._init(X)
        h, att, rec_cache = conv_alstm_forward(X, h0, c0, p["Wx"], p["Wh"], p["b"], *self._att())
        scores, head_cache = self._head_forward(h, mask)
        return scores, att, (init_cache, rec_cache, head_cache)

    def _backward(self, dscores, cache):
        init_cache, rec_cache, head_cache = cache
        g = {}
        dh = self._head_backward(dscores, head_cache, g)
        (dX, dh0, dc0, g["Wx"], g["Wh"], g["b"], g["Wxa"], g["Wha"], g["ba"],
         g["Wz"]) = conv_alstm_backward(dh, rec_cache)
        return g, {"X": dX + self._init_backward(dh0, dc0, init_cache, g)}


class VideoLSTM(ConvALSTM):
    """VideoLSTM (sec. 3.2): motion-based attention. A flow ConvLSTM (eqs. 10-15) over the flow maps M reads the
    top layer's H_{t-1}; its current state H^m_t generates the attention applied to the RGB maps X (eqs. 7-9);
    the top ConvLSTM (eqs. 1-6) classifies. ``flow_channels`` Cm of M, ``flow_hidden`` Km (default: hidden).
    """

    uses_flow = True

    def __init__(self, channels, flow_channels, map_size, hidden, n_classes, flow_hidden=None, kernel=3,
                 att_kernel=1, att_dim=None, fc_dim=1024, dropout=0.7, seed=0, dtype=np.float32):
        k, ka = _odd("kernel", kernel), _odd("att_kernel", att_kernel)
        C, Cm, K = channels, int(flow_channels), hidden
        Km, Ka = int(flow_hidden or K), int(att_dim or K)
        self.flow_channels = Cm
        shapes = {**self._shapes(C, K, k),
                  "Wmx": (4 * Km, Cm + K, k, k), "Wmh": (4 * Km, Km, k, k), "bm": (4 * Km,),
                  "W_hm0": (Km, Cm, k, k), "b_hm0": (Km,), "W_cm0": (Km, Cm, k, k), "b_cm0": (Km,),
                  "Wxa": (Ka, C, ka, ka), "Wha": (Ka, Km, ka, ka), "ba": (Ka,), "Wz": (1, Ka, ka, ka)}
        _VideoClassifier.__init__(self, C, map_size, K, n_classes, fc_dim, dropout, seed, dtype, shapes)

    def _forward(self, X, M, mask):
        p = self.params
        h0, c0, init_cache = self._init(X)
        hm0, hm0_cache = conv_init_state_forward(M, p["W_hm0"], p["b_hm0"])
        cm0, cm0_cache = conv_init_state_forward(M, p["W_cm0"], p["b_cm0"])
        h, att, rec_cache = videolstm_forward(X, M, h0, c0, hm0, cm0, (p["Wx"], p["Wh"], p["b"]),
                                              (p["Wmx"], p["Wmh"], p["bm"]), self._att())
        scores, head_cache = self._head_forward(h, mask)
        return scores, att, (init_cache, (hm0_cache, cm0_cache), rec_cache, head_cache)

    def _backward(self, dscores, cache):
        init_cache, flow_init_cache, rec_cache, head_cache = cache
        g = {}
        dh = self._head_backward(dscores, head_cache, g)
        dX, dM, dh0, dc0, dhm0, dcm0, dtop, dflow, datt = videolstm_backward(dh, rec_cache)
        g["Wx"], g["Wh"], g["b"] = dtop
        g["Wmx"], g["Wmh"], g["bm"] = dflow
        g["Wxa"], g["Wha"], g["ba"], g["Wz"] = datt
        dM1, g["W_hm0"], g["b_hm0"] = conv_init_state_backward(dhm0, flow_init_cache[0])
        dM2, g["W_cm0"], g["b_cm0"] = conv_init_state_backward(dcm0, flow_init_cache[1])
        return g, {"X": dX + self._init_backward(dh0, dc0, init_cache, g), "M": dM + dM1 + dM2}


class ALSTM(_VideoClassifier):
    """Sharma et al.'s soft-attention LSTM (VideoLSTM's ALSTM baseline): attention over the N*N locations,
    context = weighted sum, fully connected gates; initial state tanh(mean_{t,l} x W + b).
    ``hidden`` H, ``att_dim`` M the attention's hidden size (default H)."""

    spatial_state = False

    def __init__(self, channels, map_size, hidden, n_classes, att_dim=None, fc_dim=1024, dropout=0.7, seed=0,
                 dtype=np.float32):
        C, H, Ma = channels, hidden, int(att_dim or hidden)
        shapes = {"Wk": (C, 4 * H), "Wh": (H, 4 * H), "b": (4 * H,), "Wah": (H, Ma), "Waa": (C, Ma), "ba": (Ma,),
                  "u": (Ma,), "W_h0": (C, H), "b_h0": (H,), "W_c0": (C, H), "b_c0": (H,)}
        super().__init__(C, map_size, H, n_classes, fc_dim, dropout, seed, dtype, shapes)

    def _locations(self, X):
        """X (B, T, C, N, N) -> location vectors (B, T, L, C), the top LSTM's initial h0, c0 (B, H), cache.
        The initial state is aLSTM's (mean of the attended vectors), here over all T*L location vectors."""
        p = self.params
        B, T, C, N1, N2 = X.shape
        loc = X.reshape(B, T, C, N1 * N2).transpose(0, 1, 3, 2)
        h0, c0, init_cache = initial_state_forward(loc.reshape(B, -1, C), p["W_h0"], p["b_h0"], p["W_c0"],
                                                   p["b_c0"])
        return loc, h0, c0, (X.shape, init_cache)

    def _locations_backward(self, dloc, dh0, dc0, cache, g):
        """dloc (B, T, L, C), dh0, dc0 (B, H) -> dX (B, T, C, N, N); the initial state's gradients go into g."""
        shape, init_cache = cache
        dloc_init, g["W_h0"], g["b_h0"], g["W_c0"], g["b_c0"] = initial_state_backward(dh0, dc0, init_cache)
        return (dloc + dloc_init.reshape(dloc.shape)).transpose(0, 1, 3, 2).reshape(shape)

    def _forward(self, X, M, mask):
        p = self.params
        loc, h0, c0, loc_cache = self._locations(X)
        h, w, rec_cache = soft_attention_lstm_forward(loc, h0, c0, p["Wk"], p["Wh"], p["b"], p["Wah"], p["Waa"],
                                                      p["ba"], p["u"])
        scores, head_cache = self._head_forward(h, mask)
        return scores, w.reshape(X.shape[:2] + X.shape[3:]), (loc_cache, rec_cache, head_cache)

    def _backward(self, dscores, cache):
        loc_cache, rec_cache, head_cache = cache
        g = {}
        dh = self._head_backward(dscores, head_cache, g)
        (dloc, dh0, dc0, g["Wk"], g["Wh"], g["b"], g["Wah"], g["Waa"], g["ba"],
         g["u"]) = soft_attention_lstm_backward(dh, rec_cache)
        return g, {"X": self._locations_backward(dloc, dh0, dc0, loc_cache, g)}


class MotionALSTM(ALSTM):
    """Sharma's ALSTM with motion-based attention (VideoLSTM Table 2, ALSTM row): the fully connected analogue of
    VideoLSTM (sec. 3.2). The flow maps M are mean-pooled over space to m_t (B, Cm); a flow LSTM (hidden Hm,
    vector analogue of eqs. 10-15) reads [m_t; h_{t-1}] and its current state hm_t drives the attention over the
    N*N locations of X_t (eqs. 7-9 analogue); the top LSTM steps on the context. Initial states: top as ALSTM,
    flow tanh(mean_t m_t W + b). ``flow_channels`` Cm of M, ``flow_hidden`` Hm (default: hidden), ``att_dim`` M
    (default: hidden). Input API as VideoLSTM's: X (B, T, C, N, N), M (B, T, Cm, N, N).
    """

    uses_flow = True

    def __init__(self, channels, flow_channels, map_size, hidden, n_classes, flow_hidden=None, att_dim=None,
                 fc_dim=1024, dropout=0.7, seed=0, dtype=np.float32):
        C, Cm, H = channels, int(flow_channels), hidden
        Hm, Ma = int(flow_hidden or H), int(att_dim or H)
        self.flow_channels = Cm
        shapes = {"Wk": (C, 4 * H), "Wh": (H, 4 * H), "b": (4 * H,),
                  "Wmx": (Cm + H, 4 * Hm), "Wmh": (Hm, 4 * Hm), "bm": (4 * Hm,),
                  "Wah": (Hm, Ma), "Waa": (C, Ma), "ba": (Ma,), "u": (Ma,),
                  "W_h0": (C, H), "b_h0": (H,), "W_c0": (C, H), "b_c0": (H,),
                  "W_hm0": (Cm, Hm), "b_hm0": (Hm,), "W_cm0": (Cm, Hm), "b_cm0": (Hm,)}
        _VideoClassifier.__init__(self, C, map_size, H, n_classes, fc_dim, dropout, seed, dtype, shapes)

    def _forward(self, X, M, mask):
        p = self.params
        loc, h0, c0, loc_cache = self._locations(X)
        m = M.mean(axis=(3, 4))                                          # (B, T, Cm) pooled flow vectors
        hm0, cm0, flow_init_cache = initial_state_forward(m, p["W_hm0"], p["b_hm0"], p["W_cm0"], p["b_cm0"])
        h, w, rec_cache = motion_soft_attention_lstm_forward(
            loc, m, h0, c0, hm0, cm0, (p["Wk"], p["Wh"], p["b"]), (p["Wmx"], p["Wmh"], p["bm"]),
            (p["Wah"], p["Waa"], p["ba"], p["u"]))
        scores, head_cache = self._head_forward(h, mask)
        return scores, w.reshape(X.shape[:2] + X.shape[3:]), (M.shape, loc_cache, flow_init_cache, rec_cache,
                                                              head_cache)

    def _backward(self, dscores, cache):
        flow_shape, loc_cache, flow_init_cache, rec_cache, head_cache = cache
        g = {}
        dh = self._head_backward(dscores, head_cache, g)
        dloc, dm, dh0, dc0, dhm0, dcm0, dtop, dflow, datt = motion_soft_attention_lstm_backward(dh, rec_cache)
        g["Wk"], g["Wh"], g["b"] = dtop
        g["Wmx"], g["Wmh"], g["bm"] = dflow
        g["Wah"], g["Waa"], g["ba"], g["u"] = datt
        dm_init, g["W_hm0"], g["b_hm0"], g["W_cm0"], g["b_cm0"] = initial_state_backward(dhm0, dcm0,
                                                                                        flow_init_cache)
        dm = (dm + dm_init) / (flow_shape[3] * flow_shape[4])            # backward of the spatial mean
        xp = backend.array_module(dm)
        dM = xp.broadcast_to(dm[:, :, :, None, None], flow_shape).copy()
        return g, {"X": self._locations_backward(dloc, dh0, dc0, loc_cache, g), "M": dM}
