"""Evaluate trained checkpoints with VideoLSTM's protocol, alone or late-fused (VideoLSTM Table 3).

    python -m tinyalstm.evaluate --checkpoint runs/rgb/checkpoint.npz
    python -m tinyalstm.evaluate --checkpoint runs/videolstm/checkpoint.npz --fuse runs/flow/checkpoint.npz

Protocol: 25 evenly spaced windows of the training window length per test video, softmax summed over the steps of
a window, averaged over windows; top-1 accuracy and mean average precision over classes. ``--fuse`` multiplies
the two models' class probabilities per video (each normalised to sum to 1), VideoLSTM's late fusion of an RGB and
a flow model. The data (features and their cache) are rebuilt from the configuration saved in each checkpoint.
"""
import argparse
import sys
from pathlib import Path

from . import backend
from .evaluation import evaluate_checkpoint, fused_rows
from .metrics import accuracy, mean_average_precision
from .storage import save_json


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tinyalstm.evaluate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, required=True, help="checkpoint.npz written by tinyalstm.train")
    ap.add_argument("--fuse", type=Path, default=None, help="a second checkpoint (e.g. the flow model) to fuse")
    ap.add_argument("--windows", type=int, default=25, help="evenly spaced test windows per video (default 25)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: TINYALSTM_DEVICE or auto")
    ap.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    if args.windows < 1:
        ap.error(f"--windows: expected a positive integer, got {args.windows}")
    if args.device:
        backend.set_device(args.device)
    first = evaluate_checkpoint(args.checkpoint, args.windows)
    rows = fused_rows(first, None if args.fuse is None else evaluate_checkpoint(args.fuse, args.windows))
    labels = first[1]
    result = {}
    print(f"{'model':40s} {'accuracy':>9s} {'mAP':>7s}   ({len(labels)} test videos, {args.windows} windows)")
    for name, (scores, y) in rows.items():
        acc, mAP = accuracy(scores, y), mean_average_precision(scores, y)
        result[name] = {"accuracy": acc, "map": mAP}
        print(f"{name:40s} {acc:9.3f} {mAP:7.3f}")
    if args.json:
        save_json(args.json, result)
    return result


if __name__ == "__main__":
    from .cli import run
    run(main)
