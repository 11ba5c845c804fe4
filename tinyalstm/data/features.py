"""The on-disk feature cache: one ``.npy`` file per video holding its frame encoder maps ``(frames, D, N, N)``,
read back memory-mapped, so that training touches only the windows it samples and memory does not grow with the
number of videos.

Layout (also the format for features computed elsewhere, e.g. VGG16 pool5 maps of shape (frames, 512, 7, 7)):

    <root>/<key>.npy        key = the video's path relative to its dataset root without the extension,
                            e.g. ``ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01``; any float dtype (float16 halves
                            the disk and page-cache footprint; the loader converts windows to the model's dtype)

A feature dataset is that folder plus UCF101's split lists (``<root>/ucfTrainTestlist/``: classInd.txt,
trainlist0k.txt, testlist0k.txt, naming the ``.avi`` videos); ``load_feature_split`` reads it with the UCF101
loader, looking for ``.npy`` files instead. Our own cache copies the dataset's lists beside the features.

Writing is atomic (``storage.write_atomic``): a file is written as ``<key>.npy.partial`` and renamed when
complete, so a pass killed halfway or a full disk leaves no truncated feature file, and rerunning it skips the
videos already cached (resume).
"""
import sys
import time
from pathlib import Path

import numpy as np

from .. import backend
from ..storage import save_npy
from .datasets import SkipReport, Split, load_ucf101


class FeatureError(ValueError):
    """A feature file that is missing, unreadable or of the wrong shape; the message names the file."""


def feature_path(root, key):
    return Path(root) / f"{key}.npy"


def extract_features(items, frames_of, encode, root, feature_shape, dtype=np.float16, batch=64, report=None,
                     progress=True):
    """Encode every video once and cache its maps.

    items: iterable of (key, video) pairs; frames_of(video) -> uint8 frames (F, H, W, C) (may raise: the video is
    then skipped and reported); encode(frames uint8 (b, H, W, C)) -> maps (b, D, N, N) on any device.
    Videos whose cache file already exists with the right shape are not recomputed.
    -> the SkipReport (also printed to stderr at the end when it is not empty).
    """
    report = SkipReport() if report is None else report
    items = list(items)
    start, done = time.perf_counter(), 0
    for count, (key, video) in enumerate(items, 1):
        path = feature_path(root, key)
        if _cached(path, feature_shape):
            continue
        frames = report.attempt(key, frames_of, video)
        if frames is None:
            continue
        if len(frames) == 0:
            report.add(key, "no frames")
            continue
        _write(path, frames, encode, feature_shape, dtype, batch)
        done += 1
        if progress and (count == len(items) or count % 10 == 0):
            rate = done / max(1e-9, time.perf_counter() - start)
            print(f"\rfeatures: {count}/{len(items)} videos ({rate:.1f} videos/s)", end="", file=sys.stderr,
                  flush=True)
    if progress and done:
        print(file=sys.stderr)
    if report.count and progress:
        print(f"feature extraction: {report.summary()}", file=sys.stderr)
    return report


def _cached(path, feature_shape):
    if not path.exists():
        return False
    try:
        arr = np.load(path, mmap_mode="r")
    except (ValueError, OSError):
        return False                       # unreadable leftovers are recomputed, not trusted
    return arr.ndim == 4 and tuple(arr.shape[1:]) == tuple(feature_shape)


def _write(path, frames, encode, feature_shape, dtype, batch):
    # one video's maps in memory, then an ordinary atomic write: a memory-mapped write would die (SIGBUS, no
    # message) on a full disk
    out = np.empty((len(frames), *feature_shape), dtype=dtype)
    for s in range(0, len(frames), batch):
        maps = backend.to_numpy(encode(frames[s:s + batch]))
        if tuple(maps.shape[1:]) != tuple(feature_shape):
            raise FeatureError(f"{path}: the encoder returned maps of shape {tuple(maps.shape[1:])}, expected "
                               f"{tuple(feature_shape)}")
        out[s:s + batch] = maps
    save_npy(path, out)


def load_features(root, key, feature_shape=None):
    """Memory-map the features of one video: -> array (frames, D, N, N), nothing read until indexed.
    Raises FeatureError naming the file when it is missing, unreadable, not 4-d, empty or of the wrong shape."""
    path = feature_path(root, key)
    if not path.exists():
        raise FeatureError(f"{path}: feature file not found (key {key!r})")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as err:
        raise FeatureError(f"{path}: not a readable .npy file ({err})") from None
    if arr.ndim != 4 or arr.shape[0] == 0:
        raise FeatureError(f"{path}: expected features of shape (frames, D, N, N) with frames >= 1, got "
                           f"{tuple(arr.shape)}")
    if feature_shape is not None and tuple(arr.shape[1:]) != tuple(feature_shape):
        raise FeatureError(f"{path}: expected (frames, {', '.join(map(str, feature_shape))}), got "
                           f"{tuple(arr.shape)}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise FeatureError(f"{path}: expected a float dtype, got {arr.dtype}")
    return arr


def gather_window(features, indices, dtype=np.float32):
    """Frames ``indices`` (T,) of a memory-mapped (frames, D, N, N) array -> (T, D, N, N) in memory; indices past
    the end repeat the last frame (short videos are padded, as the decoder does)."""
    idx = np.minimum(np.asarray(indices), len(features) - 1)
    return np.asarray(features[idx], dtype=dtype)


def load_feature_split(root, split=1, subset="train", feature_shape=None, on_error="skip", report=None):
    """A feature dataset's split -> Split whose samples' ``path`` is the ``.npy`` file. Lines naming a missing file
    and files that are not (frames, D, N, N) floats (or not ``feature_shape``) are skipped into the report
    (``on_error="skip"``) or raised (``"raise"``); every file's header is read once here, so a bad file is found
    before training starts rather than halfway through an epoch."""
    split_ = load_ucf101(root, split=split, subset=subset, on_error=on_error, videos_dir=root, report=report,
                         suffix=".npy")
    good = []
    for sample in split_.samples:
        try:
            arr = load_features(Path(sample.path).parent, Path(sample.path).stem, feature_shape)
        except FeatureError as err:
            if on_error == "raise":
                raise
            split_.report.add(sample.name, str(err))
            continue
        if feature_shape is None:
            feature_shape = arr.shape[1:]
        good.append(sample)
    return Split(good, split_.classes, split_.report)
