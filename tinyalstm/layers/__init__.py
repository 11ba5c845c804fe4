"""The equations of both papers, one concept per file, each a hand-written ``<op>_forward`` / ``<op>_backward``
pair (CS231n style) that runs on NumPy and on CuPy arrays.

aLSTM (Torabi & Sigal, "Action Classification and Highlighting in Videos", arXiv 1708.09522):

- ``feedforward``         affine, sigmoid, tanh, dropout, softmax, the sigmoid input layer (sec. 4.1), eq. 13 loss
- ``lstm``                the LSTM, eqs. 7-12 (gate order i, f, o, g), and the mean-of-attended-data initial state
- ``temporal_attention``  Bahdanau soft attention over frames, eqs. 3-5
- ``alstm_decoder``       the attention LSTM decoder, eq. 6 with 3-5 and 7-12

VideoLSTM (Li, Gavves, Jain, Snoek, "VideoLSTM Convolves, Attends and Flows for Action Recognition",
arXiv 1607.01794):

- ``conv``                stride-1 "same" convolution (the '*' of eqs. 1-15), ReLU, 2x2 max-pooling
- ``conv_lstm``           the ConvLSTM, eqs. 1-6
- ``spatial_attention``   spatial softmax attention, eqs. 7-9
- ``conv_alstm``          the Convolutional ALSTM recurrence, eqs. 7-9 with 1-6
- ``motion_attention``    the VideoLSTM recurrence with motion-based attention, eqs. 10-15 with 7-9 and 1-6
- ``sharma_alstm``        Sharma et al.'s soft-attention LSTM (VideoLSTM's ALSTM baseline) and its motion variant
- ``unroll``              the one time loop (and its BPTT) the attention recurrences share

The fast paths are beside this package, not in it: ``tinyalstm.fused`` (the CPU's: the three convolutional
recurrences arranged for a CPU's BLAS) and ``kernels/`` (the GPU's), both checked against these layers.
"""
