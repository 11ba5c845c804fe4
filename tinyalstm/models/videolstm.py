"""The convolutional models of VideoLSTM (Li, Gavves, Jain, Snoek, "VideoLSTM Convolves, Attends and Flows for
Action Recognition", arXiv 1607.01794; Tables 1-2): ConvLSTM, ConvALSTM and VideoLSTM. Sharma's ALSTM baselines
are in sharma_alstm.py.

Inputs: feature maps X (B, T, C, N, N) (RGB or flow ConvNet maps) and, for VideoLSTM only, flow maps
M (B, T, Cm, N, N) that drive the attention (sec. 3.2). Labels y (B,).

On NumPy arrays the recurrences run the fused CPU path (tinyalstm.fused: same function, arranged as few large
GEMMs), on CuPy arrays the step-by-step layers with their CUDA kernels; ``TINYALSTM_FUSED=0`` forces the
step-by-step path on the CPU too.

From the authors' code: initial states from the time-mean of the input maps, ``tanh(W * mean_t X + b)``; the head
flattens the hidden map, then fully connected 1024 tanh, dropout 0.7, class scores at every step, softmax
cross-entropy averaged over all steps; prediction = per-step softmax averaged.

Every model returns attention maps (B, T, N, N) with its scores. The ConvLSTM has no attention: it weighs every
position equally, and returns that uniform 1/N^2 map so that downstream code treats all models alike.
"""
import functools
from typing import NamedTuple

import numpy as np

from .. import backend
from ..fused import (Workspace, conv_alstm_fused_backward, conv_alstm_fused_forward, conv_initial_states_fused_backward,
                     conv_initial_states_fused_forward, conv_lstm_fused_backward, conv_lstm_fused_forward,
                     videolstm_fused_backward, videolstm_fused_forward)
from ..layers.conv_alstm import conv_alstm_backward, conv_alstm_forward
from ..layers.conv_lstm import (conv_initial_state_backward, conv_initial_state_forward, conv_lstm_backward,
                                conv_lstm_forward)
from ..layers.motion_attention import videolstm_backward, videolstm_forward
from .base import MAPS, Classifier, HeadCache

GATES = ("Wx", "Wh", "b")                        # the top ConvLSTM
FLOW = ("Wmx", "Wmh", "bm")                      # VideoLSTM's flow ConvLSTM
ATTENTION = ("Wxa", "Wha", "ba", "Wz")           # spatial attention, eq. 7


def odd(name, k):
    """An odd kernel size >= 1 (a "same" convolution needs one), or a ValueError naming ``name``."""
    if int(k) != k or k < 1 or k % 2 == 0:
        raise ValueError(f"{name}: expected an odd kernel size >= 1, got {k!r}")
    return int(k)


class InitialCache(NamedTuple):
    """The initial states' cache with the backward that matches the forward that made it (step by step, or the
    fused CPU path's one GEMM): ``backward(dh0, dc0, saved) -> dX, dW_h0, db_h0, dW_c0, db_c0``."""
    backward: object
    saved: object


def conv_initial_states_backward(dh0, dc0, saved):
    """The step-by-step backward of both initial states (``saved``: their two ``conv_initial_state_forward``
    caches) -> dX, dW_h0, db_h0, dW_c0, db_c0."""
    dX1, dW_h0, db_h0 = conv_initial_state_backward(dh0, saved[0])
    dX2, dW_c0, db_c0 = conv_initial_state_backward(dc0, saved[1])
    return dX1 + dX2, dW_h0, db_h0, dW_c0, db_c0


class ConvModelCache(NamedTuple):
    initial: InitialCache        # of the top layer's h0, c0
    flow_initial: object         # the same for VideoLSTM's flow layer (hm0, cm0); None for the others
    recurrence: object           # the recurrence's cache
    recurrence_backward: object  # the backward that matches the recurrence's forward (step by step or fused)
    state_shape: tuple           # the hidden states' shape (B, T, K, N, N)
    head: HeadCache


