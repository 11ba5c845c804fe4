"""UCF101 and HMDB51 in their official layouts and split files (VideoLSTM sec. 5.1).

The loaders read only the split lists and check that the files exist; they decode nothing. Each returns a
``Split``: ``samples`` (a list of ``Sample(path, label, name)``), ``classes`` (label -> class name) and
``report`` (a ``SkipReport``). Videos are decoded later, one at a time, by ``tinyalstm.data.video`` (see
``iter_decoded`` for a pass over a whole split that survives damaged files).

Bad input. A split line that names a missing file, an unknown class, a label out of range or inconsistent with
its folder, or that cannot be parsed, is a ``SplitLineError`` whose message names the split file and the line
number. With ``on_error="skip"`` (the default: one bad line among 13,000 should not stop a long run) the line is
left out and recorded in the ``SkipReport``; with ``on_error="raise"`` the first one is raised. Problems that make
the whole split unusable (no video folder, no ``classInd.txt``, a bad ``classInd.txt`` line, no split files)
always raise ``DatasetError`` and name the missing piece and where it was looked for.
"""
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .video import VideoError, VideoWarning, read_video

ON_ERROR = ("skip", "raise")


@dataclass(frozen=True)
class Sample:
    """One video of a split. path: the file (resolved on disk); label: 0-based class index into
    ``Split.classes`` (multi-label datasets such as Hollywood2: the sorted tuple of the video's class indices, see
    ``metrics.label_array``); name: the entry as the split file writes it (e.g.
    "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi" for UCF101, "April_09_brush_hair_u_nm_np1_ba_goo_0.avi" for
    HMDB51), unique within a split and what reports quote."""
    path: str
    label: int
    name: str
    segment: object = None       # a trimmed sample's interval of the video (activitynet.Segment); None: all of it


def is_multilabel(labels):
    """Whether sample labels are tuples of class indices (a multi-label dataset)."""
    return any(isinstance(label, tuple) for label in labels)


class DatasetError(Exception):
    """A dataset that cannot be loaded: a missing folder or file, or a bad class list."""


class SplitLineError(DatasetError):
    """A bad line in a split file. ``str(err)`` is ``"<file>, line <n>: <problem>"``."""

    def __init__(self, file, line, problem):
        self.file, self.line, self.problem = str(file), line, problem
        super().__init__(f"{self.file}, line {line}: {problem}")


@dataclass
class SkipReport:
    """What a long pass left out (``skipped``: (name, reason) pairs) and what it used despite decoding errors
    (``damaged``: truncated videos whose decodable frames were kept, see ``tinyalstm.data.video``)."""
    skipped: list = field(default_factory=list)
    damaged: list = field(default_factory=list)

    @property
    def count(self):
        return len(self.skipped)

    @property
    def names(self):
        return [name for name, _ in self.skipped]

    @property
    def reasons(self):
        return [reason for _, reason in self.skipped]

    def add(self, name, reason):
        self.skipped.append((name, str(reason)))

    def attempt(self, name, read, item):
        """``read(item)``, or None after recording ``name`` as skipped when it raises: a long pass must survive
        any bad video, so any exception counts (its type and message are kept for the report)."""
        try:
            return read(item)
        except Exception as err:  # noqa: BLE001 -- see the docstring
            self.add(name, f"{type(err).__name__}: {err}")
            return None

    def add_damaged(self, name, reason):
        self.damaged.append((name, str(reason)))

    def summary(self, limit=20):
        """Human-readable text: counts, then up to ``limit`` entries of each kind."""
        lines = [f"{self.count} skipped, {len(self.damaged)} used despite decoding errors"]
        for title, entries in [("skipped", self.skipped), ("used despite decoding errors", self.damaged)]:
            if entries:
                lines.append(f"{title}:")
                lines += [f"  {name}: {reason}" for name, reason in entries[:limit]]
                if len(entries) > limit:
                    lines.append(f"  ... and {len(entries) - limit} more")
        return "\n".join(lines)


