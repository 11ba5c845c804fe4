"""Train and evaluate any model of the two papers on video features.

    python -m tinyalstm.train                      # synthetic benchmark, VideoLSTM, the whole pipeline
    python -m tinyalstm.train --dataset ucf101 --root /data/UCF101 --split 1 --model convalstm --modality rgb
    python -m tinyalstm.train --help

With no arguments it generates the synthetic benchmark into a cache folder (once), decodes it, computes optical
flow, trains a frame encoder per modality (whose video accuracy is the ConvNet baseline), caches their feature
maps, trains VideoLSTM on them and prints the test accuracy. Every stage shows progress and is resumable.

Models (--model) and what they read:
  convnet        the frame encoder alone: frame softmax averaged over the video (VideoLSTM Table 1 "ConvNet")
  lstm           LSTM on per-frame spatially pooled maps of --modality (aLSTM's and VideoLSTM's LSTM baseline)
  alstm          aLSTM (Torabi & Sigal) variant (a): input-data = pooled flow maps per frame, attended-data =
                 pooled RGB maps per frame (the stand-ins for C3D clip features and VGG frame features)
  alstm-b        aLSTM variant (b): attention only into the last step
  alstm-spatial  Sharma et al.'s soft-attention LSTM over the N x N locations of --modality maps (VideoLSTM "ALSTM")
  alstm-motion   the same on RGB maps, attention from a flow LSTM over pooled flow maps (Table 2, motion-based)
  convlstm       ConvLSTM on --modality maps (VideoLSTM eqs. 1-6)
  convalstm      Convolutional ALSTM on --modality maps (eqs. 1-9)
  videolstm      VideoLSTM: RGB maps attended by motion-based attention from flow maps (eqs. 1-15)

Outputs in --out: config.json, metrics.jsonl (one line per epoch), checkpoint.npz (written atomically after every
epoch: parameters, optimiser state, RNG state; no pickle), curves.png, attention overlays (attention_*.png),
result.json with the final test accuracy and mean average precision (25 evenly spaced windows per test video,
softmax summed over the steps of a window and averaged over windows, VideoLSTM's protocol), and the per-video
scores and labels behind them (test_scores.npy, test_labels.npy; python -m tinyalstm.experiments fuses these).
"""
import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import backend
from .features import gather_window, load_features
from .fit import train_batches
from .optim import RMSprop
from .pipeline import (default_synthetic_root, default_work, dump_json, ensure_synthetic, prepare_given_features,
                       prepare_video_features)
from .video import test_windows, train_window

MODELS = ("convnet", "lstm", "alstm", "alstm-b", "alstm-spatial", "alstm-motion", "convlstm", "convalstm",
          "videolstm")


def modalities_of(model, modality):
    """Which feature maps a model reads: (first input's, second input's or None)."""
    if model in ("alstm", "alstm-b"):
        return ("flow", "rgb")
    if model in ("videolstm", "alstm-motion"):
        return ("rgb", "flow")
    return (modality, None)


def build_model(args, D, N, n_classes):
    from .models import LSTM, aLSTM
    from .video_models import ALSTM, ConvALSTM, ConvLSTM, MotionALSTM, VideoLSTM
    kw = {"dropout": args.dropout, "seed": args.seed}
    video_kw = {**kw, "fc_dim": args.fc_dim}
    name, H = args.model, args.hidden
    if name == "lstm":
        return LSTM(D, H, n_classes, **kw)
    if name in ("alstm", "alstm-b"):
        return aLSTM(D, D, H, H, n_classes, variant=name[-1] if name == "alstm-b" else "a", **kw)
    if name == "alstm-spatial":
        return ALSTM(D, N, H, n_classes, **video_kw)
    if name == "alstm-motion":
        return MotionALSTM(D, D, N, H, n_classes, **video_kw)
    if name == "convlstm":
        return ConvLSTM(D, N, H, n_classes, **video_kw)
    if name == "convalstm":
        return ConvALSTM(D, N, H, n_classes, **video_kw)
    return VideoLSTM(D, D, N, H, n_classes, **video_kw)


