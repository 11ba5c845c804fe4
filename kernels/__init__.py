"""Numba CUDA kernels (installed as ``tinyalstm.kernels``): recurrent convolutions, fused gate pointwise math and
spatial softmax for the VideoLSTM models. Empty until the convolution issue lands; nothing here is imported by
the aLSTM core, which runs on NumPy or CuPy alone."""
