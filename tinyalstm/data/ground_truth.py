"""Ground-truth action tubes: the built-in benchmark's annotation files and the two formats UCF101-24 (THUMOS13
localization) is distributed in. Every loader returns ``{video key: [Tube, ...]}`` with keys like the feature
cache's, ``"<Class>/v_<Class>_gXX_cYY"`` (no extension), 0-based frame indices and ``x1, y1, x2, y2`` pixel boxes
(``localization.tubes.Tube``; the label is the 0-based class index).

- ``synthetic_tubes(root)``: ``<root>/annotations/*.json`` of the built-in benchmark (data/synthetic/): the
  actor's boxes over the action interval ``[start, end)``; with ``frames="all"``, over every frame (the actor is
  on screen before and after its action, which lets attention be measured outside the interval too).
- ``corrected_annotations(path)``: the corrected UCF101-24 annotations, a pickled dict ``{video: {"numf": frames,
  "label": class, "annotations": [{"label": class, "sf": start frame, "ef": end frame, "boxes": (n, 4) x, y, w,
  h}, ...]}}``, frames 0-based; ``ef`` is exclusive (n = ef - sf boxes) or, as some copies have it, inclusive
  (n = ef - sf + 1); anything else is an error naming the video.
- ``ucf101v2_gt(path)``: ``UCF101v2-GT.pkl``, a pickled dict with ``labels`` (class names), ``gttubes`` ``{video:
  {label: [(n, 5) arrays of frame (1-based), x1, y1, x2, y2]}}``, ``nframes``, ``train_videos``, ``test_videos``
  (lists per split) and ``resolution`` ``{video: (height, width)}``. Returns a ``GroundTruth`` with all of them.

What localization measures against, as ``(tubes, frame size(s), tracks or None)``: ``synthetic_ground_truth(root)``
for the built-in benchmark, ``annotation_ground_truth(path, classes)`` for a UCF101-24 file in either format (the
dataset registry's ``ground_truth_for`` picks one for a run).

Classes are matched by name. A UCF101-24 label is an index into the annotations' own 24 classes, not into a run's:
``annotation_ground_truth(path, classes)`` turns each tube's label into the index of its class name in ``classes``
(a UCF101 run's 101, say; exact spelling first, then case-insensitively). The class names are UCF101v2-GT.pkl's
``labels``; the corrected annotations carry none, so there a video's class is its folder (``Fencing/v_Fencing_...``)
and every video of one label must share one folder. A class of the annotations that the run does not have is an
error naming it and a video of it.

Every field is checked where it is read: its type (a dict of videos, a list of class names, integer labels and
frame numbers, ...), labels inside the annotations' class list (a negative label is an error, not the last class),
frames >= 0 (1-based ones >= 1) and increasing, boxes finite with x2 >= x1 and y2 >= y1. Anything else is an
``AnnotationError`` naming the file, the video and the field. Whether a tube lies inside its video is known only
when the video is read: localization cuts tubes at the video's last frame, skips a video whose tube starts after
it, and clips boxes to the frame (``experiment/localization.py``).

Both UCF101-24 files are pickles, and unpickling can run code. They are read with a restricted unpickler that
builds only plain containers, numbers, strings and NumPy arrays, and refuses anything else, naming the file and
what it held (``AnnotationError``).
"""
import json
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..localization.tubes import Tube
from .datasets import DatasetError


class AnnotationError(DatasetError):
    """A ground-truth file that cannot be used; the message names the file (and the video, where one is at
    fault)."""


# What a pickle of plain data may name: NumPy's array and scalar rebuilders (module paths of NumPy 1 and 2) and
# the containers Python 2 pickles spell as globals. Nothing here runs code.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    *((m, n) for m in ("builtins", "__builtin__") for n in ("set", "frozenset", "list", "dict", "tuple")),
    ("collections", "OrderedDict"), ("_codecs", "encode"),
}