class WindowReader:
    """Windows of T frames of the cached maps of each video, memory-mapped: only the frames asked for are read."""

    def __init__(self, data, model_name, modality):
        self.data, self.pooled = data, model_name in ("lstm", "alstm", "alstm-b")
        self.mods = modalities_of(model_name, modality)
        self._lengths = {}

    def features(self, key, m):
        return load_features(self.data.roots[m], key, self.data.feature_shape)

    def length(self, key):
        if key not in self._lengths:
            self._lengths[key] = min(len(self.features(key, m)) for m in self.mods if m)
        return self._lengths[key]

    def batch(self, items, windows, dtype):
        """items [(key, label)], windows [(T,) indices] -> (first (B, T, ...), y (B,), second or None). Each video's
        files are opened once per call (evaluation asks for 25 windows of one video at a time)."""
        opened, parts = {}, []
        for m in self.mods:
            if m is None:
                parts.append(None)
                continue
            xs = []
            for (key, _), idx in zip(items, windows):
                if (key, m) not in opened:
                    opened[key, m] = self.features(key, m)
                x = gather_window(opened[key, m], idx, dtype)
                xs.append(x.mean(axis=(2, 3)) if self.pooled else x)     # (T, D) for the vector models
            parts.append(np.stack(xs))
        return parts[0], np.array([label for _, label in items]), parts[1]


def training_batches(reader, items, T, batch_size, rng, dtype):
    order = rng.permutation(len(items))
    for s in range(0, len(order), batch_size):
        chosen = [items[i] for i in order[s:s + batch_size]]
        windows = [train_window(reader.length(k), T, rng) for k, _ in chosen]
        yield reader.batch(chosen, windows, dtype)


def evaluate_videos(model, reader, items, T, n_windows, dtype, keep_attention=0):
    """VideoLSTM's protocol -> (scores (V, C), labels (V,), attention of the first ``keep_attention`` videos'
    middle windows). model.predict averages the per-step softmax over steps, i.e. the sum over steps / T: the
    same ranking as the sum."""
    scores, attention = [], []
    for i, (key, _) in enumerate(items):
        wins = test_windows(reader.length(key), T, n_windows)
        first, _, second = reader.batch([(key, 0)] * len(wins), list(wins), dtype)
        probs, att = model.predict(first, second)
        scores.append(backend.to_numpy(probs).mean(axis=0))
        if i < keep_attention and att is not None:
            mid = len(wins) // 2
            attention.append((key, wins[mid], backend.to_numpy(att)[mid]))
    return np.stack(scores), np.array([label for _, label in items]), attention


def accuracy_and_map(scores, labels):
    from .metrics import accuracy, mean_average_precision
    return accuracy(scores, labels), mean_average_precision(scores, labels)


# -- checkpoints ------------------------------------------------------------------------------------------------

