"""Evaluate trained checkpoints with VideoLSTM's protocol, alone or late-fused (VideoLSTM Table 3).

    python -m tinyalstm.evaluate --checkpoint runs/rgb/checkpoint.npz
    python -m tinyalstm.evaluate --checkpoint runs/videolstm/checkpoint.npz --fuse runs/flow/checkpoint.npz

Protocol: 25 evenly spaced windows of the training window length per test video, softmax summed over the steps of
a window, averaged over windows; top-1 accuracy and mean average precision over classes. ``--fuse`` multiplies
the two models' class probabilities per video (each normalised to sum to 1), VideoLSTM's late fusion of an RGB and
a flow model. The data (features and their cache) are rebuilt from the configuration saved in each checkpoint.
"""
import argparse
import json
import sys
from argparse import Namespace
from pathlib import Path

import numpy as np

from . import backend
from .metrics import accuracy, late_fusion, mean_average_precision
from .optim import RMSprop
from .train import WindowReader, build_model, evaluate_videos, load_checkpoint, load_data


def evaluate_checkpoint(path, windows=25, log=print):
    """-> (scores (V, C), labels (V,), test keys, config) of one checkpoint on its own test split."""
    path = Path(path)
    if not path.is_file():
        raise SystemExit(f"--checkpoint {path}: file not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            config = json.loads(str(z["config"]))
    except (OSError, ValueError, KeyError) as err:
        raise SystemExit(f"--checkpoint {path}: not a tinyalstm checkpoint ({err})") from None
    if config["model"] == "convnet":
        raise SystemExit(f"--checkpoint {path}: ConvNet runs keep no checkpoint; their accuracy is in result.json")
    args = Namespace(**{k: (Path(v) if k in ("root", "out", "work") and v is not None else v)
                        for k, v in config.items()})
    data = load_data(args, log)
    D, N = data.feature_shape[0], data.feature_shape[1]
    model = build_model(args, D, N, len(data.classes))
    load_checkpoint(path, model, RMSprop(), config)
    reader = WindowReader(data, args.model, args.modality)
    scores, labels, _ = evaluate_videos(model, reader, data.test, args.frames, windows, model.dtype)
    return scores, labels, [k for k, _ in data.test], config


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
    rows = {}
    a_scores, labels, keys, a_cfg = evaluate_checkpoint(args.checkpoint, args.windows)
    rows[f"{a_cfg['model']} ({a_cfg['modality']})"] = (a_scores, labels)
    if args.fuse is not None:
        b_scores, b_labels, b_keys, b_cfg = evaluate_checkpoint(args.fuse, args.windows)
        if b_keys != keys or not np.array_equal(b_labels, labels):
            raise SystemExit(f"--fuse {args.fuse}: its test videos differ from {args.checkpoint}'s (other dataset "
                             f"or split); late fusion needs the same videos")
        rows[f"{b_cfg['model']} ({b_cfg['modality']})"] = (b_scores, labels)
        rows["late fusion (product)"] = (late_fusion(a_scores, b_scores, "product"), labels)
    result = {}
    print(f"{'model':40s} {'accuracy':>9s} {'mAP':>7s}   ({len(labels)} test videos, {args.windows} windows)")
    for name, (scores, y) in rows.items():
        acc, mAP = accuracy(scores, y), mean_average_precision(scores, y)
        result[name] = {"accuracy": acc, "map": mAP}
        print(f"{name:40s} {acc:9.3f} {mAP:7.3f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