class _PlainUnpickler(pickle.Unpickler):
    def __init__(self, file, path):
        super().__init__(file, encoding="latin1")      # Python 2 pickles of NumPy arrays need latin1
        self.path = path

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise AnnotationError(f"{self.path}: refused to unpickle {module}.{name}: an annotation file may hold only "
                              f"containers, numbers, strings and NumPy arrays")


def load_plain_pickle(path):
    """Unpickle ``path`` allowing only plain data (see the module docstring); errors name the file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return _PlainUnpickler(f, path).load()
    except AnnotationError:
        raise
    except FileNotFoundError:
        raise AnnotationError(f"{path}: file not found") from None
    except Exception as err:  # noqa: BLE001 -- truncated, not a pickle, a bad opcode: all mean "unreadable"
        raise AnnotationError(f"{path}: not a readable pickle ({type(err).__name__}: {err})") from None


def _is_int(v):
    """An integer (Python or NumPy; a float with an integral value, as some copies store frames and labels); not a
    bool."""
    if isinstance(v, (bool, np.bool_)):
        return False
    if isinstance(v, (int, np.integer)):
        return True
    return isinstance(v, (float, np.floating)) and np.isfinite(v) and float(v).is_integer()


def _kind(v):
    """What a value is, for a message: its type, and the value itself when it is short."""
    text = repr(v)
    return f"{type(v).__name__} {text}" if len(text) <= 40 else type(v).__name__


def _field(path, data, name, types, what):
    """data[name] of the expected ``types`` (a type or tuple), or an AnnotationError naming file and field."""
    value = data[name]
    if not isinstance(value, types):
        raise AnnotationError(f"{path}: field '{name}': expected {what}, got {_kind(value)}")
    return value


def video_key(video):
    """'Basketball/v_Basketball_g01_c01' (with or without an extension or a leading folder) -> the cache key."""
    p = Path(str(video))
    return f"{p.parent.name}/{p.stem}" if p.parent.name else p.stem


def _boxes(path, video, values, columns, field="boxes"):
    try:
        a = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise AnnotationError(f"{path}: video {video}: {field}: expected a numeric array of shape (n, {columns}), "
                              f"got {_kind(values)}") from None
    if a.size == 0:                                    # a tube of no frames: nothing to measure, but not an error
        a = a.reshape(0, columns)
    if a.ndim != 2 or a.shape[1] != columns or not np.isfinite(a).all():
        raise AnnotationError(f"{path}: video {video}: {field}: expected finite boxes of shape (n, {columns}), got "
                              f"shape {a.shape}" + ("" if a.ndim != 2 or np.isfinite(a).all() else
                                                    " with NaN or infinite values"))
    return a


def _tube(path, video, field, frames, boxes, label, numbered_from=0):
    """A Tube, or an AnnotationError naming file, video and field: frames increasing (0-based here; the message
    numbers them as the file does, from ``numbered_from``), boxes with x2 >= x1 and y2 >= y1."""
    if len(frames) and np.any(np.diff(frames) <= 0):
        shown = (frames + numbered_from).tolist()
        raise AnnotationError(f"{path}: video {video}: {field}: frames must be increasing, got "
                              f"{shown[:8]}{' ...' if len(shown) > 8 else ''}")
    bad = np.flatnonzero((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1]))
    if len(bad):
        raise AnnotationError(f"{path}: video {video}: {field}: the box on frame {int(frames[bad[0]]) + numbered_from} "
                              f"has x2 < x1 or y2 < y1: {boxes[bad[0]].tolist()}")
    return Tube(frames, boxes, label)


def synthetic_tubes(root, frames="action"):
    """The built-in benchmark's ground truth: ``{key: [Tube of the actor over the action interval]}``
    (``frames="action"``) or over all the video's frames (``"all"``)."""
    if frames not in ("action", "all"):
        raise ValueError(f"frames: expected 'action' or 'all', got {frames!r}")
    folder = Path(root) / "annotations"
    files = sorted(folder.glob("*.json"))
    if not files:
        raise AnnotationError(f"{folder}: no annotation files (*.json); is {root} a synthetic benchmark folder?")
    out = {}
    for f in files:
        try:
            gt = json.loads(f.read_text())
            start, end = (int(v) for v in gt["action"])
            boxes = _boxes(f, gt["video"], gt["actor"]["boxes"], 4)
            label, video = int(gt["label"]), gt["video"]
        except AnnotationError:
            raise
        except (ValueError, KeyError, TypeError) as err:
            raise AnnotationError(f"{f}: not a synthetic ground-truth file ({type(err).__name__}: {err})") from None
        if not 0 <= start < end <= len(boxes):
            raise AnnotationError(f"{f}: action [{start}, {end}) outside the {len(boxes)} annotated frames")
        if frames == "all":
            start, end = 0, len(boxes)
        out[video_key(video)] = [Tube(np.arange(start, end), boxes[start:end], label)]
    return out


