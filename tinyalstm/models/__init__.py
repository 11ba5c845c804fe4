"""The models of both papers on one classifier base (base.py), and the one registry of their names
(registry.py).

- ``alstm``: aLSTM (Torabi & Sigal, arXiv 1708.09522): ``LSTM``, ``aLSTM`` (fig. 4a), ``aLSTMb`` (fig. 4b)
- ``videolstm``: VideoLSTM (Li et al., arXiv 1607.01794): ``ConvLSTM``, ``ConvALSTM``, ``VideoLSTM``
- ``sharma_alstm``: VideoLSTM's ALSTM baselines after Sharma et al.: ``ALSTM``, ``MotionALSTM``
- ``frame_encoder``: the frame convnet whose maps the recurrent models read (VideoLSTM's "ConvNet" baseline)
"""
from .alstm import LSTM, aLSTM, aLSTMb
from .base import Classifier
from .frame_encoder import FrameEncoder
from .registry import CONVNET, CONVNET_SUMMARY, MODEL_CHOICES, MODELS, ModelSpec, build_model, model_spec
from .sharma_alstm import ALSTM, MotionALSTM
from .videolstm import ConvALSTM, ConvLSTM, VideoLSTM

__all__ = ["ALSTM", "CONVNET", "CONVNET_SUMMARY", "Classifier", "ConvALSTM", "ConvLSTM", "FrameEncoder", "LSTM",
           "MODEL_CHOICES", "MODELS", "ModelSpec", "MotionALSTM", "VideoLSTM", "aLSTM", "aLSTMb", "build_model",
           "model_spec"]
