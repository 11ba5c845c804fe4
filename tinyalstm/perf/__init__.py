"""The benchmarks behind ``python -m tinyalstm.bench`` and ``python -m tinyalstm.bench_data``: what they time and
count, and the PyTorch peer they compare against (never a dependency of the library).

- ``training_step``   one training step of ConvLSTM, ConvALSTM and VideoLSTM: FLOP count, timing, peer check
- ``torch_peer``      the same three models written with torch.nn.functional and autograd
- ``data_pipeline``   decoding, optical flow and feature-extraction throughput and memory
"""
