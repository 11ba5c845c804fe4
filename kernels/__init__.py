"""Numba CUDA kernels (installed as ``tinyalstm.kernels``), one file per kernel family, each checked against
``tinyalstm.reference`` and the library's NumPy backward under the CUDA simulator in CI
(tests/kernels/test_kernels_cudasim.py), compiled for sm_80 and sm_90 and read from its SASS in CI
(tests/kernels/test_kernels_compile.py, ``python -m tinyalstm.perf.kernels``), and run on a real GPU when one is
present.

- ``conv2d``: the stride-1 "same" gate convolution (VideoLSTM's '*' in eqs. 1-15): one implicit-GEMM kernel,
  driven by precomputed offset tables, for the forward (bias in the epilogue), the input gradient and the weight
  gradient.
- ``lstm_pointwise``: the fused LSTM/ConvLSTM gate pointwise math (aLSTM eqs. 7-12 / VideoLSTM eqs. 1-6),
  forward and backward.
- ``spatial_softmax``: VideoLSTM eqs. 8-9, the softmax over the N x N positions and ``A . X``, forward and
  backward.
- ``launch``: how a kernel is declared (``Kernel``: a function per dtype and its argument kinds), compiled once
  per dtype for its signature and launched on CuPy's current stream; launch and memory-traffic counters.

The layers (``tinyalstm.layers.conv``, ``.lstm``, ``.spatial_attention``) call these on CuPy arrays. Not imported
by ``import tinyalstm``: importing numba.cuda is only needed on the GPU path, in the simulator and in the report.
"""
