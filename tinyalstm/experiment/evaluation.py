"""Evaluating trained models: in-memory sequences (the learning check, the tutorials) and videos with
VideoLSTM's test protocol (25 evenly spaced windows per video, softmax summed over a window's steps, averaged over
windows; data/windows.py), alone or late-fused (VideoLSTM Table 3).
"""
import zlib
from pathlib import Path

import numpy as np

from .. import backend
from ..checks import RunError
from ..data.windows import chunk_windows, test_windows
from ..metrics import (accuracy, late_fusion, mean_average_precision, video_binary_cross_entropy,
                       video_cross_entropy, weighted_fusion)
from ..models import CONVNET
from ..run.checkpoints import read_config
from .parts import load_run


def sequence_inputs(model, data, idx):
    """(first, y, second or None) of the examples ``idx`` of an in-memory dict with V, y and A (aLSTM's names)."""
    return data["V"][idx], data["y"][idx], (data["A"][idx] if model.reads_second else None)


def evaluate_sequences(model, data, batch_size=256):
    """-> (accuracy, probabilities (n, C), attention weights (n, steps, T) or None), without dropout."""
    probs, weights = [], []
    for start in range(0, len(data["y"]), batch_size):
        idx = np.arange(start, min(start + batch_size, len(data["y"])))
        V, _, A = sequence_inputs(model, data, idx)
        p, w = model.predict(V, A)
        probs.append(backend.to_numpy(p))
        weights.append(None if w is None else backend.to_numpy(w))
    probs = np.concatenate(probs)
    w = None if weights[0] is None else np.concatenate(weights)
    return float((probs.argmax(axis=1) == data["y"]).mean()), probs, w


def evaluate_videos(model, reader, items, T, n_windows, dtype, keep_attention=0, chunks=0):
    """VideoLSTM's protocol over ``items`` [(key, label)] read by ``reader`` (a ``data.windows.WindowReader``):
    ``n_windows`` evenly spaced windows per video; or, with ``chunks`` > 0, aLSTM's (sec. 4.1): ``chunks`` random
    windows and their left-right mirrored copies (the reader's mirrored maps), drawn by a generator seeded with
    the video's name so every model sees the same chunks -> (scores (V, C), labels (V,) or multi-label (V, C)
    indicators, attention of the middle
    windows of up to ``keep_attention`` videos, the first of each class met, as [(key, frame indices,
    attention)]). Scores are the class probabilities averaged over steps and windows (model.predict averages over
    steps, i.e. the sum over steps / T: the same ranking as the sum)."""
    scores, attention, shown = [], [], set()
    for key, label in items:
        flips = None
        if chunks:
            rng = np.random.default_rng(zlib.crc32(key.encode()))
            wins = np.concatenate([chunk_windows(reader.length(key), T, chunks, rng)] * 2)
            flips = [False] * chunks + [True] * chunks
        else:
            wins = test_windows(reader.length(key), T, n_windows)
        first, _, second = reader.batch([(key, 0)] * len(wins), list(wins), dtype, flips)
        probs, att = model.predict(first, second)
        scores.append(backend.to_numpy(probs).mean(axis=0))
        if len(attention) < keep_attention and att is not None and label not in shown:
            shown.add(label)
            mid = len(wins) // 2
            attention.append((key, wins[mid], backend.to_numpy(att)[mid]))
    return np.stack(scores), reader.labels(items), attention


def video_metrics(scores, labels):
    """The figures of video scores (V, C): {"loss", "acc", "map"} at single labels (V,) (cross-entropy, top-1
    accuracy, mean AP over classes); {"loss", "map"} at multi-label (V, C) indicators (binary cross-entropy, mean
    AP: top-1 accuracy has no meaning when a clip has several classes, aLSTM reports mAP on HOHA2)."""
    if np.ndim(labels) == 2:
        return {"loss": video_binary_cross_entropy(scores, labels), "map": mean_average_precision(scores, labels)}
    return {"loss": video_cross_entropy(scores, labels), "acc": accuracy(scores, labels),
            "map": mean_average_precision(scores, labels)}


