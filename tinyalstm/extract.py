"""Extract the papers' pretrained features from a video dataset into the layout --dataset features trains on.

    python -m tinyalstm.extract --dataset ucf101 --root /data/UCF101 --out /data/ucf101-vgg16 --device cuda
    python -m tinyalstm.train --dataset features --root /data/ucf101-vgg16 --model videolstm

    python -m tinyalstm.extract --dataset activitynet --root /data/ActivityNet --out /data/anet-alstm \\
        --flow r3d --rgb fc8 --stride 16 --device cuda
    python -m tinyalstm.train --dataset features --root /data/anet-alstm --model alstm

Reads UCF101, HMDB51, Hollywood2 or ActivityNet in its official layout (the loaders of --dataset in train) and
writes OUT/rgb/<Class>/<video>.npy and OUT/flow/<Class>/<video>.npy, one file per video, plus OUT/ucfTrainTestlist/
naming the videos of every official split (UCF101's format). --rgb and --flow say which feature goes in which
folder: the defaults are VideoLSTM's (sec. 5.2: VGG-16 pool5 maps of RGB frames and of optical flow images); for
aLSTM (sec. 3) put its input-data, one clip vector per 16 frames, in flow/ (--flow r3d) and its attended-data,
per-frame VGG vectors, in rgb/ (--rgb fc8 --stride 16, one frame per clip).

Features:
{features}

Not the papers' networks: VideoLSTM fine-tunes both VGG-16 networks on the actions (its flow network trained on
flow images); here both are ImageNet's, the flow one with its first convolution's RGB weights averaged and
replicated to 2 channels (TSN's cross-modality initialisation), nothing fine-tuned. aLSTM's input-data is C3D fc6
(Sports-1M, fine-tuned on ActivityNet); C3D is not in torchvision, so R3D-18 (Kinetics-400) stands in. Optical
flow is this project's (data/flow.py), on frames at the network's input size.

Weights are torchvision's, read from the torch hub cache (TORCH_HOME, default ~/.cache/torch/hub/checkpoints) and
never downloaded; when they are not there the command says how to get them, or give a state dict file with
--vgg-weights, --flow-weights, --r3d-weights. Needs PyTorch and torchvision: pip install -e '.[features]'.

Hollywood2 is multi-label; the features layout's split lists hold one class per video, so --dataset features cannot
train on its features. They are written all the same, as OUT/<stream>/AVIClips/<clip>.npy, with the labels in
Hollywood2's format in OUT/ClipSets/.

A rerun with the same options skips every finished video (files are written atomically; a changed video, feature,
sampling or weights file is recomputed). Unreadable videos are named and skipped. Errors are one paragraph naming
the file or option (exit status 1; usage errors 2); --debug adds the traceback.
"""
import argparse
import sys
import textwrap
from pathlib import Path

from .data.extraction import DTYPES, Sampling, extract, video_datasets
from .data.pretrained import FEATURES
from .data.registry import dataset_spec
from .run.cli import add_scheduler_option, run


