"""A run from its configuration to its results, in the order it happens.

- ``parts``        the configuration -> data, model, window reader and optimiser (``run_data``,
                   ``build_run_model``, ``run_reader``, ``build_optimizer``); ``load_run`` for a saved checkpoint
- ``evaluation``   the test protocol: windows per video, scores averaged (VideoLSTM sec. 5.2; aLSTM sec. 4),
                   accuracy or mAP, late fusion of two runs
- ``localization`` where a trained model's attention goes, against ground-truth tubes (VideoLSTM sec. 5.4, eqs.
                   16-17; aLSTM's temporal attention against the action interval), and its pictures
- ``training``     the training loop and a whole run: validation per epoch, early stopping, checkpoints, result.json
- ``comparisons``  the comparison runs of ``python -m tinyalstm.experiments`` and their tables

Imports run one way: parts -> evaluation -> localization -> training -> comparisons.
"""
