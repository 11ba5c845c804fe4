"""The CPU's fast path: the three convolutional recurrences of VideoLSTM (arXiv 1607.01794), the ConvLSTM (eqs. 1-6),
the ConvALSTM (sec. 3.1, eqs. 7-9 with 1-6) and VideoLSTM's motion-based attention (sec. 3.2, eqs. 10-15 with 7-9 and
1-6), and the initial states, each a forward/backward pair with the signature, the results and the gradient order of
its step-by-step form (layers/conv_lstm.py, layers/conv_alstm.py, layers/motion_attention.py), which stays the
readable statement of the equations. The models use this path on NumPy arrays; CuPy arrays take the step-by-step path
and its CUDA kernels; ``backend.implementation`` decides (``TINYALSTM_FUSED=0`` switches this path off, to compare
the two or to measure what it buys).

The same equations, arranged for a CPU's BLAS:

- Channel-major maps. A map is (C, L), L = B*H*W positions of a step (batch, row, column), so a convolution's
  GEMM (K, C k k) x (C k k, L) reads and writes the layout the next step uses: no transpose between
  (B, K, H, W) and (K, B, H, W) inside the recurrence. Inputs and results are transposed once per sequence.
- One GEMM per layer and step. The convolutions of a step that add up, W_x* X~_t + W_h* H_{t-1} (eqs. 1-4) and
  W^m_e* H_{t-1} + W^m_h* H^m_{t-1} (eqs. 10-13), are one product of the side-by-side kernels [W_x | W_h] with
  the stacked columns [cols(X~_t); cols(H_{t-1})]. VideoLSTM's column buffer stacks [X~_t; H_{t-1}; H^m_{t-1}],
  so H_{t-1}'s columns are built once and read by both layers.
- Hoisting. Convolutions of the inputs alone (the ConvLSTM's W_x* X_t, the flow layer's W^m_x* M_t, the
  attention's W_xa* X_t) run once over all T steps as one GEMM of T*L columns before the loop; after the loop,
  every weight gradient is one GEMM over all T*L columns, and so are the input gradients of those convolutions.
  Only the recurrent products and their input gradients stay in the loop.
- im2col / col2im and the cell's backward are Numba loops (loops.py); the forward gate math runs as in-place
  NumPy passes on contiguous (4K, L) blocks (NumPy's tanh is vectorised, Numba's is not), with
  sigma(x) = (1 + tanh(x / 2)) / 2 so that one tanh pass serves all four gates.
- Buffers. A model passes a ``Workspace``: the ~100 MB of per-sequence buffers are then kept from one training
  step to the next instead of being handed back to the OS and faulted in again (a tenth of a step's time). A
  cache is valid until the next forward pass with the same workspace; its backward checks that.

Layouts of what a sequence keeps: per-step arrays (T, rows, L) (states (T + 1, K, L), index 0 the initial state);
what the weight gradients contract over all steps at once (rows, T, L) (columns, gate gradients).

All gate kernels (W_x, W_h, and the flow layer's W^m_x, W^m_h) must have one size kh x kw; the attention kernels
(W_xa, W_ha) and the score kernel (W_z) take their own sizes. Shapes as in the step-by-step modules: X
(B, T, C, N, N), M (B, T, Cm, N, N), states (B, K, N, N) and (B, Km, N, N); Wx (4K, C, k, k), Wh (4K, K, k, k),
b (4K,); Wmx (4Km, Cm + K, k, k) (W^m_x then W^m_e), Wmh (4Km, Km, k, k), bm (4Km,); Wxa (Ka, C, ka, ka),
Wha (Ka, K or Km, ka, ka), ba (Ka,), Wz (1, Ka, kz, kz).

It is to the CPU what ``kernels/`` is to the GPU: not a statement of the equations but the same function arranged
for the machine, checked against the readable layers in tests/fused/test_fused.py (float64, to 1e-12) and
through the models in tests/models/test_videolstm_models.py. Modules: ``layout`` (channel-major maps, the
workspace, column buffers, the GEMM), ``attention`` (eqs. 7-9 per step), ``recurrences`` (the three recurrences
and the initial states), ``loops`` (the Numba loops).
"""
from .layout import Workspace
from .recurrences import (conv_alstm_fused_backward, conv_alstm_fused_forward, conv_initial_states_fused_backward,
                          conv_initial_states_fused_forward, conv_lstm_fused_backward, conv_lstm_fused_forward,
                          videolstm_fused_backward, videolstm_fused_forward)

__all__ = ["Workspace", "conv_alstm_fused_backward", "conv_alstm_fused_forward", "conv_initial_states_fused_backward",
           "conv_initial_states_fused_forward", "conv_lstm_fused_backward", "conv_lstm_fused_forward",
           "videolstm_fused_backward", "videolstm_fused_forward"]
