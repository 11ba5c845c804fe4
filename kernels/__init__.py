"""Numba CUDA kernels (installed as ``tinyalstm.kernels``), one file per kernel family, each checked against
``tinyalstm.reference`` under the CUDA simulator in CI (tests/test_kernels_cudasim.py) and on a real GPU when
one is present.

- ``lstm_pointwise``: the fused LSTM/ConvLSTM gate pointwise math (eqs. 7-12 / 1-6), forward and backward.

Not imported by ``import tinyalstm``: importing numba.cuda is only needed on the GPU path or in the simulator.
"""
