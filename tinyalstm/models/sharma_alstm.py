"""Sharma et al.'s soft-attention LSTM, the "ALSTM" baseline of VideoLSTM (Li et al., arXiv 1607.01794, Table 1),
and its motion-based-attention variant (Table 2, ALSTM row).

Inputs as the convolutional models' (videolstm.py): feature maps X (B, T, C, N, N), read as N*N location vectors,
and for MotionALSTM flow maps M (B, T, Cm, N, N). The head is VideoLSTM's (FC tanh, dropout, scores at every step).
"""
from typing import NamedTuple

import numpy as np

from .. import backend
from ..layers.lstm import initial_state_backward, initial_state_forward
from ..layers.sharma_alstm import (motion_soft_attention_lstm_backward, motion_soft_attention_lstm_forward,
                                   soft_attention_lstm_backward, soft_attention_lstm_forward)
from .base import MAPS, Classifier, HeadCache

TOP = ("Wk", "Wh", "b")                         # the top LSTM: context, state, bias
FLOW = ("Wmx", "Wmh", "bm")                     # MotionALSTM's flow LSTM
ATTENTION = ("Wah", "Waa", "ba", "u")           # Bahdanau attention over the locations
INITIAL = ("W_h0", "b_h0", "W_c0", "b_c0")
FLOW_INITIAL = ("W_hm0", "b_hm0", "W_cm0", "b_cm0")


class LocationsCache(NamedTuple):
    x_shape: tuple               # X.shape (B, T, C, N, N)
    initial: object              # layers.lstm.InitialStateCache


class SharmaCache(NamedTuple):
    locations: LocationsCache
    flow_initial: object         # InitialStateCache of the flow LSTM (None for ALSTM)
    flow_shape: tuple            # M.shape (None for ALSTM)
    recurrence: object
    head: HeadCache


def _flat(datt):
    """The gradient of the maps (B, T, N, N) the model returns -> that of the weights (B, T, L) the layer made."""
    return None if datt is None else datt.reshape(datt.shape[:2] + (-1,))


class ALSTM(Classifier):
    """Sharma et al.'s soft-attention LSTM: attention over the N*N locations from h_{t-1}, context = weighted sum,
    fully connected gates; initial state tanh(mean_{t,l} x W + b). ``hidden`` H, ``att_dim`` M the attention's
    hidden size (default H), ``fc_dim`` and ``dropout`` of the head (paper: 1024, 0.7), ``attention_penalty``
    alpha_c of the penalty in Sharma et al.'s code (layers/attention_penalty.py; default 0, off)."""

    kind = MAPS

    def __init__(self, channels, map_size, hidden, n_classes, att_dim=None, fc_dim=1024, dropout=0.7, seed=0,
                 dtype=np.float32, attention_penalty=0.0):
        C, H, Ma = channels, hidden, int(att_dim or hidden)
        shapes = {"Wk": (C, 4 * H), "Wh": (H, 4 * H), "b": (4 * H,), "Wah": (H, Ma), "Waa": (C, Ma), "ba": (Ma,),
                  "u": (Ma,), "W_h0": (C, H), "b_h0": (H,), "W_c0": (C, H), "b_c0": (H,)}
        self._setup(C, map_size, H, n_classes, fc_dim, dropout, seed, dtype, shapes)
        self._set_attention_penalty(attention_penalty)

    def _setup(self, C, N, H, n_classes, fc_dim, dropout, seed, dtype, shapes, flow_channels=None):
        N = int(N)
        Classifier.__init__(self, shapes, n_classes, H, fc_dim, dropout, seed, dtype, {2: int(C), 3: N, 4: N},
                            flow_channels)

    def _locations(self, X):
        """X (B, T, C, N, N) -> location vectors (B, T, L, C), the top LSTM's initial h0, c0 (B, H), cache.
        The initial state is aLSTM's (mean of the attended vectors), here over all T*L location vectors."""
        B, T, C, N1, N2 = X.shape
        loc = X.reshape(B, T, C, N1 * N2).transpose(0, 1, 3, 2)
        h0, c0, init_cache = initial_state_forward(loc.reshape(B, -1, C), *self._weights(INITIAL))
        return loc, h0, c0, LocationsCache(X.shape, init_cache)

    def _locations_backward(self, dloc, dh0, dc0, cache, g):
        """dloc (B, T, L, C), dh0, dc0 (B, H) -> dX (B, T, C, N, N); the initial state's gradients go into g."""
        dloc_init, *dw = initial_state_backward(dh0, dc0, cache.initial)
        g.update(zip(INITIAL, dw))
        return (dloc + dloc_init.reshape(dloc.shape)).transpose(0, 1, 3, 2).reshape(cache.x_shape)

    def _forward(self, X, M, masks):
        loc, h0, c0, loc_cache = self._locations(X)
        h, w, rec_cache = soft_attention_lstm_forward(loc, h0, c0, *self._weights(TOP + ATTENTION))
        scores, head_cache = self._head_forward(h, masks.head)
        return (scores, w.reshape(X.shape[:2] + X.shape[3:]),
                SharmaCache(loc_cache, None, None, rec_cache, head_cache))

    def _backward(self, dscores, cache, datt=None):
        g = {}
        dh = self._head_backward(dscores, cache.head, g)
        dloc, dh0, dc0, *dw = soft_attention_lstm_backward(dh, cache.recurrence, _flat(datt))
        g.update(zip(TOP + ATTENTION, dw))
        return g, {"X": self._locations_backward(dloc, dh0, dc0, cache.locations, g)}