def corrected_annotations(path):
    """The corrected UCF101-24 annotations (see the module docstring) -> ``{key: [Tube, ...]}``; labels as the file
    has them (``annotation_ground_truth`` matches them to a run's classes)."""
    data = load_plain_pickle(path)
    if not isinstance(data, dict):
        raise AnnotationError(f"{path}: expected a dict of videos, got {type(data).__name__}")
    out = {}
    for video, entry in data.items():
        if not isinstance(video, str):
            raise AnnotationError(f"{path}: expected videos named by strings, got the key {_kind(video)}")
        if not isinstance(entry, dict) or "annotations" not in entry:
            raise AnnotationError(f"{path}: video {video}: expected a dict with 'annotations', got {_kind(entry)}")
        tubes = entry["annotations"]
        if not isinstance(tubes, (list, tuple)):
            raise AnnotationError(f"{path}: video {video}: field 'annotations': expected a list of tubes, got "
                                  f"{_kind(tubes)}")
        out[video_key(video)] = [_corrected_tube(path, video, k, a) for k, a in enumerate(tubes)]
    return out


def _corrected_tube(path, video, k, a):
    where = f"annotations[{k}]"
    if not isinstance(a, dict):
        raise AnnotationError(f"{path}: video {video}: {where}: expected a dict with 'sf', 'ef', 'label', 'boxes', "
                              f"got {_kind(a)}")
    missing = [f for f in ("sf", "ef", "label", "boxes") if f not in a]
    if missing:
        raise AnnotationError(f"{path}: video {video}: {where}: no {', '.join(repr(f) for f in missing)}")
    for f in ("sf", "ef", "label"):
        if not _is_int(a[f]) or a[f] < 0:
            raise AnnotationError(f"{path}: video {video}: {where}.{f}: expected an integer >= 0, got {_kind(a[f])}")
    sf, ef, label = int(a["sf"]), int(a["ef"]), int(a["label"])
    xywh = _boxes(path, video, a["boxes"], 4, f"{where}.boxes")
    if len(xywh) not in (ef - sf, ef - sf + 1):
        raise AnnotationError(f"{path}: video {video}: a tube from frame {sf} to {ef} has {len(xywh)} boxes ({where}: "
                              f"'ef' is the end frame, exclusive or inclusive)")
    if np.any(xywh[:, 2:] < 0):
        raise AnnotationError(f"{path}: video {video}: {where}.boxes: a negative width or height "
                              f"{xywh[np.any(xywh[:, 2:] < 0, axis=1)][0].tolist()}")
    boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    return _tube(path, video, where, sf + np.arange(len(xywh)), boxes, label)


@dataclass
class GroundTruth:
    """``UCF101v2-GT.pkl`` read: tubes per video key, class names, frame counts, split lists, resolutions."""
    tubes: dict
    labels: list
    nframes: dict
    train_videos: list
    test_videos: list
    resolution: dict