class ConvLSTM(Classifier):
    """ConvLSTM baseline (VideoLSTM eqs. 1-6, Table 1): conv gates, no attention.

    channels C and map_size N of the input maps, hidden K channels, gate kernel k (paper: 3), fc_dim of the head
    (paper: 1024), dropout before the scores (paper: 0.7).
    """

    kind = MAPS

    def __init__(self, channels, map_size, hidden, n_classes, kernel=3, fc_dim=1024, dropout=0.7, seed=0,
                 dtype=np.float32):
        k, C, K = odd("kernel", kernel), channels, hidden
        self._setup(C, map_size, K, n_classes, fc_dim, dropout, seed, dtype, self._gate_shapes(C, K, k))

    def _setup(self, C, N, K, n_classes, fc_dim, dropout, seed, dtype, shapes, flow_channels=None):
        """The base's constructor with the sizes every model of this file has: a K x N x N state."""
        N = int(N)
        Classifier.__init__(self, shapes, n_classes, K * N * N, fc_dim, dropout, seed, dtype,
                            {2: int(C), 3: N, 4: N}, flow_channels)
        self._workspace = Workspace()    # the fused CPU path's buffers, kept from one step to the next

    def _recurrence(self, X, plain, fused):
        """(forward, backward) of the recurrence for inputs X: the fused CPU path (with the model's workspace) where
        ``backend.implementation`` says so, the step-by-step layers otherwise; ``plain`` and ``fused`` are such
        pairs."""
        if backend.use_fused(X):
            return functools.partial(fused[0], workspace=self._workspace), fused[1]
        return plain

    @staticmethod
    def _gate_shapes(C, K, k):
        return {"Wx": (4 * K, C, k, k), "Wh": (4 * K, K, k, k), "b": (4 * K,),
                "W_h0": (K, C, k, k), "b_h0": (K,), "W_c0": (K, C, k, k), "b_c0": (K,)}

    INITIAL = ("W_h0", "b_h0", "W_c0", "b_c0")

    def _initial(self, X, names=INITIAL):
        W_h0, b_h0, W_c0, b_c0 = self._weights(names)
        if backend.use_fused(X):
            h0, c0, saved = conv_initial_states_fused_forward(X, W_h0, b_h0, W_c0, b_c0)
            return h0, c0, InitialCache(conv_initial_states_fused_backward, saved)
        h0, h0_cache = conv_initial_state_forward(X, W_h0, b_h0)
        c0, c0_cache = conv_initial_state_forward(X, W_c0, b_c0)
        return h0, c0, InitialCache(conv_initial_states_backward, (h0_cache, c0_cache))

    def _initial_backward(self, dh0, dc0, cache, g, names=INITIAL):
        """-> the input's gradient; the four parameters' gradients go into g under ``names``."""
        dX, *dw = cache.backward(dh0, dc0, cache.saved)
        g.update(zip(names, dw))
        return dX

    def _scores(self, h, mask):
        """The head on each step's flattened hidden map h (B, T, K, N, N)."""
        return self._head_forward(h.reshape(h.shape[:2] + (-1,)), mask)

    def _forward(self, X, M, masks):
        h0, c0, init_cache = self._initial(X)
        forward, backward = self._recurrence(X, (conv_lstm_forward, conv_lstm_backward),
                                             (conv_lstm_fused_forward, conv_lstm_fused_backward))
        h, _, rec_cache = forward(X, h0, c0, *self._weights(GATES))
        scores, head_cache = self._scores(h, masks.head)
        xp = backend.array_module(X)
        B, T, _, N1, N2 = X.shape
        att = xp.full((B, T, N1, N2), 1.0 / (N1 * N2), dtype=X.dtype)
        return scores, att, ConvModelCache(init_cache, None, rec_cache, backward, h.shape, head_cache)

    def _backward(self, dscores, cache, datt=None):
        g = {}
        dh = self._head_backward(dscores, cache.head, g).reshape(cache.state_shape)
        dX, dh0, dc0, *dw = cache.recurrence_backward(dh, cache.recurrence)
        g.update(zip(GATES, dw))
        return g, {"X": dX + self._initial_backward(dh0, dc0, cache.initial, g)}