def fuse_runs(a, b, subset="test"):
    """Late fusion by product (VideoLSTM Table 3) of the video scores two run folders ``a``, ``b`` saved for
    ``subset`` ("test" or "validation": <subset>_scores.npy, <subset>_labels.npy) -> video_metrics of the fusion.
    A RunError names a damaged file, scores of other shapes, or runs scored on other videos."""
    sa, sb = (_load_array(Path(r) / f"{subset}_scores.npy") for r in (a, b))
    la, lb = (_load_array(Path(r) / f"{subset}_labels.npy") for r in (a, b))
    if sa.shape != sb.shape or sa.ndim != 2 or len(la) != len(sa):
        raise RunError(f"{a}, {b}: the saved {subset} scores {sa.shape} and {sb.shape} (and their labels) do not "
                       f"match; delete the run folders to redo the runs")
    if not np.array_equal(la, lb):
        raise RunError(f"{a}, {b}: the runs were scored on different {subset} videos")
    return video_metrics(late_fusion(sa, sb, "product"), la)


def _load_array(path):
    """A run's saved scores or labels (.npy, no pickle) -> the array; a RunError naming the file otherwise."""
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise RunError(f"{path}: unreadable ({type(err).__name__}); the file is damaged or missing: delete the run "
                       f"folder {path.parent} to redo the run") from None
    if x.dtype.kind not in "fiub" or (x.dtype.kind == "f" and not np.isfinite(x).all()):
        raise RunError(f"{path}: expected finite numbers, got {x.dtype} data; delete the run folder {path.parent} "
                       f"to redo the run")
    return x


def evaluate_checkpoint(path, windows=25, log=print, chunks=None, root=None, scheduler=None):
    """-> (scores (V, C), labels (V,), test keys, config) of one checkpoint on its own test split, with ``windows``
    evenly spaced windows, or aLSTM's ``chunks`` (default: the run's own ``test_chunks``). ``root``: where the
    run's dataset is now, if it was moved (``parts.saved_run_data``). ``scheduler``: a Dask cluster for the caches
    that must be rebuilt (``parts.load_run``)."""
    config = read_config(path)
    if config["model"] == CONVNET:
        raise RunError(f"--checkpoint {path}: ConvNet runs keep no checkpoint; their accuracy is in result.json")
    data, model, reader = load_run(config, path, log, root, scheduler)
    chunks = config.get("test_chunks", 0) if chunks is None else chunks
    if chunks and not data.flipped_roots:
        raise RunError(f"--chunks {chunks}: the run behind {path} has no mirrored maps (train it with "
                       f"--test-chunks or --flip)")
    scores, labels, _ = evaluate_videos(model, reader, data.test, config["frames"], windows, model.dtype,
                                        chunks=chunks)
    return scores, labels, [k for k, _ in data.test], config


def fused_rows(evaluated, weights=None, method="product"):
    """Rows {name: (scores, labels)} of evaluated checkpoints [(scores, labels, keys, config), ...], and, for two or
    more, their late fusion (``metrics.weighted_fusion``; weights default to 1 each); a RunError when their
    test videos differ."""
    first_scores, labels, keys, _ = evaluated[0]
    rows = {}
    for scores, other_labels, other_keys, cfg in evaluated:
        if other_keys != keys or not np.array_equal(other_labels, labels):
            raise RunError("--fuse: the checkpoints' test videos differ (other dataset or split); late fusion "
                           "needs the same videos")
        name = f"{cfg['model']} ({cfg['modality']})"
        while name in rows:
            name += "'"
        rows[name] = (scores, labels)
    if len(evaluated) > 1:
        weights = [1.0] * len(evaluated) if weights is None else list(weights)
        label = f"late fusion ({method}" + ("" if len(set(weights)) == 1 else
                                            ", weights " + " ".join(f"{w:g}" for w in weights)) + ")"
        rows[label] = (weighted_fusion([e[0] for e in evaluated], weights, method), labels)
    return rows
