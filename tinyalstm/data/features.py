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

Parallel extraction (``workers > 1``): the per-video work (frames_of, encode, the atomic write) runs on worker
processes (``workers.ordered_map``) and gives the same files, byte for byte, and the same report, entry for entry
and in the same order, as one worker. frames_of, encode and the videos then travel to the workers by pickling
(module-level functions, ``functools.partial`` of them, bound methods of picklable objects such as
``FrameEncoder.features``; not lambdas or closures).
"""
import json
import sys
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import backend
from ..progress import progress as show_progress
from ..storage import save_json, save_npy
from .datasets import SkipReport, Split, load_ucf101
from .workers import check_picklable, ordered_map

class FeatureError(ValueError):
    """A feature file that is missing, unreadable or of the wrong shape; the message names the file."""


def feature_path(root, key):
    return Path(root) / f"{key}.npy"


def extract_features(items, frames_of, encode, root, feature_shape, dtype=np.float16, batch=64, report=None,
                     progress=True, desc="features", workers=1):
    """Encode every video once and cache its maps.

    items: iterable of (key, video) pairs; frames_of(video) -> uint8 frames (F, H, W, C) (may raise: the video is
    then skipped and reported); encode(frames uint8 (b, H, W, C)) -> maps (b, D, N, N) on any device.
    Videos whose cache file already exists with the right shape are not recomputed. workers: processes doing the
    per-video work (1: this process; see the module docstring for more, and for what frames_of, encode and the
    videos must then be: picklable).
    -> the SkipReport (also printed to stderr at the end when it is not empty).
    """
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers: expected an integer >= 1, got {workers!r}")
    own_report, report = report is None, SkipReport() if report is None else report
    known_bad = set(report.names)     # skipped by an earlier pass (RGB before flow): not read, not reported again
    todo = [(key, video) for key, video in items
            if key not in known_bad and not _cached(feature_path(root, key), feature_shape)]
    job = _Job(frames_of, encode, Path(root), tuple(feature_shape), np.dtype(dtype), int(batch))
    if workers > 1 and todo:
        check_picklable(workers, frames_of=job.frames_of, encode=job.encode, videos=todo[0][1])

    def bar(iterable):
        return show_progress(iterable, total=len(todo), desc=desc, unit="videos") if progress and todo else iterable

    if workers > 1 and len(todo) > 1:
        results = ordered_map(_extract_one, job, todo, min(int(workers), len(todo)), bar,
                              cleanup=lambda item: _remove_partial(feature_path(root, item[0])))
    else:
        results = (_extract_one(job, item) for item in bar(todo))
    for entries in results:
        for name, reason in entries:
            report.add(name, reason)
    if report.count and progress and own_report:     # a caller's report is printed by the caller, once
        print(f"feature extraction: {report.summary()}", file=sys.stderr)
    return report


class _Job(NamedTuple):
    """What every video of one extraction pass shares (sent once to each worker process)."""
    frames_of: object
    encode: object
    root: Path
    feature_shape: tuple
    dtype: np.dtype
    batch: int


def _extract_one(job, item):
    """One video, item = (key, video): decode, encode, write -> the (name, reason) entries it adds to the report
    (none or one). Errors other than frames_of's (the encoder's, a full disk) propagate and stop the pass, as with
    one worker."""
    key, video = item
    skipped = SkipReport()
    frames = skipped.attempt(key, job.frames_of, video)
    if frames is not None:
        if len(frames) == 0:
            skipped.add(key, "no frames")
        else:
            _write(feature_path(job.root, key), frames, job.encode, job.feature_shape, job.dtype, job.batch)
    return skipped.skipped


def _remove_partial(path):
    """What a worker stopped mid-write leaves (storage.write_atomic's temporary file)."""
    path.with_name(path.name + ".partial").unlink(missing_ok=True)


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
    except ValueError as err:
        what = ("it holds Python objects (a pickled object array), not numbers" if "allow_pickle" in str(err)
                else f"truncated or damaged ({err})")
        raise FeatureError(f"{path}: not a readable .npy file: {what}") from None
    except OSError as err:
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


def first_non_finite(path, verdicts=None, chunk=64):
    """The first frame of the feature file ``path`` holding NaN or inf, or None when all values are finite. Reads
    the whole file, in chunks of frames; ``verdicts`` (a dict, e.g. ``FeatureChecks``) remembers the answer per
    file, keyed by its size and modification time, so unchanged files are read once."""
    path = Path(path)
    st = path.stat()
    key, stamp = str(path.resolve()), [st.st_size, st.st_mtime_ns]
    if verdicts is not None and key in verdicts and verdicts[key][:2] == stamp:
        return verdicts[key][2]
    arr = np.load(path, mmap_mode="r", allow_pickle=False)
    bad = None
    for s in range(0, len(arr), chunk):
        finite = np.isfinite(np.asarray(arr[s:s + chunk])).reshape(len(arr[s:s + chunk]), -1).all(axis=1)
        if not finite.all():
            bad = int(s + np.flatnonzero(~finite)[0])
            break
    if verdicts is not None:
        verdicts[key] = stamp + [bad]
    return bad


class FeatureChecks(dict):
    """``first_non_finite``'s verdicts, kept in a JSON file (a cache: a damaged or missing file means "check
    again")."""

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)
        try:
            self.update(json.loads(self.path.read_text()))
        except (OSError, ValueError):
            pass

    def save(self):
        try:
            save_json(self.path, dict(self))
        except OSError:
            pass                    # a cache that cannot be written costs a re-check next time, nothing more


