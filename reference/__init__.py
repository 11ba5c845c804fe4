"""Plain NumPy float64 forward references written from the equations.

Every function here is a slow, loop-based, float64 forward pass written
directly from the equations of Torabi & Sigal, "aLSTM" (arXiv 1708.09522)
(ops.py, models.py) and from the definition of a stride-1 "same" convolution
and 2x2 max-pooling (conv.py), independently of the library; the library and kernels are checked against
them. No classes, no global state, forward passes only. Installed as
tinyalstm.reference.
"""
from .ops import (
    affine,
    sigmoid,
    tanh,
    lstm_step,
    lstm,
    temporal_attention,
    alstm_step,
    sigmoid_input_layer,
    dropout,
    softmax,
    stepwise_cross_entropy,
    stepwise_sigmoid_cross_entropy,
    initial_state,
)
from .models import (
    lstm_model_loss,
    alstm_model_loss,
    alstm_b_model_loss,
)
from .conv import (
    conv2d,
    relu,
    maxpool2x2,
    conv_lstm_step,
    conv_lstm,
    spatial_attention,
    motion_conv_lstm_step,
)

__all__ = [
    'affine', 'sigmoid', 'tanh', 'lstm_step', 'lstm', 'temporal_attention',
    'alstm_step', 'sigmoid_input_layer', 'dropout', 'softmax',
    'stepwise_cross_entropy', 'stepwise_sigmoid_cross_entropy', 'initial_state',
    'lstm_model_loss', 'alstm_model_loss', 'alstm_b_model_loss',
    'conv2d', 'relu', 'maxpool2x2', 'conv_lstm_step', 'conv_lstm',
    'spatial_attention', 'motion_conv_lstm_step',
]
