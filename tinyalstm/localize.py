"""Localize actions from a trained model's attention maps (VideoLSTM sec. 4, eqs. 16-17) and measure them.

    python -m tinyalstm.localize --checkpoint runs/default/checkpoint.npz
    python -m tinyalstm.localize --checkpoint runs/ucf101-videolstm/checkpoint.npz --annotations UCF101v2-GT.pkl

Every test video of the checkpoint's run is read whole, in windows of the training length; its attention maps
become one tube (saliency on a fixed 0-255 scale, boxes of the connected components above --theta, linked by IoU,
smoothed over time), scored per class with the class probabilities averaged over frames. Against the ground truth
(the built-in benchmark's annotation files, or a UCF101-24 annotation pickle) it prints and writes to --out:

  tubes.json          one entry per test video: video, frames (0-based), boxes [x1, y1, x2, y2] in pixels of the
                      original frames, scores per class
  localization.json   recall at tube IoU 0.1-0.6 (VideoLSTM Fig. 4a), video-mAP at 0.1-0.5 (Fig. 4b), the same
                      for a whole-frame and a centred-box tube and for the ground-truth box at the map's
                      resolution through the same pipeline (keys *_upper: what a map on the actor alone gives;
                      a bound at low IoU only, as its boxes span whole cells), attention mass in the
                      ground-truth box against the box's share of the frame (during the action and outside
                      it, where the annotations have the actor), and the pointing hit rate

  localization_*.png  overlays of three test videos of different classes: attention on one colour scale, the
                      ground-truth box and the predicted one, true and predicted class

For an aLSTM checkpoint (alstm, alstm-b) it measures the temporal attention instead: its weight on the frames of
the action interval against the interval's share of the window (localization.json, highlight_*.png).

--out is locked while localize runs (as a training run's folder is), and results are never replaced silently:
localization.json records the checkpoint it measured, a rerun on the same checkpoint replaces its own results
(pictures included), the results of another checkpoint are refused without --overwrite, and a folder holding
another training run is refused. Partial files left by a process killed while writing are removed.
"""
import argparse
import math
import sys
from pathlib import Path

from . import backend
from .experiment.localization import SIGMA_MAX, localize_checkpoint
from .localization.attention_tubes import THETA, WINDOW
from .run.checkpoints import read_config
from .run.folder import claim_results
from .run.storage import save_json