def save_checkpoint(path, model, opt, epoch, rng, metrics, config):
    arrays = {f"param/{k}": backend.to_numpy(v) for k, v in model.params.items()}
    arrays.update({f"opt/{k}": backend.to_numpy(v) for k, v in opt.state_dict().items()})
    arrays["epoch"] = np.array(epoch)
    arrays["rng"] = np.array(json.dumps(rng.bit_generator.state))
    arrays["metrics"] = np.array(json.dumps(metrics))
    arrays["config"] = np.array(json.dumps(config))
    tmp = Path(str(path) + ".partial.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def load_checkpoint(path, model, opt, config):
    with np.load(path, allow_pickle=False) as z:
        saved = json.loads(str(z["config"]))
        for k in ("model", "modality", "dataset", "split", "hidden", "frames", "fc_dim"):
            if saved.get(k) != config.get(k):
                raise SystemExit(f"--resume: {path} was written for {k}={saved.get(k)!r}, this run has "
                                 f"{config.get(k)!r}; use another --out or the same options")
        model.params = {k: backend.to_device(z[f"param/{k}"], model.dtype) for k in model.params}
        opt.load_state_dict({k[4:]: z[k] for k in z.files if k.startswith("opt/")}, model.params)
        rng = np.random.default_rng()
        rng.bit_generator.state = json.loads(str(z["rng"]))
        return int(z["epoch"]), rng, json.loads(str(z["metrics"]))


# -- the run ----------------------------------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(prog="python -m tinyalstm.train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", choices=("synthetic", "ucf101", "hmdb51", "features"), default="synthetic",
                    help="synthetic (default: generated once into --root or ~/.cache/tinyalstm/synthetic), ucf101 "
                         "(<root>/UCF-101 + <root>/ucfTrainTestlist), hmdb51 (<root>/hmdb51_org + "
                         "<root>/testTrainMulti_7030_splits), features (<root>/<rgb|flow>/<Class>/<video>.npy + "
                         "<root>/ucfTrainTestlist)")
    ap.add_argument("--root", type=Path, default=None, help="dataset folder (required except for synthetic)")
    ap.add_argument("--split", type=int, choices=(1, 2, 3), default=1, help="official split (default 1)")
    ap.add_argument("--model", choices=MODELS, default="videolstm", help="see the list above (default videolstm)")
    ap.add_argument("--modality", choices=("rgb", "flow"), default="rgb",
                    help="feature maps of single-stream models (default rgb); alstm and videolstm read both")
    ap.add_argument("--device", choices=("cpu", "cuda"), default=None,
                    help="default: TINYALSTM_DEVICE, else cuda when CuPy sees a GPU, else cpu")
    ap.add_argument("--epochs", type=int, default=15, help="training epochs of the recurrent model (default 15)")
    ap.add_argument("--batch-size", type=int, default=16, help="videos per minibatch (default 16)")
    ap.add_argument("--lr", type=float, default=1e-3, help="RMSprop learning rate (authors' code: 1e-3)")
    ap.add_argument("--seed", type=int, default=0, help="seed of weights, windows and dropout (default 0)")
    ap.add_argument("--out", type=Path, default=Path("runs/default"), help="output folder (default runs/default)")
    ap.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.npz")
    ap.add_argument("--frames", type=int, default=16, help="window length T (authors: 30; default 16)")
    ap.add_argument("--hidden", type=int, default=32, help="hidden channels/units K (paper: 512; default 32)")
    ap.add_argument("--fc-dim", type=int, default=256, help="head's fully connected size (paper: 1024; default 256)")
    ap.add_argument("--dropout", type=float, default=0.7, help="head dropout (paper: 0.7)")
    ap.add_argument("--eval-windows", type=int, default=5,
                    help="test windows per video in the per-epoch evaluation (the final one always uses 25)")
    ap.add_argument("--size", type=int, default=64, help="frame size for the frame encoders (default 64)")
    ap.add_argument("--encoder-epochs", type=int, default=8,
                    help="frame encoder epochs (default 8; 0 keeps the random initial weights, whose maps the "
                         "recurrent model then reads)")
    ap.add_argument("--work", type=Path, default=None,
                    help="cache for frames, flow, encoders and features (default <root>/.tinyalstm-work/<hash of "
                         "the benchmark's options> or ~/.cache/tinyalstm/work-<dataset>-<hash of --root>)")
    args = ap.parse_args(argv)
    for flag in ("epochs", "batch_size", "frames", "hidden", "fc_dim", "eval_windows", "size", "encoder_epochs"):
        least = 0 if flag == "encoder_epochs" else 1
        if getattr(args, flag) < least:
            ap.error(f"--{flag.replace('_', '-')}: expected an integer >= {least}, got {getattr(args, flag)}")
    if not (args.lr > 0 and math.isfinite(args.lr)):
        ap.error(f"--lr: expected a positive number, got {args.lr}")
    if not 0 <= args.dropout < 1:
        ap.error(f"--dropout: expected a probability in [0, 1), got {args.dropout}")
    if args.dataset != "synthetic" and args.root is None:
        ap.error(f"--root is required for --dataset {args.dataset}")
    if args.root is not None and not args.root.is_dir():
        ap.error(f"--root {args.root}: not a folder")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.device:
        backend.set_device(args.device)
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    t_start = time.perf_counter()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    data = load_data(args, log)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    config.update(device=backend.get_device(), classes=data.classes, feature_shape=list(data.feature_shape),
                  train_videos=len(data.train), test_videos=len(data.test), convnet=data.convnet)
    dump_json(config, out / "config.json")
    C = len(data.classes)
    if args.model == "convnet":
        acc = data.convnet[args.modality]
        dump_json({"model": "convnet", "modality": args.modality, "test_accuracy": acc}, out / "result.json")
        log(f"ConvNet ({args.modality}) test accuracy {acc:.3f} (chance {1 / C:.3f})")
        return {"test_accuracy": acc}
    D, N = data.feature_shape[0], data.feature_shape[1]
    model = build_model(args, D, N, C)
    opt = RMSprop(lr=args.lr, rho=0.9, eps=1e-6)
    reader = WindowReader(data, args.model, args.modality)
    dtype = model.dtype
    start, rng, metrics = 0, np.random.default_rng(args.seed), []
    ckpt = out / "checkpoint.npz"
    if args.resume and ckpt.exists():
        start, rng, metrics = load_checkpoint(ckpt, model, opt, config)
        log(f"resumed from {ckpt} after epoch {start}")
    elif args.resume:
        log(f"--resume: no checkpoint in {out}, starting from scratch")
    (out / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    log(f"training {args.model} on {len(data.train)} videos, windows of {args.frames} frames, maps "
        f"{tuple(data.feature_shape)}, device {backend.get_device()}")
    for epoch in range(start + 1, args.epochs + 1):
        t0 = time.perf_counter()
        try:
            loss = train_batches(model, opt, training_batches(reader, data.train, args.frames, args.batch_size,
                                                               rng, dtype), rng)
        except FloatingPointError as err:
            log(f"stopped at epoch {epoch}: {err}. The last good checkpoint ({ckpt}, epoch {epoch - 1}) is kept; "
                f"lower --lr and rerun with --resume.")
            return None
        scores, labels, _ = evaluate_videos(model, reader, data.test, args.frames, args.eval_windows, dtype)
        acc, mAP = accuracy_and_map(scores, labels)
        row = {"epoch": epoch, "train_loss": loss, "test_acc": acc, "test_map": mAP,
               "seconds": time.perf_counter() - t0}
        metrics.append(row)
        with open(out / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        save_checkpoint(ckpt, model, opt, epoch, rng, metrics, config)
        log(f"epoch {epoch:3d}/{args.epochs}  loss {loss:.4f}  test acc {acc:.3f}  mAP {mAP:.3f}  "
            f"({row['seconds']:.1f} s, {args.eval_windows} windows/video)")
    scores, labels, attention = evaluate_videos(model, reader, data.test, args.frames, 25, dtype, keep_attention=3)
    acc, mAP = accuracy_and_map(scores, labels)
    result = {"model": args.model, "modality": args.modality, "test_accuracy": acc, "test_map": mAP,
              "chance": 1 / C, "convnet": data.convnet, "epochs": args.epochs, "windows": 25,
              "seconds": time.perf_counter() - t_start}
    dump_json(result, out / "result.json")
    np.save(out / "test_scores.npy", scores)
    np.save(out / "test_labels.npy", labels)
    _pictures(args, data, metrics, attention, out, log)
    log(f"{args.model}: test accuracy {acc:.3f}, mAP {mAP:.3f} (chance {1 / C:.3f}; 25 windows per video) "
        f"in {result['seconds']:.0f} s; outputs in {out}")
    return result


def load_data(args, log=print):
    """The FeatureData a run reads, from its arguments (train and evaluate share it; cached stages are reused)."""
    mods = [m for m in modalities_of(args.model, args.modality) if m]
    if args.dataset == "features":
        return prepare_given_features(args.root, args.split, mods, log=log)
    root = args.root
    if args.dataset == "synthetic":
        root = root or default_synthetic_root()
        ensure_synthetic(root, log=log)
    work = args.work or default_work(args.dataset, root)
    return prepare_video_features(args.dataset, root, args.split, mods, work, size=args.size,
                                  enc_epochs=args.encoder_epochs, seed=args.seed, log=log)


def _pictures(args, data, metrics, attention, out, log):
    """Curves and attention overlays; a missing video or plotting problem is reported, never fatal."""
    try:
        from . import plots
        plots.plot_curves(metrics, out / "curves.png")
        for key, idx, att in attention:
            path = data.video_paths.get(key)
            if path is None:
                continue
            from .video import read_video
            frames = read_video(path, size=args.size)
            frames = frames[np.minimum(idx, len(frames) - 1)]      # the window, padded like the features
            name = key.replace("/", "_")
            if att.ndim == 3:          # (T, N, N) spatial maps
                plots.spatial_attention_overlay(frames, att, out / f"attention_{name}.png", title=key)
            else:                      # (steps, T) temporal weights of aLSTM: averaged over steps
                plots.temporal_attention_figure(frames, att.mean(axis=0), out / f"attention_{name}.png", title=key)
    except Exception as err:  # pictures are a convenience: report, keep the run's results
        log(f"pictures skipped: {type(err).__name__}: {err}")


if __name__ == "__main__":
    main()
