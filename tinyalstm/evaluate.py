"""Evaluate trained checkpoints with VideoLSTM's protocol, alone or late-fused (VideoLSTM Table 3).

    python -m tinyalstm.evaluate --checkpoint runs/rgb/checkpoint.npz
    python -m tinyalstm.evaluate --checkpoint runs/videolstm/checkpoint.npz --fuse runs/flow/checkpoint.npz
    python -m tinyalstm.evaluate --checkpoint runs/a/checkpoint.npz --fuse runs/b/checkpoint.npz \
        runs/c/checkpoint.npz --weights 1 0.5 0.5 --fusion sum

Protocol: 25 evenly spaced windows of the training window length per test video, softmax summed over the steps of
a window, averaged over windows; top-1 accuracy and mean average precision over classes. ``--fuse`` multiplies
the models' class probabilities per video (each normalised to sum to 1), VideoLSTM's late fusion of an RGB and
a flow model; ``--weights`` raises each to its weight (a weighted geometric mean), or weighs the average with
``--fusion sum``. The data (features and their cache) are rebuilt from the configuration saved in each checkpoint.

``--json FILE`` also writes {"checkpoints": [...], "protocol": ..., "results": {model: {"accuracy", "map"}}}. Its
folder is locked while evaluate runs (as a training run's folder is); FILE is replaced when it holds the results of
the same checkpoints, and refused without --overwrite when it holds anything else; the names of a training run's
own files (result.json, ...) are refused.
"""
import argparse
import math
import sys
from contextlib import nullcontext
from pathlib import Path

from . import backend
from .experiment.evaluation import evaluate_checkpoint, fused_rows, video_metrics
from .run.checkpoints import read_config
from .run.cli import add_scheduler_option
from .run.folder import RUN_FILES, claim_results
from .run.storage import save_json

# the most test windows (evenly spaced) or random chunks per video: beyond a video's frames they only repeat windows
MAX_WINDOWS = 1000


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tinyalstm.evaluate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, required=True, help="checkpoint.npz written by tinyalstm.train")
    ap.add_argument("--root", type=Path, default=None, metavar="DIR",
                    help="the dataset's folder now, when it was moved since training (default: the --root the run was trained with, which must still be there: a trained run's data are never generated again); it must hold the same dataset (the same class list; the built-in benchmark generated with the same options), and the run's caches are reused video by video; applies to every checkpoint given)")
    ap.add_argument("--fuse", type=Path, nargs="+", default=[], metavar="CHECKPOINT",
                    help="more checkpoints to late-fuse with the first (e.g. the flow model; any number, as aLSTM's "
                         "Table 5 fuses aLSTMs of different attended-data)")
    ap.add_argument("--weights", type=float, nargs="+", default=None,
                    help="one weight per fused model, --checkpoint first (default: 1 each)")
    ap.add_argument("--fusion", choices=("product", "sum"), default="product",
                    help="product (VideoLSTM's: a weighted geometric mean) or sum (a weighted average)")
    ap.add_argument("--windows", type=int, default=25, help="evenly spaced test windows per video (default 25)")
    ap.add_argument("--chunks", type=int, default=None,
                    help="aLSTM's protocol: this many random windows per video and their mirrored copies (default: "
                         "the run's own --test-chunks; 0: --windows evenly spaced windows)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: TINYALSTM_DEVICE or auto")
    ap.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file (see above)")
    ap.add_argument("--overwrite", action="store_true",
                    help="with --json: replace the file when it holds other results (without it they are refused)")
    add_scheduler_option(ap)
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    if not 1 <= args.windows <= MAX_WINDOWS:
        ap.error(f"--windows: expected an integer 1..{MAX_WINDOWS}, got {args.windows}")
    if args.chunks is not None and not 0 <= args.chunks <= MAX_WINDOWS:
        ap.error(f"--chunks: expected an integer 0..{MAX_WINDOWS} (0: evenly spaced windows), got {args.chunks}")
    if args.weights is not None and (len(args.weights) != 1 + len(args.fuse)
                                     or not all(math.isfinite(w) and w >= 0 for w in args.weights)
                                     or not 0 < sum(args.weights) < math.inf):
        ap.error(f"--weights: expected {1 + len(args.fuse)} finite non-negative numbers (--checkpoint, then each "
                 f"--fuse), not all zero, got {' '.join(map(str, args.weights))}")
    if args.json is not None and (args.json.is_dir() or args.json.name in RUN_FILES):
        ap.error(f"--json {args.json}: " + ("a folder; give a file name" if args.json.is_dir() else
                                            f"{args.json.name} is a training run's own file; give another name"))
    if args.root is not None and not args.root.is_dir():
        ap.error(f"--root {args.root}: not a folder")
    if args.overwrite and args.json is None:
        ap.error("--overwrite: only with --json (the file it may replace)")
    if args.device:
        backend.set_device(args.device)
    paths = [args.checkpoint, *args.fuse]
    for p in paths:                         # a missing or damaged checkpoint is named before any work
        read_config(p)
    origin = [str(p.resolve()) for p in paths]
    claimed = (nullcontext() if args.json is None else
               claim_results(args.json.parent, args.json.name, "checkpoints", origin, overwrite=args.overwrite,
                             what="--json", home=args.json.parent,
                             log=lambda msg: print(msg, file=sys.stderr, flush=True)))
    with claimed:
        return _evaluate(args, paths, origin)


def _evaluate(args, paths, origin):
    evaluated = [evaluate_checkpoint(p, args.windows, chunks=args.chunks, root=args.root, scheduler=args.scheduler)
                 for p in paths]
    rows = fused_rows(evaluated, args.weights, args.fusion)
    labels = evaluated[0][1]
    result = {}
    chunks = args.chunks if args.chunks is not None else evaluated[0][3].get("test_chunks", 0)
    protocol = f"{chunks} random chunks + mirrored copies" if chunks else f"{args.windows} windows"
    print(f"{'model':40s} {'accuracy':>9s} {'mAP':>7s}   ({len(labels)} test videos, {protocol})")
    for name, (scores, y) in rows.items():
        figures = video_metrics(scores, y)          # multi-label data: mAP only (no top-1 accuracy)
        result[name] = {("accuracy" if k == "acc" else k): v for k, v in figures.items() if k != "loss"}
        acc = f"{figures['acc']:9.3f}" if "acc" in figures else f"{'-':>9s}"
        print(f"{name:40s} {acc} {figures['map']:7.3f}")
    if args.json:
        save_json(args.json, {"checkpoints": origin, "protocol": protocol, "fusion": args.fusion,
                              "weights": args.weights, "results": result})
    return result


if __name__ == "__main__":
    from .run.cli import run
    run(main)