PICTURES = ("localization_*.png", "highlight_*.png")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tinyalstm.localize", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, required=True, help="checkpoint.npz written by tinyalstm.train")
    ap.add_argument("--root", type=Path, default=None, metavar="DIR",
                    help="the dataset's folder now, when it was moved since training (default: the --root the run was trained with, which must still be there: a trained run's data are never generated again); it must hold the same dataset (the same class list; the built-in benchmark generated with the same options), and the run's caches are reused video by video)")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: the checkpoint's folder)")
    ap.add_argument("--theta", type=float, default=THETA, help=f"saliency threshold on 0-255 (paper: {THETA:g})")
    ap.add_argument("--sigma", type=float, default=None,
                    help=f"Gaussian smoothing of the upsampled maps, in pixels: 0 (none) to {SIGMA_MAX:g}, and at "
                         f"most the frames' larger side (wider flattens every map; default: half a map cell)")
    ap.add_argument("--no-smooth", action="store_true", help="no temporal smoothing of the boxes")
    ap.add_argument("--window", type=int, default=WINDOW, help=f"temporal smoothing window, frames (default "
                                                               f"{WINDOW})")
    ap.add_argument("--annotations", type=Path, default=None,
                    help="UCF101-24 ground truth (pyannot.pkl or UCF101v2-GT.pkl); the built-in benchmark has its "
                         "own")
    ap.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: TINYALSTM_DEVICE or auto")
    ap.add_argument("--overwrite", action="store_true",
                    help="replace the results of another checkpoint held in --out (without it they are refused)")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    if not 0 <= args.theta <= 255:
        ap.error(f"--theta: expected a threshold in [0, 255], got {args.theta}")
    if args.sigma is not None and not (math.isfinite(args.sigma) and 0 <= args.sigma <= SIGMA_MAX):
        ap.error(f"--sigma: expected 0 to {SIGMA_MAX:g} pixels, got {args.sigma}")
    if args.window < 2:
        ap.error(f"--window: expected an integer >= 2, got {args.window}")
    if args.root is not None and not args.root.is_dir():
        ap.error(f"--root {args.root}: not a folder")
    if args.annotations is not None and not args.annotations.is_file():
        ap.error(f"--annotations {args.annotations}: file not found")
    if args.device:
        backend.set_device(args.device)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    read_config(args.checkpoint)            # a missing or damaged checkpoint is named before --out is touched
    out = args.out or args.checkpoint.parent
    origin = str(args.checkpoint.resolve())
    with claim_results(out, "localization.json", "checkpoint", origin, others=("tubes.json",), pictures=PICTURES,
                       overwrite=args.overwrite, home=args.checkpoint.parent, log=log) as out:
        figures, tubes, skipped = localize_checkpoint(args.checkpoint, args.annotations, args.theta, args.sigma,
                                                      not args.no_smooth, args.window, log=log, out=out,
                                                      root=args.root)
        save_json(out / "localization.json", {"checkpoint": origin, **figures})
        if "temporal_mass_in_interval" not in figures:
            save_json(out / "tubes.json", tubes, indent=None)
    if "temporal_mass_in_interval" in figures:
        for line in figures.get("ground_truth_skipped", [])[:10]:
            print(f"  skipped (ground truth): {line}")
        print(f"{figures['model']}: temporal attention on the action interval "
              f"{figures['temporal_mass_in_interval']:.3f} against the interval's share of the window "
              f"{figures['interval_share']:.3f} ({figures['temporal_mass_over_share']:.2f}x; all weight on the action "
              f"frames would give {figures['temporal_mass_over_share_upper']:.2f}x), "
              f"{figures['windows']} windows"
              + (f"; in the {figures['mixed_windows']} windows holding both action and other frames "
                 f"{figures['temporal_mass_in_interval_mixed']:.3f} against {figures['interval_share_mixed']:.3f} "
                 f"({figures['temporal_mass_over_share_mixed']:.2f}x)" if "mixed_windows" in figures else "")
              + "; written: "
              f"{out / 'localization.json'}, highlight_*.png (aLSTM Fig. 2: highest and lowest frames)")
        return figures
    print(f"{figures['model']} ({figures['modality']}): {figures['videos']} test videos measured, {len(skipped)} "
          f"skipped" + "".join(f"\n  skipped {key}: {why}" for key, why in skipped[:10])
          + (f"\n  ... and {len(skipped) - 10} more" if len(skipped) > 10 else ""))
    if figures["ground_truth_clipped"]:
        print(f"ground-truth boxes reaching past the frame or the video's end were clipped or dropped in "
              f"{len(figures['ground_truth_clipped'])} videos (listed in localization.json)")
    print(f"attention in the actor box {figures['attention_in_box']:.3f} against its share of the frame "
          f"{figures['box_share']:.3f} ({figures['attention_in_box_over_share']:.2f}x); pointing "
          f"{figures['pointing']:.3f}")
    if "attention_in_box_outside" in figures:
        print(f"outside the action (the actor still on screen): attention in its box "
              f"{figures['attention_in_box_outside']:.3f} against its share {figures['box_share_outside']:.3f} "
              f"({figures['attention_in_box_outside_over_share']:.2f}x); pointing {figures['pointing_outside']:.3f}")
    print(f"{'tube':16s} " + " ".join(f"R@{t}" for t in figures["recall"]) + "   "
          + " ".join(f"mAP@{t}" for t in figures["video_map"]))
    for name, suffix in (("attention", ""), ("true box at NxN", "_upper"), ("whole frame", "_whole"),
                         ("centre box", "_centre")):
        r, m = figures[f"recall{suffix}"], figures[f"video_map{suffix}"]
        print(f"{name:16s} " + " ".join(f"{v:5.3f}" for v in r.values()) + "   "
              + " ".join(f"{v:7.3f}" for v in m.values()))
    print(f"written: {out / 'tubes.json'}, {out / 'localization.json'}")
    return figures


if __name__ == "__main__":
    from .run.cli import run
    run(main)
