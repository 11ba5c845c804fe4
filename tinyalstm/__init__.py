"""tinyalstm: attention LSTMs for video action recognition, with hand-written forward and backward passes.

Papers: Torabi & Sigal, "Action Classification and Highlighting in Videos" (aLSTM) and Li et al., "VideoLSTM
Convolves, Attends and Flows for Action Recognition". See README.md for the equation index.
"""
from .backend import get_device, set_device
from .models import LSTM, aLSTM

__all__ = ["LSTM", "aLSTM", "get_device", "set_device"]
__version__ = "0.1.0"
