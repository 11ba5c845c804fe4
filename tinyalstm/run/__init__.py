"""What keeps a run safe and readable, shared by every command: nothing here knows a model or a dataset.

- ``cli``          the commands' one ``run(main)``: messages for user errors (no tracebacks), exit codes
- ``storage``      atomic writes with a free-space check (JSON, text, .npy, .npz, pictures): a crash leaves the
                   old file or the new one, never half of one
- ``progress``     progress bars with rate and ETA on a terminal, ETA lines in a log
- ``folder``       run folders: a lock per run, never overwritten silently
- ``checkpoints``  a run's checkpoint: parameters, optimiser state, configuration; resume and ``--init-from``
"""
