"""tinyalstm: attention LSTMs for video action recognition, with hand-written forward and backward passes.

Papers: Torabi & Sigal, "Action Classification and Highlighting in Videos" (aLSTM, arXiv 1708.09522) and Li,
Gavves, Jain, Snoek, "VideoLSTM Convolves, Attends and Flows for Action Recognition" (arXiv 1607.01794). The
equations are in ``tinyalstm.layers``, the models in ``tinyalstm.models``, the data in ``tinyalstm.data``; see
README.md for the equation index.
"""
from .backend import get_device, set_device
from .models import (ALSTM, LSTM, MODELS, ConvALSTM, ConvLSTM, MotionALSTM, VideoLSTM, aLSTM, aLSTMb,
                     build_model)

__all__ = ["ALSTM", "LSTM", "MODELS", "ConvALSTM", "ConvLSTM", "MotionALSTM", "VideoLSTM", "aLSTM", "aLSTMb",
           "build_model", "get_device", "set_device"]
__version__ = "0.1.0"
