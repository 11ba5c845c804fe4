"""Numba CUDA kernels (installed as ``tinyalstm.kernels``), one file per kernel family, each checked against
``tinyalstm.reference`` and the library's NumPy backward under the CUDA simulator in CI
(tests/kernels/test_kernels_cudasim.py) and on a real GPU when one is present.

- ``conv2d``: the stride-1 "same" gate convolution (VideoLSTM's '*' in eqs. 1-15): forward with the bias in the
  epilogue, input gradient (the same kernel on flipped weights) and weight gradient, as implicit GEMM.
- ``lstm_pointwise``: the fused LSTM/ConvLSTM gate pointwise math (aLSTM eqs. 7-12 / VideoLSTM eqs. 1-6),
  forward and backward.
- ``spatial_softmax``: VideoLSTM eqs. 8-9, the softmax over the N x N positions and ``A . X``, forward and
  backward.
- ``launch``: what every launcher shares (the array module and CuPy's current stream).

The layers (``tinyalstm.layers.conv``, ``.lstm``, ``.spatial_attention``) call these on CuPy arrays. Not imported
by ``import tinyalstm``: importing numba.cuda is only needed on the GPU path or in the simulator.
"""