class ConvALSTM(ConvLSTM):
    """Convolutional ALSTM (VideoLSTM sec. 3.1, eqs. 1-9): spatial attention from H_{t-1} on X_t, conv gates.

    ``att_kernel`` 1 (default: the authors' code uses 1x1 attention projections) or 3 (the paper's convolutions);
    ``att_dim`` the channels of the attention's hidden layer (Ka, default K); ``attention_penalty`` alpha_c of
    Sharma et al.'s penalty (layers/attention_penalty.py; default 0, off); other arguments as ``ConvLSTM``.
    """

    def __init__(self, channels, map_size, hidden, n_classes, kernel=3, att_kernel=1, att_dim=None, fc_dim=1024,
                 dropout=0.7, seed=0, dtype=np.float32, attention_penalty=0.0):
        k, ka, C, K = odd("kernel", kernel), odd("att_kernel", att_kernel), channels, hidden
        Ka = int(att_dim or K)
        shapes = {**self._gate_shapes(C, K, k), "Wxa": (Ka, C, ka, ka), "Wha": (Ka, K, ka, ka), "ba": (Ka,),
                  "Wz": (1, Ka, ka, ka)}
        self._setup(C, map_size, K, n_classes, fc_dim, dropout, seed, dtype, shapes)
        self._set_attention_penalty(attention_penalty)

    def _forward(self, X, M, masks):
        h0, c0, init_cache = self._initial(X)
        forward, backward = self._recurrence(X, (conv_alstm_forward, conv_alstm_backward),
                                             (conv_alstm_fused_forward, conv_alstm_fused_backward))
        h, att, rec_cache = forward(X, h0, c0, *self._weights(GATES + ATTENTION))
        scores, head_cache = self._scores(h, masks.head)
        return scores, att, ConvModelCache(init_cache, None, rec_cache, backward, h.shape, head_cache)

    def _backward(self, dscores, cache, datt=None):
        g = {}
        dh = self._head_backward(dscores, cache.head, g).reshape(cache.state_shape)
        dX, dh0, dc0, *dw = cache.recurrence_backward(dh, cache.recurrence, datt)
        g.update(zip(GATES + ATTENTION, dw))
        return g, {"X": dX + self._initial_backward(dh0, dc0, cache.initial, g)}


class VideoLSTM(ConvLSTM):
    """VideoLSTM (sec. 3.2): motion-based attention. A flow ConvLSTM (eqs. 10-15) over the flow maps M reads the
    top layer's H_{t-1}; its current state H^m_t generates the attention applied to the RGB maps X (eqs. 7-9);
    the top ConvLSTM (eqs. 1-6) classifies. ``flow_channels`` Cm of M, ``flow_hidden`` Km (default: hidden);
    other arguments as ``ConvALSTM``.
    """

    reads_second = True
    FLOW_INITIAL = ("W_hm0", "b_hm0", "W_cm0", "b_cm0")

    def __init__(self, channels, flow_channels, map_size, hidden, n_classes, flow_hidden=None, kernel=3,
                 att_kernel=1, att_dim=None, fc_dim=1024, dropout=0.7, seed=0, dtype=np.float32,
                 attention_penalty=0.0):
        k, ka = odd("kernel", kernel), odd("att_kernel", att_kernel)
        C, Cm, K = channels, int(flow_channels), hidden
        Km, Ka = int(flow_hidden or K), int(att_dim or K)
        shapes = {**self._gate_shapes(C, K, k),
                  "Wmx": (4 * Km, Cm + K, k, k), "Wmh": (4 * Km, Km, k, k), "bm": (4 * Km,),
                  "W_hm0": (Km, Cm, k, k), "b_hm0": (Km,), "W_cm0": (Km, Cm, k, k), "b_cm0": (Km,),
                  "Wxa": (Ka, C, ka, ka), "Wha": (Ka, Km, ka, ka), "ba": (Ka,), "Wz": (1, Ka, ka, ka)}
        self._setup(C, map_size, K, n_classes, fc_dim, dropout, seed, dtype, shapes, flow_channels=Cm)
        self._set_attention_penalty(attention_penalty)

    def _forward(self, X, M, masks):
        h0, c0, init_cache = self._initial(X)
        hm0, cm0, flow_init_cache = self._initial(M, self.FLOW_INITIAL)
        forward, backward = self._recurrence(X, (videolstm_forward, videolstm_backward),
                                             (videolstm_fused_forward, videolstm_fused_backward))
        h, att, rec_cache = forward(X, M, h0, c0, hm0, cm0, *self._weights(GATES + FLOW + ATTENTION))
        scores, head_cache = self._scores(h, masks.head)
        return scores, att, ConvModelCache(init_cache, flow_init_cache, rec_cache, backward, h.shape, head_cache)

    def _backward(self, dscores, cache, datt=None):
        g = {}
        dh = self._head_backward(dscores, cache.head, g).reshape(cache.state_shape)
        dX, dM, dh0, dc0, dhm0, dcm0, *dw = cache.recurrence_backward(dh, cache.recurrence, datt)
        g.update(zip(GATES + FLOW + ATTENTION, dw))
        dM0 = self._initial_backward(dhm0, dcm0, cache.flow_initial, g, self.FLOW_INITIAL)
        return g, {"X": dX + self._initial_backward(dh0, dc0, cache.initial, g), "M": dM + dM0}