def ucf101v2_gt(path):
    """``UCF101v2-GT.pkl`` (see the module docstring) -> GroundTruth (frames made 0-based)."""
    data = load_plain_pickle(path)
    missing = [k for k in ("labels", "gttubes", "nframes", "train_videos", "test_videos", "resolution")
               if not isinstance(data, dict) or k not in data]
    if missing:
        raise AnnotationError(f"{path}: not a UCF101v2-GT file: missing {', '.join(missing)}")
    labels = _field(path, data, "labels", (list, tuple), "a list of class names")
    if not all(isinstance(x, str) for x in labels) or len(set(labels)) != len(labels) or not labels:
        raise AnnotationError(f"{path}: field 'labels': expected distinct class names (strings), got "
                              f"{list(labels)[:6]}{' ...' if len(labels) > 6 else ''}")
    tubes = {}
    for video, by_label in _field(path, data, "gttubes", dict, "a dict {video: {label: [tubes]}}").items():
        _video_name(path, "gttubes", video)
        if not isinstance(by_label, dict):
            raise AnnotationError(f"{path}: video {video}: gttubes: expected a dict {{label: [tubes]}}, got "
                                  f"{_kind(by_label)}")
        found = []
        for label, arrays in by_label.items():
            where = f"gttubes label {label!r}"
            if not _is_int(label) or not 0 <= label < len(labels):
                raise AnnotationError(f"{path}: video {video}: {where}: expected a class index 0..{len(labels) - 1} "
                                      f"into the file's {len(labels)} 'labels'")
            if not isinstance(arrays, (list, tuple)):
                raise AnnotationError(f"{path}: video {video}: {where}: expected a list of (n, 5) arrays, got "
                                      f"{_kind(arrays)}")
            for k, a in enumerate(arrays):
                a = _boxes(path, video, a, 5, f"{where}, tube {k}")
                if not np.all(a[:, 0] == np.round(a[:, 0])):
                    raise AnnotationError(f"{path}: video {video}: {where}, tube {k}: frame numbers must be integers, "
                                          f"got {a[:, 0].tolist()[:8]}")
                if len(a) and a[0, 0] < 1:
                    raise AnnotationError(f"{path}: video {video}: {where}, tube {k}: frames are numbered from 1, "
                                          f"got {int(a[0, 0])}")
                found.append(_tube(path, video, f"{where}, tube {k}", a[:, 0].astype(np.int64) - 1, a[:, 1:],
                                   int(label), numbered_from=1))
        tubes[video_key(video)] = found
    nframes = _per_video(path, data, "nframes", "a frame count", lambda v: _is_int(v) and v > 0, int)
    resolution = _per_video(path, data, "resolution", "(height, width)",
                            lambda v: isinstance(v, (list, tuple, np.ndarray)) and len(v) == 2
                            and all(_is_int(x) and x > 0 for x in v), lambda v: tuple(int(x) for x in v))
    lists = [_video_lists(path, data, k) for k in ("train_videos", "test_videos")]
    return GroundTruth(tubes, list(labels), nframes, *lists, resolution)


def _video_name(path, field, video):
    if not isinstance(video, str):
        raise AnnotationError(f"{path}: field '{field}': expected videos named by strings, got the key "
                              f"{_kind(video)}")


def _per_video(path, data, name, what, ok, convert):
    """{video key: value} of a field that maps videos to ``what``, each value checked by ``ok``."""
    out = {}
    for video, value in _field(path, data, name, dict, f"a dict {{video: {what}}}").items():
        _video_name(path, name, video)
        if not ok(value):
            raise AnnotationError(f"{path}: video {video}: {name}: expected {what} (positive integers), got "
                                  f"{_kind(value)}")
        out[video_key(video)] = convert(value)
    return out


def _video_lists(path, data, name):
    """A split field: a list (one per split) of lists of video names -> the same with video keys."""
    splits = _field(path, data, name, (list, tuple), "a list (one per split) of lists of videos")
    for k, split in enumerate(splits):
        if not isinstance(split, (list, tuple)) or not all(isinstance(v, str) for v in split):
            raise AnnotationError(f"{path}: field '{name}'[{k}]: expected a list of video names (strings), got "
                                  f"{_kind(split)}")
    return [[video_key(v) for v in split] for split in splits]