def validate_feature_files(groups, report, verdicts=None, shape=None):
    """One check of every feature file a run will read: groups {name: [Sample]} (e.g. per modality and subset)
    -> ({name: [Sample kept]}, shape (D, N, N)). Without ``shape`` it is decided by the files: the most common
    (D, N, N) among the readable float files of all groups, never by whichever comes first. Missing, unreadable,
    pickled or integer files, files of another shape and files holding NaN or inf are skipped into ``report``, each
    with its reason and path."""
    headers = {}
    for samples in groups.values():
        for s in samples:
            p = Path(s.path)
            try:
                headers[s.path] = tuple(load_features(p.parent, p.stem).shape[1:])
            except FeatureError as err:
                report.add(s.name, str(err))
    if not headers:
        raise FeatureError("no readable feature file among the ones the split lists name (see the report)")
    shapes = Counter(headers.values())
    decided = shape is None
    shape = shapes.most_common(1)[0][0] if decided else tuple(shape)
    kept = {}
    for name, samples in groups.items():
        kept[name] = []
        for s in samples:
            if s.path not in headers:
                continue
            if headers[s.path] != shape:
                report.add(s.name, f"{s.path}: expected (frames, {', '.join(map(str, shape))}), got maps of "
                                   f"{headers[s.path]}" + (f" ({shapes[shape]} of the {len(headers)} readable "
                                                           f"files have {shape})" if decided else ""))
                continue
            bad = first_non_finite(s.path, verdicts)
            if bad is not None:
                report.add(s.name, f"{s.path}: NaN or inf values (first in frame {bad})")
                continue
            kept[name].append(s)
    return kept, shape


def load_feature_split(root, split=1, subset="train", feature_shape=None, on_error="skip", report=None):
    """A feature dataset's split -> Split whose samples' ``path`` is the ``.npy`` file. Lines naming a missing
    file and files that ``validate_feature_files`` rejects (another shape than ``feature_shape`` or than most
    files, not floats, NaN or inf) are skipped into the report (``on_error="skip"``) or raised (``"raise"``); every
    file is checked here, so a bad file is found before training starts rather than halfway through an epoch."""
    split_ = load_ucf101(root, split=split, subset=subset, on_error=on_error, videos_dir=root, report=report,
                         suffix=".npy")
    if on_error == "raise":
        for sample in split_.samples:
            load_features(Path(sample.path).parent, Path(sample.path).stem, feature_shape)
            if first_non_finite(sample.path) is not None:
                raise FeatureError(f"{sample.path}: NaN or inf values")
        return split_
    kept, _ = validate_feature_files({subset: split_.samples}, split_.report, shape=feature_shape)
    return Split(kept[subset], split_.classes, split_.report)
