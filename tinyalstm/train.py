"""Train and evaluate any model of the two papers on video features.

    python -m tinyalstm.train                      # synthetic benchmark, VideoLSTM, the whole pipeline
    python -m tinyalstm.train --dataset ucf101 --root /data/UCF101 --split 1 --model convalstm --modality rgb
    python -m tinyalstm.train --help

With no arguments it generates the synthetic benchmark into a cache folder (once), decodes it, computes optical
flow, trains a frame encoder per modality (whose video accuracy is the ConvNet baseline), caches their feature
maps, trains VideoLSTM's two streams on them (the RGB VideoLSTM, and a ConvALSTM on flow maps in
--out/flow-stream), fuses them by product as VideoLSTM's paper does (Table 3) and prints the test accuracy of the
ConvNets, of each stream and of the fusion. Every stage shows progress and is resumable.

Models (--model) and what they read:
{models}

Outputs in --out: config.json, metrics.jsonl (one line per epoch), checkpoint.npz (written atomically after every
epoch: parameters, optimiser state, RNG state; no pickle), curves.png, attention overlays (attention_*.png),
result.json with the final test accuracy and mean average precision (25 evenly spaced windows per test video,
softmax summed over the steps of a window and averaged over windows, VideoLSTM's protocol), and the per-video
scores and labels behind them (test_scores.npy, test_labels.npy, and validation_*.npy with --validation;
python -m tinyalstm.experiments fuses these).
A folder holding a run is never replaced silently (--resume continues it, --overwrite replaces it), and a lock
keeps a second process out of it. Ctrl-C or SIGTERM stops a run cleanly, keeping the last checkpoint.

Errors are one paragraph naming the file or option (exit status 1; usage errors 2, SIGINT 130, SIGTERM 143);
--debug, or TINYALSTM_DEBUG=1, adds the traceback.
"""
import argparse
import math
import os
import sys
import textwrap
from pathlib import Path

from . import backend
from .data.pipeline import ENCODER_WIDTHS, RGB_ENCODERS
from .data.registry import DATASETS, dataset_spec
from .experiment.parts import DEFAULT_LR, OPTIMIZERS, SGD_DEFAULTS, default_optimizer, multilabel_models
from .experiment.training import run_training
from .models import CONVNET, CONVNET_SUMMARY, MODEL_CHOICES, MODELS
from .run.cli import add_scheduler_option

EPOCHS = 15                # the recurrent models' epochs unless a recipe below says otherwise
# The two-stream VideoLSTM's epochs, chosen on the built-in benchmark's validation split (--validation 0.33, seeds
# 0-2, fine-tuned RGB encoder): the fused accuracy was 0.722 +- 0.024 after 8 epochs and 0.701 +- 0.048 after 15
TWO_STREAM_EPOCHS = 8