@dataclass
class Split:
    """A loaded split: samples (list of Sample), classes (list of str, label -> name), report (SkipReport)."""
    samples: list
    classes: list
    report: SkipReport

    def __len__(self):
        return len(self.samples)

    def __iter__(self):
        return iter(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


# ---------------------------------------------------------------------------------------------------------------
# UCF101
# ---------------------------------------------------------------------------------------------------------------

def load_ucf101(root=None, split=1, subset="train", on_error="skip", videos_dir=None, splits_dir=None,
                report=None, suffix=None):
    """UCF101, official split ``split`` (1, 2, 3), ``subset`` "train" or "test" -> Split.

    Layout (as the two official archives extract)::

        root/UCF-101/<Class>/v_<Class>_gXX_cYY.avi
        root/ucfTrainTestlist/classInd.txt          "1 ApplyEyeMakeup" (1-based)
        root/ucfTrainTestlist/trainlist0{1,2,3}.txt "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1"
        root/ucfTrainTestlist/testlist0{1,2,3}.txt  "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"

    ``root`` may also be the UCF-101 folder itself (class folders inside, ucfTrainTestlist inside or beside it);
    ``videos_dir`` / ``splits_dir`` override the search.

    Labels follow classInd.txt: label = index - 1. This is *not* torchvision's order, which sorts the class
    folder names with Python's case-sensitive ``sorted`` (uppercase before lowercase): classInd.txt orders
    Hammering < HammerThrow and JumpingJack < JumpRope (case-insensitively), ``sorted`` the other way round, so
    those labels are swapped between the two conventions; a model trained with one needs a permutation to be
    read with the other (compare ``classes`` with ``sorted(classes)``). A test-list line's class is
    its folder (the list has no label; a label, if present, must agree). Class folders are matched
    case-insensitively when the exact path is missing: the real archive's folder HandstandPushups holds files
    named v_HandStandPushups_gXX_cYY.avi, and copies of the dataset spell the folder either way.
    CRLF line endings, blank lines, trailing spaces and a UTF-8 byte-order mark are accepted.

    ``suffix`` (e.g. ".npy") looks for each listed video's file with that extension instead (the feature cache's
    layout, features.py); ``Sample.name`` keeps the list's spelling.
    """
    _check_args(split, subset, on_error)
    splits = _find_dir("UCF101 split lists (ucfTrainTestlist/ with classInd.txt)", splits_dir,
                       _candidates(root, ["ucfTrainTestlist", ".", "../ucfTrainTestlist"]),
                       lambda d: (d / "classInd.txt").is_file())
    classes = _read_class_ind(splits / "classInd.txt")
    by_name = _ClassIndex(classes)
    videos = _find_dir("UCF101 videos (UCF-101/<Class>/v_<Class>_gXX_cYY.avi)", videos_dir,
                       _candidates(root, ["UCF-101", "."]),
                       lambda d: any(by_name.get(e.name) is not None for e in _subdirs(d)))
    list_file = splits / f"{subset}list0{split}.txt"
    if not list_file.is_file():
        raise DatasetError(f"UCF101: split list not found: {list_file}")
    report = SkipReport() if report is None else report
    finder, samples, seen = _Finder(videos), [], {}
    for lineno, line in _lines(list_file):
        try:
            sample = _ucf_sample(line, subset, by_name, finder, list_file, lineno, suffix)
            if sample.path in seen:
                raise SplitLineError(list_file, lineno, f"{sample.name} is listed twice (first at line "
                                                        f"{seen[sample.path]}); the first entry is kept")
            seen[sample.path] = lineno
            samples.append(sample)
        except SplitLineError as e:
            _skip_or_raise(report, on_error, line.split()[0], e)
    return Split(samples, classes, report)


def _read_class_ind(path):
    """classInd.txt -> class names in label order. Any bad line raises: a wrong class list mislabels everything."""
    entries = {}
    for lineno, line in _lines(path):
        fields = line.split()
        if len(fields) != 2 or not fields[0].isdigit():
            raise SplitLineError(path, lineno, f"expected '<index> <ClassName>', got {line!r}")
        index, name = int(fields[0]), fields[1]
        if index in entries or name in entries.values():
            raise SplitLineError(path, lineno, f"duplicate class index or name {line!r}")
        entries[index] = name
    if sorted(entries) != list(range(1, len(entries) + 1)):
        raise DatasetError(f"{path}: class indices must be 1..N without gaps, got {sorted(entries)}")
    return [entries[i] for i in range(1, len(entries) + 1)]


def _ucf_sample(line, subset, by_name, finder, list_file, lineno, suffix=None):
    """Parse one trainlist/testlist line -> Sample, or raise SplitLineError."""
    fields = line.split()
    want = "'<Class>/<file>.avi <label>'" if subset == "train" else "'<Class>/<file>.avi'"
    # a test list has no label; some copies add one, which is then checked like a train label
    if not (len(fields) == 2 or (len(fields) == 1 and subset == "test")):
        raise SplitLineError(list_file, lineno, f"expected {want}, got {line!r}")
    rel = fields[0].replace("\\", "/")
    parts = rel.split("/")
    if len(parts) != 2 or not all(parts):
        raise SplitLineError(list_file, lineno, f"expected {want}, got {line!r}")
    label = by_name.get(parts[0])
    if label is None:
        raise SplitLineError(list_file, lineno, f"unknown class {parts[0]!r} (not in classInd.txt)")
    if len(fields) == 2:
        _check_ucf_label(fields[1], label, parts[0], by_name.classes, list_file, lineno)
    file = parts[1] if suffix is None else str(PurePosixPath(parts[1]).with_suffix(suffix))
    path = finder.find(parts[0], file)
    if path is None:
        raise SplitLineError(list_file, lineno, finder.why_missing(parts[0], file))
    return Sample(str(path), label, rel)


def _check_ucf_label(text, label, folder, classes, list_file, lineno):
    if not re.fullmatch(r"[+-]?\d+", text):
        raise SplitLineError(list_file, lineno, f"label {text!r} is not an integer")
    k = int(text)
    if not 1 <= k <= len(classes):
        raise SplitLineError(list_file, lineno, f"label {k} out of range 1..{len(classes)} (classInd.txt)")
    if k - 1 != label:
        raise SplitLineError(list_file, lineno, f"label {k} is {classes[k - 1]!r} in classInd.txt, but the file "
                                                f"is in folder {folder!r} (label {label + 1})")


# ---------------------------------------------------------------------------------------------------------------
# HMDB51
# ---------------------------------------------------------------------------------------------------------------

HMDB_SETS = {"train": 1, "test": 2}   # the split files' third state, 0, marks videos in neither set


def load_hmdb51(root=None, split=1, subset="train", on_error="skip", videos_dir=None, splits_dir=None,
                report=None):
    """HMDB51 (the original, unstabilized videos), official split ``split`` (1, 2, 3), ``subset`` -> Split.

    Layout (hmdb51_org.rar's per-class archives extracted into class folders, test_train_splits.rar beside)::

        root/hmdb51_org/<class>/<name>.avi                          (or root/<class>/<name>.avi)
        root/testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt   lines "<name>.avi <id>"

    with id 1 = train, 2 = test, 0 = in neither (70/30 videos per class and split). ``videos_dir`` /
    ``splits_dir`` override the search.

    Class order: the class names taken from the split files' names (``<class>_test_split<k>.txt``), sorted
    with Python's string order, label = position. For the real dataset this equals the sorted class folder
    names (torchvision's order). The file's class is its split file's class: it is looked for in that class's
    folder (case-insensitively when the exact path is missing).
    """
    _check_args(split, subset, on_error)
    pattern = re.compile(rf"^(.+)_test_split{split}\.txt$")
    splits = _find_dir(f"HMDB51 split files (testTrainMulti_7030_splits/<class>_test_split{split}.txt)",
                       splits_dir, _candidates(root, ["testTrainMulti_7030_splits", "."]),
                       lambda d: any(pattern.match(p.name) for p in d.iterdir()))
    files = {m.group(1): splits / m.group(0) for m in map(pattern.match, os.listdir(splits)) if m}
    classes = sorted(files)
    lower = {c.lower() for c in classes}
    videos = _find_dir("HMDB51 videos (hmdb51_org/<class>/<name>.avi)", videos_dir,
                       _candidates(root, ["hmdb51_org", "."]),
                       lambda d: any(e.name.lower() in lower for e in _subdirs(d)))
    report = SkipReport() if report is None else report
    finder, samples = _Finder(videos), []
    seen = {}
    for label, cls in enumerate(classes):
        for lineno, line in _lines(files[cls]):
            try:
                sample = _hmdb_sample(line, subset, cls, label, finder, files[cls], lineno)
                if sample is not None and sample.path in seen:
                    raise SplitLineError(files[cls], lineno, f"{sample.name} is listed twice (first in "
                                                             f"{seen[sample.path]}); the first entry is kept")
            except SplitLineError as e:
                _skip_or_raise(report, on_error, line.split()[0], e)
                continue
            if sample is not None:
                seen[sample.path] = f"{files[cls].name}, line {lineno}"
                samples.append(sample)
    return Split(samples, classes, report)


def _hmdb_sample(line, subset, cls, label, finder, split_file, lineno):
    """Parse one HMDB51 split line -> Sample, None (a video of the other subset), or raise SplitLineError."""
    fields = line.split()
    if len(fields) != 2 or "/" in fields[0] or not re.fullmatch(r"[+-]?\d+", fields[1]):
        raise SplitLineError(split_file, lineno, f"expected '<name>.avi <0|1|2>', got {line!r}")
    set_id = int(fields[1])
    if set_id not in (0, 1, 2):
        raise SplitLineError(split_file, lineno, f"set id {set_id} out of range (1 = train, 2 = test, 0 = neither)")
    if set_id != HMDB_SETS[subset]:
        return None                           # not checked on disk: a missing unused video should not count
    path = finder.find(cls, fields[0])
    if path is None:
        raise SplitLineError(split_file, lineno, finder.why_missing(cls, fields[0]))
    return Sample(str(path), label, fields[0])


# ---------------------------------------------------------------------------------------------------------------
# A pass over a split that survives damaged videos
# ---------------------------------------------------------------------------------------------------------------

def iter_decoded(samples, size=None, decode=None, report=None, log=print):
    """Decode each sample's video; yield ``(sample, decoded)`` for the good ones, record the others.

    samples: iterable of Sample. decode: path -> anything (default ``read_video(path, size)``: (N, H, W, 3)
    uint8; ``tinyalstm.data.video.count_frames`` for a counting pass; a ``read_windows`` wrapper for training).
    A VideoError skips the video and lands in ``report`` (a SkipReport, new one if None) with its reason; a
    VideoWarning (truncated video, frames used) lands in ``report.damaged``. Other exceptions are bugs and
    propagate. When the pass completes, ``log(report.summary())`` (log=None: silent), so a long run ends by
    saying what it left out.
    """
    report = SkipReport() if report is None else report
    decode = decode or (lambda path: read_video(path, size))
    for sample in samples:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                out = decode(sample.path)
        except VideoError as e:
            report.add(sample.name, e.problem + (f" ({e.path})" if e.path != sample.path else ""))
            continue
        finally:
            _forward_warnings(caught, sample, report)
        yield sample, out
    if log is not None:
        log(report.summary())


def _forward_warnings(caught, sample, report):
    for w in caught:
        if issubclass(w.category, VideoWarning):
            report.add_damaged(sample.name, w.message)
        else:                                 # not ours: show it as if it had not been caught
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)


