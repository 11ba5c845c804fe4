"""The benchmarks behind ``python -m tinyalstm.bench``, ``python -m tinyalstm.bench_data`` and ``python -m
tinyalstm.perf.kernels``: what they time and count, and the peers they compare against (PyTorch, cuBLAS, CuPy;
never dependencies of the library).

- ``training_step``   one training step of ConvLSTM, ConvALSTM and VideoLSTM: FLOP count, timing, peer check
- ``torch_peer``      the same three models written with torch.nn.functional and autograd
- ``data_pipeline``   decoding, optical flow and feature-extraction throughput and memory
- ``kernels``         the CUDA kernels compiled for sm_80/sm_90 and read from their SASS (registers, spills,
                      occupancy, FFMA share of the main loop, FP64, divisions), bytes moved per element, launches
                      per training step; on a GPU each kernel timed against cuBLAS SGEMM or CuPy
"""