def parse_args(argv):
    rows = "\n".join(textwrap.fill(f"{f.name:11s} {f.summary}", 114, initial_indent="  ", subsequent_indent=" " * 14)
                     for f in FEATURES.values())
    ap = argparse.ArgumentParser(prog="python -m tinyalstm.extract", description=__doc__.format(features=rows),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    names = video_datasets()
    choices = tuple(FEATURES) + ("none",)
    ap.add_argument("--dataset", choices=names, required=True,
                    help="; ".join(f"{n}: {dataset_spec(n).summary}" for n in names))
    ap.add_argument("--root", type=Path, required=True, help="the dataset's folder, in its official layout")
    ap.add_argument("--out", type=Path, required=True,
                    help="where the features go (the --root of train --dataset features); a rerun resumes")
    ap.add_argument("--rgb", choices=choices, default="pool5", metavar="FEATURE",
                    help="the feature written to OUT/rgb/ (default pool5; none: leave rgb/ as it is)")
    ap.add_argument("--flow", choices=choices, default="flow-pool5", metavar="FEATURE",
                    help="the feature written to OUT/flow/ (default flow-pool5; aLSTM's input-data: r3d)")
    ap.add_argument("--stride", type=int, default=1, metavar="S",
                    help="per-frame features on frames 0, S, 2S, ... (default 1: every frame, VideoLSTM; aLSTM "
                         "samples its attended frames every 16, one per clip: 16; its T = 2N: 8)")
    ap.add_argument("--size", type=int, default=224,
                    help="VGG-16's input, square (default 224: pool5 maps 7 x 7; the frames' shorter side is "
                         "decoded at 8/7 of it, then centre-cropped)")
    ap.add_argument("--clip-size", type=int, default=112, help="R3D-18's input, square (default 112)")
    ap.add_argument("--clip-length", type=int, default=16, metavar="L",
                    help="frames per R3D-18 clip, non-overlapping (default 16, as aLSTM's C3D chunks)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default=None,
                    help="where PyTorch runs the networks (default cuda when PyTorch sees a GPU, else cpu); optical "
                         "flow runs on the project's device (TINYALSTM_DEVICE), as in train")
    ap.add_argument("--batch", type=int, default=16, help="frames (or clips) per forward pass (default 16)")
    ap.add_argument("--workers", type=int, default=1,
                    help="processes decoding, computing flow and encoding videos (default 1); each builds its own "
                         "copy of the network")
    add_scheduler_option(ap)
    ap.add_argument("--dtype", choices=DTYPES, default="float16",
                    help="of the files (default float16: half the disk; training reads either)")
    ap.add_argument("--vgg-weights", type=Path, default=None, metavar="FILE",
                    help="a state dict of torchvision's VGG-16 (default: its ImageNet weights from the torch hub "
                         "cache)")
    ap.add_argument("--flow-weights", type=Path, default=None, metavar="FILE",
                    help="a state dict for the flow network: a VGG-16 with a 2-channel first convolution, used as "
                         "it is, or a 3-channel one, cross-modality initialised (default: the VGG-16 weights)")
    ap.add_argument("--r3d-weights", type=Path, default=None, metavar="FILE",
                    help="a state dict of torchvision's R3D-18 (default: its Kinetics-400 weights from the cache)")
    ap.add_argument("--random-weights", action="store_true",
                    help="for testing only: torchvision's random initialisation (after torch.manual_seed(--seed)) "
                         "instead of trained weights; the features mean nothing")
    ap.add_argument("--seed", type=int, default=0, help="the seed of --random-weights (default 0)")
    args = ap.parse_args(argv)
    for flag, least in (("stride", 1), ("size", 32), ("clip_size", 16), ("clip_length", 1), ("batch", 1),
                        ("workers", 1)):
        if getattr(args, flag) < least:
            ap.error(f"--{flag.replace('_', '-')}: expected an integer >= {least}, got {getattr(args, flag)}")
    args.rgb, args.flow = (None if v == "none" else v for v in (args.rgb, args.flow))
    if args.rgb is None and args.flow is None:
        ap.error("--rgb none --flow none: nothing to extract")
    given = [f"--{k.replace('_', '-')}" for k in ("vgg_weights", "flow_weights", "r3d_weights")
             if getattr(args, k) is not None]
    if args.random_weights and given:
        ap.error(f"--random-weights and {', '.join(given)}: give one")
    for k in ("vgg_weights", "flow_weights", "r3d_weights"):
        path = getattr(args, k)
        if path is not None and not path.is_file():
            ap.error(f"--{k.replace('_', '-')} {path}: file not found")
    if not args.root.is_dir():
        ap.error(f"--root {args.root}: not a folder")
    if args.out.exists() and not args.out.is_dir():
        ap.error(f"--out {args.out}: not a folder")
    if args.out.resolve() == args.root.resolve():
        ap.error(f"--out {args.out}: the dataset's own folder; give another")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    device = args.device or _default_device()
    sampling = Sampling(args.size, args.stride, args.clip_size, args.clip_length)
    weights = {"vgg16": args.vgg_weights, "flow": args.flow_weights, "r3d18": args.r3d_weights}
    summary = extract(args.dataset, args.root, args.out, {"rgb": args.rgb, "flow": args.flow}, sampling,
                      weights, args.random_weights, device, args.batch, args.workers, args.dtype, args.seed,
                      log=print, scheduler=args.scheduler)
    report = summary["report"]
    if report.count or report.damaged:
        print(f"extraction report: {report.summary()}")
    for stream, d in summary["streams"].items():
        print(f"{stream}/: {d['feature']}, files of shape ({', '.join(map(str, d['shape']))}), {d['dtype']}")
    print(f"{summary['videos']} videos have every stream's features in {args.out}"
          + (f"; {report.count} skipped (named above)" if report.count else ""))
    if summary["multilabel"]:
        print(f"{args.dataset} is multi-label: its labels are in {summary['lists']} (Hollywood2's format); the "
              f"features layout's split lists hold one class per video, so --dataset features cannot train on "
              f"these files")
    else:
        maps = any(len(d["shape"]) == 4 for d in summary["streams"].values())
        models = "videolstm, convalstm, convlstm (maps) or lstm, alstm" if maps else "lstm, alstm, alstm-b"
        print(f"split lists: {summary['lists']}; train with python -m tinyalstm.train --dataset features --root "
              f"{args.out} --model MODEL ({models})")
    return 0


def _default_device():
    try:
        import torch
        return "cuda" if torch.cuda.is_available() else "cpu"
    except Exception:  # noqa: BLE001 -- not installed, or broken: extract() says which, and what to do
        return "cpu"


if __name__ == "__main__":
    run(main)
