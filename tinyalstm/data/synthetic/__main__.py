"""``python -m tinyalstm.data.synthetic``: the single-label benchmark's command (``single.main``; ``--help``)."""
from ...run.cli import run
from .single import main

if __name__ == "__main__":
    run(main)