# ---------------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------------

def _check_args(split, subset, on_error):
    if split not in (1, 2, 3):
        raise ValueError(f"split: expected 1, 2 or 3, got {split!r}")
    if subset not in ("train", "test"):
        raise ValueError(f"subset: expected 'train' or 'test', got {subset!r}")
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error: expected one of {ON_ERROR}, got {on_error!r}")


def _skip_or_raise(report, on_error, name, err):
    if on_error == "raise":
        raise err
    report.add(name, err)


def _lines(path):
    """(line number, stripped text) for the non-blank lines of a text file. Universal newlines turn CRLF into
    LF; utf-8-sig drops a byte-order mark, which would otherwise glue itself to the first class name."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError:
                raise DatasetError(f"{path}, line {lineno}: not UTF-8 text ({raw[:40]!r}); save the list as UTF-8 "
                                   f"(or plain ASCII, as the official lists are)") from None
            if line.strip():
                yield lineno, line.strip()


def _candidates(root, names):
    if root is None:
        return []
    root = Path(root)
    return [(root / n).resolve() if n.startswith("..") else root / n for n in names]


def _find_dir(what, explicit, candidates, ok):
    """The first folder among ``explicit`` (if given) or ``candidates`` that passes ``ok``, else DatasetError
    naming what was missing and everywhere it was looked for."""
    looked = [Path(explicit)] if explicit is not None else candidates
    if not looked:
        raise DatasetError(f"{what}: pass root= (or videos_dir= and splits_dir=)")
    for d in looked:
        if d.is_dir() and ok(d):
            return d
    raise DatasetError(f"{what} not found; looked in: " + ", ".join(str(d) for d in looked))


def _subdirs(d):
    return [e for e in os.scandir(d) if e.is_dir()]


class _ClassIndex:
    """Class name -> 0-based label, exact match first, then case-insensitive (HandstandPushups/HandStandPushups)."""

    def __init__(self, classes):
        self.classes = classes
        self.exact = {c: i for i, c in enumerate(classes)}
        self.lower = {c.lower(): i for i, c in enumerate(classes)}

    def get(self, name):
        return self.exact.get(name, self.lower.get(name.lower()))


class _Finder:
    """Resolve root/<folder>/<file>: the exact path when it exists, else a case-insensitive match of the folder
    and then of the file. Directory listings are cached, so a whole split costs one listing per class."""

    def __init__(self, root):
        self.root, self._listings = Path(root), {}

    def find(self, folder, name):
        exact = self.root / folder / name
        if exact.is_file():
            return exact
        actual = self._listing(self.root).get(folder.lower())
        if actual is None:
            return None
        hit = self._listing(self.root / actual).get(name.lower())
        path = self.root / actual / hit if hit else None
        return path if path is not None and path.is_file() else None

    def why_missing(self, folder, name):
        if self._listing(self.root).get(folder.lower()) is None:
            return f"class folder not found: {self.root / folder} (for {name})"
        return f"file not found: {self.root / folder / name}"

    def _listing(self, d):
        if d not in self._listings:
            try:
                self._listings[d] = {n.lower(): n for n in os.listdir(d)}
            except OSError:
                self._listings[d] = {}
        return self._listings[d]
