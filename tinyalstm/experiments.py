"""The small-scale reproduction of both papers' comparisons on the synthetic benchmark, over several seeds.

    python -m tinyalstm.experiments                       # seeds 0 1 2, 2 runs at a time, runs/experiments
    python -m tinyalstm.experiments --seeds 0 1 2 3 4 --jobs 1 --out runs/exp5

Every run is one ``python -m tinyalstm.train`` process with its own ``--out`` (<out>/seed<S>/<run>), so the script
is resumable: a run whose result.json exists is not redone, an interrupted one continues with ``--resume``; a
run folder made with other options (recorded in its options.json) is refused rather than mixed into the tables. The
frame encoders and feature caches of a seed are built once, by its two ConvNet runs, before the other runs of that
seed start. At the end it writes results.json (every run's accuracy and mAP) and results.md, the tables:

- VideoLSTM Table 1: ConvNet, LSTM, ALSTM (Sharma's soft attention), ConvLSTM, ConvALSTM on RGB and on flow maps;
- VideoLSTM Table 2: appearance-based attention (ALSTM / ConvALSTM, attention from the model's own hidden state) vs
  motion-based attention (alstm-motion / VideoLSTM, attention from a flow LSTM / ConvLSTM), all reading RGB maps;
- VideoLSTM Table 3: late fusion by product of the RGB VideoLSTM with the flow ConvALSTM (and, for comparison,
  of the RGB with the flow ConvALSTM);
- aLSTM Tables 1/4: vanilla LSTM on the input-data (pooled flow maps per frame) vs aLSTM (a) (attention at every
  step over pooled RGB maps per frame) vs aLSTM (b) (attention only into the last step).

Each cell is mean +- sample standard deviation over the seeds (a seed changes the frame encoders, the weights, the
windows and dropout; the videos and the split stay the same) of the test accuracy with 25 windows per video.

The options after -- are checked by the train command's parser for every run before anything starts. Ctrl-C or
SIGTERM stops the experiment within seconds: the running training processes get the signal (each keeps its last
checkpoint), no further run starts, and the exit status is 130 / 143; rerunning the same command continues.
"""
import argparse
import contextlib
import io
import os
import sys
from pathlib import Path

from . import train
from .experiment.comparisons import RUNS, run_experiments

# train's options that every run gets from this command, not from the options after --
OWN_OPTIONS = ("--root", "--model", "--modality", "--seed", "--epochs", "--out", "--resume", "--overwrite")


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="python -m tinyalstm.experiments", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=None,
                    help="synthetic benchmark folder (default: the built-in one, generated once)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default 0 1 2)")
    ap.add_argument("--epochs", type=int, default=15, help="epochs of every recurrent run (default 15)")
    ap.add_argument("--jobs", type=int, default=2, help="training runs at a time (default 2)")
    ap.add_argument("--runs", nargs="+", choices=tuple(RUNS), default=list(RUNS), metavar="RUN",
                    help=f"a subset of the runs (default all; a fusion needs both its runs): {', '.join(RUNS)}")
    ap.add_argument("--out", type=Path, default=Path("runs/experiments"), help="output folder")
    ap.add_argument("train_args", nargs=argparse.REMAINDER,
                    help="after --, options passed to every tinyalstm.train run (e.g. -- --frames 8 --size 32)")
    args = ap.parse_args(argv)
    if args.epochs < 1 or args.jobs < 1:
        ap.error("--epochs and --jobs: expected positive integers")
    if len(set(args.seeds)) != len(args.seeds):
        ap.error(f"--seeds: repeated seed in {args.seeds}")
    if min(args.seeds) < 0:
        ap.error(f"--seeds: expected non-negative integers, got {' '.join(map(str, args.seeds))}")
    args.train_args = [a for a in args.train_args if a != "--"]
    own = [a for a in args.train_args if a.split("=")[0] in OWN_OPTIONS]
    if own:
        ap.error(f"after --: {', '.join(own)} is set by this command for every run (use its own options)")
    for name in args.runs:                  # train's own checks, before anything starts
        model, modality = RUNS[name]
        problem = _train_refuses(["--model", model, "--modality", modality, "--epochs", str(args.epochs),
                                  *args.train_args])
        if problem:
            ap.error(f"after -- (run {name}): {problem}")
    if args.root is not None and args.root.exists() and not args.root.is_dir():
        ap.error(f"--root {args.root}: not a folder")
    args.threads = max(1, (os.cpu_count() or 1) // args.jobs)
    return args


def _train_refuses(argv):
    """train's parser on ``argv`` -> its error message (None when it accepts them)."""
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            train.parse_args(argv)
    except SystemExit:
        lines = [ln for ln in said.getvalue().splitlines() if ln.strip()]
        return lines[-1].split("error: ", 1)[-1] if lines else "refused by python -m tinyalstm.train"
    return None


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return run_experiments(args, log=lambda msg: print(msg, flush=True))


if __name__ == "__main__":
    from .run.cli import run
    run(main)
