"""The benchmarks behind ``python -m tinyalstm.bench``, ``python -m tinyalstm.bench_data`` and ``python -m
tinyalstm.perf.kernels``: what they time and count, and the peers they compare against (PyTorch, cuBLAS, CuPy;
never dependencies of the library).

- ``training_step``   one training step of ConvLSTM, ConvALSTM and VideoLSTM, ours, the peer's and the GEMM
                      ceiling's, timed and counted: the driver, ``run_benchmark``
- ``steps``           its models, sizes and the steps it times (ours, the PyTorch peer's, the step's GEMMs alone)
- ``flops``           the step's FLOPs, from the GEMM of every convolution and head product
- ``timing``          the one timing loop (interleaved medians), device synchronisation, device selection
- ``peer_check``      the PyTorch peer imported for a fair comparison and checked to compute our function
- ``table``           the report: header, table, closing line
- ``torch_peer``      the same three models written with torch.nn.functional and autograd
- ``data_pipeline``   decoding, optical flow and feature-extraction throughput and memory
- ``kernels``         the CUDA kernels compiled for sm_80/sm_90 and read from their SASS (registers, spills,
                      occupancy, FFMA share of the main loop, FP64, divisions), bytes moved per element, launches
                      per training step; on a GPU each kernel timed against cuBLAS SGEMM or CuPy
"""
