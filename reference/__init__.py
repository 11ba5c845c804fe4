"""Plain NumPy float64 forward references written from the equations.

Every function here is a slow, loop-based, float64 forward pass written
directly from the equations of Torabi & Sigal, "aLSTM" (arXiv 1708.09522),
independently of the library; the library and kernels are checked against
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
    initial_state,
)
from .models import (
    lstm_model_loss,
    alstm_model_loss,
    alstm_b_model_loss,
)

__all__ = [
    'affine', 'sigmoid', 'tanh', 'lstm_step', 'lstm', 'temporal_attention',
    'alstm_step', 'sigmoid_input_layer', 'dropout', 'softmax',
    'stepwise_cross_entropy', 'initial_state',
    'lstm_model_loss', 'alstm_model_loss', 'alstm_b_model_loss',
]