def parse_args(argv):
    rows = [(CONVNET, CONVNET_SUMMARY)] + [(spec.name, f"{spec.summary} ({spec.paper})") for spec in MODELS.values()]
    models = "\n".join(textwrap.fill(f"{name:14s} {summary}", 114, initial_indent="  ", subsequent_indent=" " * 17)
                       for name, summary in rows)
    ap = argparse.ArgumentParser(prog="python -m tinyalstm.train", description=__doc__.format(models=models),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    multilabel = [name for name, spec in DATASETS.items() if spec.multilabel]
    ap.add_argument("--dataset", choices=tuple(DATASETS), default="synthetic",
                    help=", ".join(f"{name} ({spec.summary})" for name, spec in DATASETS.items())
                    + f". Multi-label datasets ({', '.join(multilabel)}) train with a sigmoid per class and report "
                      f"mAP; they take the models {', '.join(multilabel_models())}")
    ap.add_argument("--root", type=Path, default=None, help="dataset folder (required except for synthetic)")
    ap.add_argument("--split", type=int, choices=(1, 2, 3), default=1, help="official split (default 1)")
    ap.add_argument("--model", choices=MODEL_CHOICES, default="videolstm",
                    help="see the list above (default videolstm)")
    ap.add_argument("--modality", choices=("rgb", "flow"), default="rgb",
                    help="feature maps of single-stream models (default rgb); alstm and videolstm read both")
    ap.add_argument("--attended-data", choices=("rgb", "flow"), default=None,
                    help="aLSTM models only: the per-frame features the temporal attention weighs (default rgb, "
                         "the stand-in for the paper's VGG frame features; the input-data stays pooled flow)")
    ap.add_argument("--input-chunk", type=int, default=1, metavar="C",
                    help="aLSTM models and lstm: input-data averaged over chunks of C frames (as the paper's C3D fc6 "
                         "vector per 16-frame chunk), so a window of --frames T has N = T / C input steps beside T "
                         "attended frames; the paper's T = 2N is C = 2. Default 1 (T = N)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default=None,
                    help="default: TINYALSTM_DEVICE, else cuda when CuPy sees a GPU, else cpu")
    ap.add_argument("--epochs", type=int, default=None,
                    help=f"training epochs of the recurrent model (default {TWO_STREAM_EPOCHS} for the two-stream "
                         f"VideoLSTM, chosen on the built-in benchmark's validation split; {EPOCHS} otherwise)")
    ap.add_argument("--batch-size", type=int, default=16, help="videos per minibatch (default 16)")
    ap.add_argument("--optimizer", choices=OPTIMIZERS, default=None,
                    help="default: the model's paper: sgd (momentum, step decay; aLSTM sec. 4.1) for lstm, alstm and "
                         "alstm-b, rmsprop (VideoLSTM's authors' code) for the others")
    ap.add_argument("--lr", type=float, default=None,
                    help="learning rate (default: 0.03 for sgd, chosen on the built-in benchmark's validation split "
                         "where aLSTM sec. 4.1's 0.01 underfits; 1e-3 for rmsprop, VideoLSTM's code)")
    ap.add_argument("--momentum", type=float, default=None, help="sgd only: momentum (default 0.9, aLSTM's)")
    ap.add_argument("--lr-decay", type=float, default=None, metavar="RATIO",
                    help="sgd only: the learning rate is fixed for --lr-decay-after epochs, then multiplied by "
                         "RATIO after every epoch (aLSTM decays by a ratio it does not give; default 0.9; 1: fixed)")
    ap.add_argument("--lr-decay-after", type=int, default=None, metavar="E",
                    help="sgd only: epochs at the fixed learning rate before the decay starts (default 8)")
    ap.add_argument("--seed", type=int, default=0, help="seed of weights, windows and dropout (default 0)")
    ap.add_argument("--out", type=Path, default=Path("runs/default"), help="output folder (default runs/default)")
    ap.add_argument("--resume", action="store_true",
                    help="continue the run in --out from its checkpoint.npz (its options must be the same; --epochs "
                         "may be larger)")
    ap.add_argument("--init-from", type=Path, default=None, metavar="CHECKPOINT",
                    help="fine-tune: start from this checkpoint's parameters (same model and sizes; the class layer "
                         "starts afresh when the classes differ, as aLSTM's HOHA2 model starts from ActivityNet's)")
    ap.add_argument("--overwrite", action="store_true",
                    help="replace the run held in --out (without it, or --resume, a folder holding a run is "
                         "refused)")
    ap.add_argument("--frames", type=int, default=16, help="window length T (authors: 30; default 16)")
    ap.add_argument("--hidden", type=int, default=32, help="hidden channels/units K (paper: 512; default 32)")
    ap.add_argument("--fc-dim", type=int, default=256, help="head's fully connected size (paper: 1024; default 256)")
    ap.add_argument("--dropout", type=float, default=0.7, help="head dropout (paper: 0.7)")
    ap.add_argument("--attention-penalty", type=float, default=0.0, metavar="ALPHA_C",
                    help="spatial attention models only: Sharma et al.'s penalty alpha_c * sum_i (1 - sum_t "
                         "a_ti)^2 on each example's maps (their code: 1.0 in captioning; default 0, off)")
    ap.add_argument("--eval-windows", type=int, default=5,
                    help="test windows per video in the per-epoch evaluation (the final one always uses 25)")
    ap.add_argument("--validation", type=float, default=0.0,
                    help="fraction of the training groups held out as a validation split (e.g. 0.33; default 0: "
                         "none). With it, every epoch and the choices made on a run are scored on validation, the "
                         "frame encoders never see those videos, and the test set is read once, at the end")
    ap.add_argument("--patience", type=int, default=0,
                    help="with --validation: early stopping. Stop when the validation loss has not improved for "
                         "this many epochs, and score the test set with the epoch of lowest validation loss (kept "
                         "in --out/best.npz). Default 0: train all --epochs and test the last")
    ap.add_argument("--flip", action="store_true",
                    help="flip augmentation: each training window is read left-right mirrored with probability "
                         "1/2 (the mirrored videos' maps are cached once; flow mirrored with its horizontal "
                         "component negated). Videos only")
    ap.add_argument("--test-chunks", type=int, default=0, metavar="C",
                    help="the final test with aLSTM's protocol (sec. 4.1): C random windows per video and their "
                         "mirrored copies, scores averaged (paper: 40 + 40). Default 0: VideoLSTM's 25 evenly "
                         "spaced windows. Videos only (the mirrored maps are cached once)")
    ap.add_argument("--size", type=int, default=64, help="frame size for the frame encoders (default 64)")
    ap.add_argument("--encoder-epochs", type=int, default=8,
                    help="frame encoder epochs (default 8; 0 keeps the random initial weights, whose maps the "
                         "recurrent model then reads)")
    ap.add_argument("--rgb-encoder", choices=RGB_ENCODERS, default=None,
                    help="where the RGB maps come from: finetuned (the frame encoder pretrained on still images of "
                         "the synthetic world, the part of the world in each map cell, then fine-tuned on the "
                         "action labels; the default for --dataset synthetic, chosen on its validation split), "
                         "frozen (the pretrained encoder as it is; the ConvNet baseline is still the fine-tuned one) "
                         "or scratch (trained on the action labels alone; the default for other datasets, whose "
                         "frames are not of that world). The flow encoder is always trained on the action labels")
    ap.add_argument("--two-stream", action=argparse.BooleanOptionalAction, default=None,
                    help="videolstm only: also train the flow stream (ConvALSTM on flow maps, the same options, in "
                         "--out/flow-stream) and fuse the two by product, as VideoLSTM's paper reports its model "
                         "(sec. 5.3, Table 3); default on for videolstm. --no-two-stream trains the RGB stream "
                         "alone (Table 2)")
    ap.add_argument("--workers", type=int, default=None,
                    help="processes decoding videos, computing flow and encoding frames when the caches are built "
                         "(default: the cores available to this process); the caches are the same byte for byte")
    add_scheduler_option(ap)
    ap.add_argument("--work", type=Path, default=None,
                    help="cache for frames, flow, encoders and features (default <root>/.tinyalstm-work/<hash of "
                         "the benchmark's options> or ~/.cache/tinyalstm/work-<dataset>-<hash of --root>)")
    args = ap.parse_args(argv)
    if args.two_stream and args.model != "videolstm":
        ap.error(f"--two-stream: the two-stream model is VideoLSTM's (RGB VideoLSTM and flow ConvALSTM, fused), "
                 f"not {args.model}")
    args.two_stream = args.model == "videolstm" if args.two_stream is None else args.two_stream
    args.epochs = (TWO_STREAM_EPOCHS if args.two_stream else EPOCHS) if args.epochs is None else args.epochs
    args.rgb_encoder = args.rgb_encoder or ("finetuned" if args.dataset == "synthetic" else "scratch")
    for flag in ("epochs", "batch_size", "frames", "hidden", "fc_dim", "eval_windows", "size", "encoder_epochs"):
        least = 0 if flag == "encoder_epochs" else 1
        if getattr(args, flag) < least:
            ap.error(f"--{flag.replace('_', '-')}: expected an integer >= {least}, got {getattr(args, flag)}")
    args.optimizer = args.optimizer or default_optimizer(args.model)
    args.lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    if not (args.lr > 0 and math.isfinite(args.lr)):
        ap.error(f"--lr: expected a positive number, got {args.lr}")
    given = [f"--{k.replace('_', '-')}" for k in SGD_DEFAULTS if getattr(args, k) is not None]
    if args.optimizer != "sgd" and given:
        ap.error(f"{', '.join(given)}: options of --optimizer sgd")
    for k, v in SGD_DEFAULTS.items():
        setattr(args, k, v if getattr(args, k) is None else getattr(args, k))
    if args.optimizer != "sgd":
        args.lr_decay = 1.0                  # RMSprop keeps its learning rate
    if not (0 < args.lr_decay <= 1 and 0 <= args.momentum < 1 and args.lr_decay_after >= 0):
        ap.error(f"--lr-decay {args.lr_decay} / --momentum {args.momentum} / --lr-decay-after "
                 f"{args.lr_decay_after}: expected a ratio in (0, 1], a momentum in [0, 1) and epochs >= 0")
    if not 0 <= args.dropout < 1:
        ap.error(f"--dropout: expected a probability in [0, 1), got {args.dropout}")
    halvings = 2 ** len(ENCODER_WIDTHS)
    dataset, spec = dataset_spec(args.dataset), MODELS.get(args.model)      # spec None: the ConvNet baseline
    if dataset.videos and (args.size % halvings or args.size < 2 * halvings):
        ap.error(f"--size: expected a multiple of {halvings} (the frame encoders halve the frames "
                 f"{len(ENCODER_WIDTHS)} times) of at least {2 * halvings}, got {args.size}")
    if args.init_from is not None and not args.init_from.is_file():
        ap.error(f"--init-from {args.init_from}: file not found")
    if args.flip and not dataset.videos:
        ap.error("--flip: given features (--dataset features) have no frames to mirror")
    if args.test_chunks < 0 or (args.test_chunks and not dataset.videos):
        ap.error(f"--test-chunks {args.test_chunks}: expected an integer >= 0, and videos to mirror (not "
                 f"--dataset features)")
    args.workers = len(os.sched_getaffinity(0)) if args.workers is None else args.workers
    if args.workers < 1:
        ap.error(f"--workers: expected an integer >= 1, got {args.workers}")
    if args.resume and args.overwrite:
        ap.error("--resume and --overwrite: give one (continue the run in --out, or replace it)")
    if args.attended_data is not None and not (spec and spec.takes_attended):
        ap.error(f"--attended-data: only the aLSTM models (alstm, alstm-b) read attended-data, not {args.model}")
    if args.input_chunk < 1 or args.frames % args.input_chunk or (args.input_chunk > 1
                                                                    and not (spec and spec.pooled)):
        ap.error(f"--input-chunk {args.input_chunk}: expected a divisor of --frames {args.frames}, for a model of "
                 f"pooled vectors (lstm, alstm, alstm-b), not {args.model}")
    if args.attention_penalty and (spec is None or "attention_penalty" not in spec.options):
        ap.error(f"--attention-penalty: {args.model} has no spatial attention to penalise")
    if not (args.attention_penalty >= 0 and math.isfinite(args.attention_penalty)):
        ap.error(f"--attention-penalty: expected alpha_c >= 0, got {args.attention_penalty}")
    if not 0 <= args.validation < 1:
        ap.error(f"--validation: expected a fraction in [0, 1), got {args.validation}")
    if args.patience < 0 or (args.patience and not args.validation):
        ap.error(f"--patience {args.patience}: expected an integer >= 0, and --validation to watch")
    if dataset.multilabel:
        if args.model not in multilabel_models():
            ap.error(f"--model {args.model}: {args.dataset} clips carry several classes; the models with the "
                     f"multi-label loss are {', '.join(multilabel_models())}")
    if args.split > dataset.splits:
        ap.error(f"--split {args.split}: {args.dataset} has one split (its train and test lists)")
    if not dataset.built_in and args.root is None:
        ap.error(f"--root is required for --dataset {args.dataset}")
    if args.root is not None and not args.root.is_dir():
        ap.error(f"--root {args.root}: not a folder")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.device:
        backend.set_device(args.device)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    return run_training(config, log=lambda msg: print(msg, flush=True))


if __name__ == "__main__":
    from .run.cli import run
    run(main)
