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

``--dataset features`` (pipeline.prepare_given_features) reads one such folder per modality:

    <root>/<modality>/<Class>/<video>.npy    modality = rgb or flow; any float dtype; one of
        maps     (frames, D, N, N)   e.g. VGG16 pool5 (frames, 512, 7, 7), for every model; the vector models
                                     (lstm, alstm, alstm-b) pool them over the N x N locations
        vectors  (frames, D)         read as they are by the vector models: aLSTM's features (sec. 4.1), e.g.
                                     flow/ = input-data, one C3D fc6 vector per 16-frame chunk, (N, 4096), and
                                     rgb/ = attended-data, one VGG fc8 vector per frame or per chunk, (T, 1000)
    <root>/ucfTrainTestlist/                 UCF101's split lists, naming <Class>/<video>.avi

Each modality holds maps or vectors (whichever most of its readable files are). Maps share one (D, N, N) across
the modalities (the most common among their files); each modality of vectors has its own (D,) (the most common
among its files: dv of the input-data, da of the attended-data). A "row" is the first axis. The attended-data may
have r rows per row of the input-data, the same integer r for every video (aLSTM's T = 2N experiment: r = 2; r
is decided by the files, see ``windows.rows_per_input_step``). ``validate_modalities`` checks every file once
and skips, naming the file and the reason: missing, unreadable, truncated, pickled or integer files, 1-d or 3-d
arrays, vectors among maps (or maps among vectors), another shape than the modality's, NaN or inf values.

Writing is atomic (``run.storage.write_atomic``): a file is written as ``<key>.npy.partial`` and renamed when
complete, so a pass killed halfway or a full disk leaves no truncated feature file, and rerunning it skips the
videos already cached (resume).