def synthetic_ground_truth(root):
    """The built-in benchmark's ground truth -> (tubes inside the action, the frame size (H, W) from its manifest,
    the actor's tracks over every frame)."""
    W, H = json.loads((Path(root) / "synthetic.json").read_text())["options"]["size"]   # the manifest: [W, H]
    return synthetic_tubes(root), (int(H), int(W)), synthetic_tubes(root, frames="all")


def annotation_ground_truth(path, classes=None):
    """A UCF101-24 annotation file in either format -> (tubes, {key: (H, W)} or UCF101's one (240, 320), None: boxes
    only inside the action, no tracks). ``classes``: a run's class names; tube labels become indices into them,
    matched by class name (module docstring). Without ``classes`` the labels are the file's own."""
    data = load_plain_pickle(path)
    if isinstance(data, dict) and "gttubes" in data:
        g = ucf101v2_gt(path)
        if classes is None:
            return g.tubes, g.resolution, None
        return _to_run_classes(path, g.tubes, classes, lambda key, t: g.labels[t.label]), g.resolution, None
    tubes = corrected_annotations(path)
    if classes is not None:
        tubes = _to_run_classes(path, tubes, classes, _folder_names(path, tubes))
    return tubes, (240, 320), None


def video_class(key):
    """The class a UCF101-style video key names: its folder, or <Class> of a bare ``v_<Class>_gXX_cYY`` (None when
    it names none)."""
    folder, _, name = key.rpartition("/")
    if folder:
        return folder.rpartition("/")[2]
    m = re.fullmatch(r"v_(.+)_g\d+_c\d+", name)
    return m.group(1) if m else None


def _folder_names(path, tubes):
    """The corrected annotations' label -> class name, from the videos' folders: (key, tube) -> name; every video
    of one label must be in one class's folder."""
    names, first = {}, {}
    for key, found in tubes.items():
        for t in found:
            name = video_class(key)
            if name is None:
                raise AnnotationError(f"{path}: video {key}: the file names no classes, so a video's class is its "
                                      f"folder (<Class>/v_<Class>_gXX_cYY), and this key has none")
            if names.setdefault(t.label, name) != name:
                raise AnnotationError(f"{path}: label {t.label} is class {names[t.label]} in video {first[t.label]} "
                                      f"but {name} in video {key}: the labels do not follow the videos' classes")
            first.setdefault(t.label, key)
    return lambda key, t: names[t.label]


def _to_run_classes(path, tubes, classes, name_of):
    """Tubes with their labels replaced by the index of their class name in ``classes`` (exact, then
    case-insensitive); a class the run lacks is an AnnotationError naming it and a video of it."""
    exact = {c: i for i, c in enumerate(classes)}
    lower = {}
    for i, c in enumerate(classes):
        lower.setdefault(c.lower(), i)
    out, lacking = {}, {}
    for key, found in tubes.items():
        mapped = []
        for t in found:
            name = name_of(key, t)
            index = exact.get(name, lower.get(name.lower()))
            if index is None:
                lacking.setdefault(name, key)
                continue
            mapped.append(Tube(t.frames, t.boxes, index))
        out[key] = mapped
    if lacking:
        names = sorted(lacking)
        shown = ", ".join(f"{n} (e.g. video {lacking[n]})" for n in names[:5])
        raise AnnotationError(f"{path}: {len(names)} class{'es' if len(names) > 1 else ''} of the annotations "
                              f"{'are' if len(names) > 1 else 'is'} not among the run's {len(classes)} classes: "
                              f"{shown}{' ...' if len(names) > 5 else ''}; localize a run trained on classes that "
                              f"include {'them' if len(names) > 1 else 'it'} (UCF101-24's 24 are among UCF101's "
                              f"101)")
    return out