class MotionALSTM(ALSTM):
    """Sharma's ALSTM with motion-based attention (VideoLSTM Table 2, ALSTM row): the fully connected analogue of
    VideoLSTM (sec. 3.2). The flow maps M are mean-pooled over space to m_t (B, Cm); a flow LSTM (hidden Hm,
    vector analogue of eqs. 10-15) reads [m_t; h_{t-1}] and its current state hm_t drives the attention over the
    N*N locations of X_t (eqs. 7-9 analogue); the top LSTM steps on the context. Initial states: top as ALSTM,
    flow tanh(mean_t m_t W + b). ``flow_channels`` Cm of M, ``flow_hidden`` Hm (default: hidden), ``att_dim`` M
    (default: hidden). Input API as VideoLSTM's: X (B, T, C, N, N), M (B, T, Cm, N, N).
    """

    reads_second = True

    def __init__(self, channels, flow_channels, map_size, hidden, n_classes, flow_hidden=None, att_dim=None,
                 fc_dim=1024, dropout=0.7, seed=0, dtype=np.float32, attention_penalty=0.0):
        C, Cm, H = channels, int(flow_channels), hidden
        Hm, Ma = int(flow_hidden or H), int(att_dim or H)
        shapes = {"Wk": (C, 4 * H), "Wh": (H, 4 * H), "b": (4 * H,),
                  "Wmx": (Cm + H, 4 * Hm), "Wmh": (Hm, 4 * Hm), "bm": (4 * Hm,),
                  "Wah": (Hm, Ma), "Waa": (C, Ma), "ba": (Ma,), "u": (Ma,),
                  "W_h0": (C, H), "b_h0": (H,), "W_c0": (C, H), "b_c0": (H,),
                  "W_hm0": (Cm, Hm), "b_hm0": (Hm,), "W_cm0": (Cm, Hm), "b_cm0": (Hm,)}
        self._setup(C, map_size, H, n_classes, fc_dim, dropout, seed, dtype, shapes, flow_channels=Cm)
        self._set_attention_penalty(attention_penalty)

    def _forward(self, X, M, masks):
        loc, h0, c0, loc_cache = self._locations(X)
        m = M.mean(axis=(3, 4))                                          # (B, T, Cm) pooled flow vectors
        hm0, cm0, flow_init_cache = initial_state_forward(m, *self._weights(FLOW_INITIAL))
        h, w, rec_cache = motion_soft_attention_lstm_forward(loc, m, h0, c0, hm0, cm0,
                                                             *self._weights(TOP + FLOW + ATTENTION))
        scores, head_cache = self._head_forward(h, masks.head)
        return (scores, w.reshape(X.shape[:2] + X.shape[3:]),
                SharmaCache(loc_cache, flow_init_cache, M.shape, rec_cache, head_cache))

    def _backward(self, dscores, cache, datt=None):
        g = {}
        dh = self._head_backward(dscores, cache.head, g)
        dloc, dm, dh0, dc0, dhm0, dcm0, *dw = motion_soft_attention_lstm_backward(dh, cache.recurrence, _flat(datt))
        g.update(zip(TOP + FLOW + ATTENTION, dw))
        dm_init, *dw = initial_state_backward(dhm0, dcm0, cache.flow_initial)
        g.update(zip(FLOW_INITIAL, dw))
        B, T, Cm, N1, N2 = cache.flow_shape
        dm = (dm + dm_init) / (N1 * N2)                                  # backward of the spatial mean
        dM = backend.array_module(dm).broadcast_to(dm[:, :, :, None, None], cache.flow_shape).copy()
        return g, {"X": self._locations_backward(dloc, dh0, dc0, cache.locations, g), "M": dM}