What a cache entry was made from (``source_of``): each pass records, in ``<root>/inputs.json``, the size and
modification time of every video's input file when it was read (for videos also a SHA-256 of its content,
``hash_sources``), and ``depends``, what every entry also depends on (the frame encoder's weights for the maps,
as ``{"frame encoder weights": digest}``).
A cached entry is reused only while its input is unchanged: same size and time, or, when only the time moved (a
copied dataset, a touched file), the same content. A changed input is recomputed and its stale file removed first,
so a video that changed into something unreadable is skipped and reported, never read from its old frames; a
changed ``depends`` recomputes every entry. Entries with no record (a pass cut short, a cache from before the
records) are reused when the cache file is newer than its input (make's rule) and recorded then; with ``depends``
and no record at all, nothing is reused. Checking costs a stat per video (13,320 stats of UCF101's files: about
0.08 s); a content hash costs a read of the file (SHA-256 at about 1.5 GB/s: 4 s for UCF101's 6.5 GB from the page
cache, the disk's read rate otherwise), paid once when a video is cached (beside its decoding) and again only for
files whose time changed.

Parallel extraction (``workers > 1``, or ``scheduler``, a Dask cluster): the per-video work (frames_of, encode,
the atomic write) runs on worker processes (``workers.ordered_map``) and gives the same files, byte for byte, and
the same report, entry for entry and in the same order, as one worker. frames_of, encode and the videos then
travel to the workers by pickling (module-level functions, ``functools.partial`` of them, bound methods of
picklable objects such as ``FrameEncoder.features``; not lambdas or closures). On a cluster the workers write the
files themselves, so the cache folder and the inputs must be on a filesystem they share with this machine, at the
same paths; that is checked before the pass (``cluster.check_shared``).
"""
import hashlib
import json
import os
import sys
from collections import Counter
from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import backend
from ..run.progress import progress as show_progress
from ..run.storage import save_json, save_npy
from .cluster import check_shared, connected
from .datasets import SkipReport, Split, load_ucf101
from .workers import check_picklable, ordered_map

class FeatureError(ValueError):
    """A feature file that is missing, unreadable or of the wrong shape; the message names the file."""


def feature_path(root, key):
    return Path(root) / f"{key}.npy"


def extract_features(items, frames_of, encode, root, feature_shape, dtype=np.float16, batch=64, report=None,
                     progress=True, desc="features", workers=1, source_of=None, hash_sources=False, depends=None,
                     log=None, scheduler=None):
    """Encode every video once and cache its maps.

    items: iterable of (key, video) pairs; frames_of(video) -> uint8 frames (F, H, W, C) (may raise: the video is
    then skipped and reported); encode(frames uint8 (b, H, W, C)) -> maps (b, D, N, N) on any device.
    Videos whose cache file already exists with the right shape are not recomputed; with ``source_of(video)`` -> the
    path of the file it is made from, only while that file is unchanged (module docstring: ``inputs.json``;
    ``hash_sources``: also compare contents; ``depends``: a JSON value every entry also depends on). ``log``: where
    the count of changed videos is said (default: stderr when ``progress``). workers: processes doing the per-video
    work (1: this process; see the module docstring for more, and for what frames_of, encode, source_of and the
    videos must then be: picklable). scheduler: a Dask scheduler's address ('tcp://host:8786') or a
    ``distributed.Client``: the work runs on that cluster instead (``workers`` is then not used; cluster.py; the
    cluster is contacted only when there is work to do).
    -> the SkipReport (also printed to stderr at the end when it is not empty).
    """
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers: expected an integer >= 1, got {workers!r}")
    own_report, report = report is None, SkipReport() if report is None else report
    known_bad = set(report.names)     # skipped by an earlier pass (RGB before flow): not read, not reported again
    items = list(items)
    record = None if source_of is None else InputRecord(root, depends)
    if record is not None:            # but not read from what they were before they changed either
        for key, video in items:
            if key in known_bad and feature_path(root, key).exists() and not record.current(key, source_of(video)):
                feature_path(root, key).unlink(missing_ok=True)
                record.set(key, None)
    items = [(key, video) for key, video in items if key not in known_bad]
    todo, changed = [], []
    for key, video in items:
        if not _cached(feature_path(root, key), feature_shape):
            todo.append((key, video))
        elif record is not None and not record.current(key, source_of(video), hash_sources):
            feature_path(root, key).unlink(missing_ok=True)      # stale: never read again, even if redoing fails
            changed.append(key)
            todo.append((key, video))
    if changed and (log is not None or progress):
        (log or _to_stderr)(f"{desc}: {_changed_line(changed, record)}")
    # absolute: a worker on a cluster resolves a relative path from its own working folder
    job = _Job(frames_of, encode, Path(os.path.abspath(root)), tuple(feature_shape), np.dtype(dtype), int(batch),
               source_of, bool(hash_sources))
    if (workers > 1 or scheduler is not None) and todo:
        check_picklable(f"workers={workers}" if scheduler is None else f"scheduler={scheduler}",
                        frames_of=job.frames_of, encode=job.encode, videos=todo[0][1], source_of=job.source_of)

    def bar(iterable):
        return show_progress(iterable, total=len(todo), desc=desc, unit="videos") if progress and todo else iterable

    cleanup = partial(_remove_partial_of, job.root)
    with connected(scheduler if todo else None) as client:
        if client is not None:
            check_shared(client, job.root, _first_input(source_of, todo))
            results = ordered_map(_extract_one, job, todo, bar=bar, cleanup=cleanup, client=client)
        elif workers > 1 and len(todo) > 1:
            results = ordered_map(_extract_one, job, todo, min(int(workers), len(todo)), bar, cleanup)
        else:
            results = (_extract_one(job, item) for item in bar(todo))
        try:
            for (entries, stamp), (key, _) in zip(results, todo):
                for name, reason in entries:
                    report.add(name, reason)
                if record is not None:
                    record.set(key, None if entries else stamp)
        except BaseException:
            if record is not None:
                record.save(quiet=True)     # what was done stays recorded; a failed save costs a re-check only
            raise
    if record is not None:
        record.save()
    if report.count and progress and own_report:     # a caller's report is printed by the caller, once
        print(f"feature extraction: {report.summary()}", file=sys.stderr)
    return report


def _first_input(source_of, todo):
    """[the file the first video of ``todo`` is made from], or [] (no ``source_of``, or it fails: the pass will
    say why)."""
    try:
        return [] if source_of is None else [source_of(todo[0][1])]
    except (OSError, TypeError):
        return []


def _to_stderr(msg):
    print(msg, file=sys.stderr)


def _changed_line(changed, record):
    names = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
    if not record.depends_changed:
        return f"{len(changed)} videos changed since they were cached: recomputed ({names})"
    what = " and ".join(record.depends) if isinstance(record.depends, dict) else "inputs"
    how = f"with other {what}" if record.found else f"with no record of their {what}"
    return f"{len(changed)} cached videos were made {how}: recomputed ({names})"


def file_stamp(path, content=False):
    """What identifies a file's version: [size, modification time in ns], and with ``content`` its SHA-256."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns] + ([content_hash(path)] if content else [])


def content_hash(path, chunk=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


class InputRecord:
    """``<root>/inputs.json``: per cached key the stamp (``file_stamp``) of the input it was made from, and the
    ``depends`` value of the pass that made it (module docstring). A damaged or missing file is an empty record
    (every entry then goes by make's rule, or is recomputed when ``depends`` is given)."""

    def __init__(self, root, depends=None):
        self.path = Path(root) / "inputs.json"
        try:
            saved = json.loads(self.path.read_text())
            entries = saved["entries"] if isinstance(saved.get("entries"), dict) else {}
            found, before = True, saved.get("depends")
        except (OSError, ValueError, AttributeError):
            entries, found, before = {}, False, None
        self.depends, self.found = depends, found
        self.depends_changed = depends is not None and (not found or before != depends)
        self.entries = {} if self.depends_changed else entries
        self.dirty = self.depends_changed

    def current(self, key, source, content=False):
        """Whether the cached entry ``key`` was made from ``source`` as it is now (recording it when it had no
        record and is newer than ``source``)."""
        if self.depends_changed:
            return False
        try:
            st = os.stat(source)
        except (OSError, TypeError):
            return False                          # the input is gone: redo, and let reading it report why
        saved = self.entries.get(key)
        if not isinstance(saved, list) or len(saved) < 2:
            try:
                newer = feature_path(self.path.parent, key).stat().st_mtime_ns > st.st_mtime_ns
            except OSError:
                return False
            if newer:
                self.set(key, [st.st_size, st.st_mtime_ns] + ([content_hash(source)] if content else []))
            return newer
        if saved[:2] == [st.st_size, st.st_mtime_ns]:
            return True
        if content and len(saved) > 2 and saved[0] == st.st_size and content_hash(source) == saved[2]:
            self.set(key, [st.st_size, st.st_mtime_ns, saved[2]])     # touched or copied: same bytes
            return True
        return False

    def set(self, key, stamp):
        if stamp is None:
            if self.entries.pop(key, None) is not None:
                self.dirty = True
        elif self.entries.get(key) != stamp:
            self.entries[key] = stamp
            self.dirty = True

    def save(self, quiet=False):
        if not self.dirty:
            return
        try:
            save_json(self.path, {"depends": self.depends, "entries": self.entries}, indent=None)
            self.dirty = False
        except OSError:
            if not quiet:
                raise


class _Job(NamedTuple):
    """What every video of one extraction pass shares (sent once to each worker process)."""
    frames_of: object
    encode: object
    root: Path
    feature_shape: tuple
    dtype: np.dtype
    batch: int
    source_of: object = None
    hash_sources: bool = False


def _extract_one(job, item):
    """One video, item = (key, video): decode, encode, write -> (the (name, reason) entries it adds to the report
    (none or one), the stamp of its input file taken before reading it (None without ``source_of``)). Errors other
    than frames_of's (the encoder's, a full disk) propagate and stop the pass, as with one worker."""
    key, video = item
    skipped = SkipReport()
    stamp = None
    if job.source_of is not None:
        try:                               # before reading: a change while it is read shows next time
            stamp = file_stamp(job.source_of(video), job.hash_sources)
        except (OSError, TypeError):
            stamp = None                   # unreadable: frames_of says why
    frames = skipped.attempt(key, job.frames_of, video)
    if frames is not None:
        if len(frames) == 0:
            skipped.add(key, "no frames")
        else:
            _write(feature_path(job.root, key), frames, job.encode, job.feature_shape, job.dtype, job.batch)
    return skipped.skipped, stamp


def _remove_partial_of(root, item):
    """What a worker stopped mid-write of ``item`` = (key, video) leaves (run.storage.write_atomic's temporary
    file)."""
    path = feature_path(root, item[0])
    path.with_name(path.name + ".partial").unlink(missing_ok=True)


def _cached(path, feature_shape):
    if not path.exists():
        return False
    try:
        arr = np.load(path, mmap_mode="r")
    except (ValueError, OSError):
        return False                       # unreadable leftovers are recomputed, not trusted
    return arr.ndim == len(feature_shape) + 1 and tuple(arr.shape[1:]) == tuple(feature_shape)  # maps or vectors


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
    """Memory-map the features of one video: -> array, maps (frames, D, N, N) or vectors (frames, D), nothing read
    until indexed. ``feature_shape``: the shape after ``frames`` it must have ((D, N, N) or (D,); None: either).
    Raises FeatureError naming the file when it is missing, unreadable, neither 4-d nor 2-d, empty, not floats
    or of the wrong shape."""
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
    if arr.ndim not in (2, 4) or 0 in arr.shape:
        raise FeatureError(f"{path}: expected features of shape (frames, D, N, N) (maps) or (frames, D) (vectors), "
                           f"non-empty, got {tuple(arr.shape)}")
    if feature_shape is not None and arr.ndim != len(feature_shape) + 1:
        raise FeatureError(f"{path}: expected features of shape (frames, {', '.join(map(str, feature_shape))}) "
                           f"({_kind(feature_shape)}), got {_kind(arr.shape[1:])} {tuple(arr.shape)}")
    if feature_shape is not None and tuple(arr.shape[1:]) != tuple(feature_shape):
        raise FeatureError(f"{path}: expected (frames, {', '.join(map(str, feature_shape))}), got "
                           f"{tuple(arr.shape)}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise FeatureError(f"{path}: expected a float dtype, got {arr.dtype}")
    return arr


def _kind(shape):
    """What features of shape (D, N, N) or (D,) (after the frames) are: "maps" or "vectors"."""
    return "vectors" if len(shape) == 1 else "maps"


def gather_window(features, indices, dtype=np.float32):
    """Frames (rows) ``indices`` (T,) of a memory-mapped (frames, D, N, N) or (frames, D) array -> (T, D, N, N) or
    (T, D) in memory; indices past the end repeat the last frame (short videos are padded, as the decoder does)."""
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
    """One check of every feature file a run will read, all of one shape: groups {name: [Sample]} (e.g. per
    subset) -> ({name: [Sample kept]}, shape (D, N, N) or (D,)). Without ``shape`` it is decided by the files: the
    most common among the readable float files of all groups, never by whichever comes first. Missing,
    unreadable, pickled or integer files, files of another shape (vectors among maps too) and files holding NaN or
    inf are skipped into ``report``, each with its reason and path. ``validate_modalities`` checks several
    modalities, each with its own shape."""
    kept, shapes = validate_modalities({(None, name): samples for name, samples in groups.items()}, report,
                                       verdicts, shape)
    return {name: kept[(None, name)] for name in groups}, shapes[None]


def validate_modalities(groups, report, verdicts=None, shape=None):
    """One check of every feature file a run will read: groups {(modality, subset): [Sample]} -> ({(modality,
    subset): [Sample kept]}, shapes {modality: (D, N, N) or (D,)}).

    Without ``shape`` the shapes are decided by the files (the module docstring): each modality holds maps or
    vectors, whichever most of its readable files are (a tie: maps); the maps of all modalities share one
    (D, N, N), the most common among them; each modality of vectors has its own (D,), the most common among its
    files. With ``shape`` every modality must have it. Files that are missing, unreadable (truncated, pickled),
    not floats, neither (frames, D, N, N) nor (frames, D), of the other kind or another shape than their
    modality's, or that hold NaN or inf are skipped into ``report``, each with its reason and path."""
    headers, readable = {}, {}                # path -> shape after the frames; modality -> {path: shape}
    for (m, _), samples in groups.items():
        for s in samples:
            p = Path(s.path)
            try:
                headers[s.path] = tuple(load_features(p.parent, p.stem).shape[1:])
            except FeatureError as err:
                report.add(s.name, str(err))
                continue
            readable.setdefault(m, {})[s.path] = headers[s.path]
    if not headers:
        raise FeatureError(f"no readable feature file among the ones the split lists name:\n{report.summary()}")
    empty = [m for m, _ in groups if m not in readable]
    if empty:
        raise FeatureError(f"no readable {empty[0]} feature file among the ones the split lists name:\n"
                           f"{report.summary()}")
    decided = shape is None
    if decided:
        kinds = {m: "vectors" if 2 * sum(len(h) == 1 for h in files.values()) > len(files) else "maps"
                 for m, files in readable.items()}
        votes = {m: Counter(h for h in files.values() if _kind(h) == kinds[m]) for m, files in readable.items()}
        map_votes = sum((v for m, v in votes.items() if kinds[m] == "maps"), Counter())
        map_files = sum(len(files) for m, files in readable.items() if kinds[m] == "maps")
        votes = {m: map_votes if kinds[m] == "maps" else v for m, v in votes.items()}
        totals = {m: map_files if kinds[m] == "maps" else len(files) for m, files in readable.items()}
        shapes = {m: v.most_common(1)[0][0] for m, v in votes.items()}
    else:
        shapes = {m: tuple(shape) for m in readable}
    named = any(m is not None for m in readable)
    kept = {}
    for (m, sub), samples in groups.items():
        kept[(m, sub)] = []
        want = shapes[m]
        for s in samples:
            if s.path not in headers:
                continue
            if headers[s.path] != want:
                got = headers[s.path]
                why = f"{s.path}: expected (frames, {', '.join(map(str, want))}), got {_kind(got)} of {got}"
                if decided:             # which files: all (one modality), a modality's, or all maps
                    which = "" if not named else f"{m} " if _kind(want) == "vectors" else "map "
                    why += f" ({votes[m][want]} of the {totals[m]} readable {which}files have {want})"
                report.add(s.name, why)
                continue
            bad = first_non_finite(s.path, verdicts)
            if bad is not None:
                report.add(s.name, f"{s.path}: NaN or inf values (first in frame {bad})")
                continue
            kept[(m, sub)].append(s)
    return kept, shapes


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
