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
for the built-in benchmark, ``annotation_ground_truth(path)`` for a UCF101-24 file in either format (the dataset
registry's ``ground_truth_for`` picks one for a run).

Both UCF101-24 files are pickles, and unpickling can run code. They are read with a restricted unpickler that
builds only plain containers, numbers, strings and NumPy arrays, and refuses anything else, naming the file and
what it held (``AnnotationError``).
"""
import json
import pickle
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


def video_key(video):
    """'Basketball/v_Basketball_g01_c01' (with or without an extension or a leading folder) -> the cache key."""
    p = Path(str(video))
    return f"{p.parent.name}/{p.stem}" if p.parent.name else p.stem


def _boxes(path, video, values, columns):
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != columns or not np.isfinite(a).all():
        raise AnnotationError(f"{path}: video {video}: expected finite boxes of shape (n, {columns}), got "
                              f"{a.shape}")
    return a


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
    """The corrected UCF101-24 annotations (see the module docstring) -> ``{key: [Tube, ...]}``."""
    data = load_plain_pickle(path)
    if not isinstance(data, dict):
        raise AnnotationError(f"{path}: expected a dict of videos, got {type(data).__name__}")
    out = {}
    for video, entry in data.items():
        try:
            tubes = []
            for a in entry["annotations"]:
                sf, ef = int(a["sf"]), int(a["ef"])
                xywh = _boxes(path, video, a["boxes"], 4)
                if len(xywh) not in (ef - sf, ef - sf + 1) or sf < 0:
                    raise AnnotationError(f"{path}: video {video}: a tube from frame {sf} to {ef} has {len(xywh)} "
                                          f"boxes")
                boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
                tubes.append(Tube(sf + np.arange(len(xywh)), boxes, int(a["label"])))
        except AnnotationError:
            raise
        except (KeyError, TypeError, ValueError) as err:
            raise AnnotationError(f"{path}: video {video}: malformed entry ({type(err).__name__}: {err})") from None
        out[video_key(video)] = tubes
    return out


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
    tubes = {}
    for video, by_label in data["gttubes"].items():
        try:
            found = []
            for label, arrays in by_label.items():
                for a in arrays:
                    a = _boxes(path, video, a, 5)
                    found.append(Tube(a[:, 0].astype(np.int64) - 1, a[:, 1:], int(label)))
        except AnnotationError:
            raise
        except (AttributeError, TypeError, ValueError) as err:
            raise AnnotationError(f"{path}: video {video}: malformed tubes ({type(err).__name__}: {err})") from None
        tubes[video_key(video)] = found
    keyed = lambda d: {video_key(k): v for k, v in d.items()}  # noqa: E731
    lists = lambda s: [[video_key(v) for v in split] for split in s]  # noqa: E731
    return GroundTruth(tubes, [str(x) for x in data["labels"]], keyed(data["nframes"]), lists(data["train_videos"]),
                       lists(data["test_videos"]), keyed(data["resolution"]))


def synthetic_ground_truth(root):
    """The built-in benchmark's ground truth -> (tubes inside the action, the frame size (H, W) from its manifest,
    the actor's tracks over every frame)."""
    W, H = json.loads((Path(root) / "synthetic.json").read_text())["options"]["size"]   # the manifest: [W, H]
    return synthetic_tubes(root), (int(H), int(W)), synthetic_tubes(root, frames="all")


def annotation_ground_truth(path):
    """A UCF101-24 annotation file in either format -> (tubes, {key: (H, W)} or UCF101's one (240, 320), None: boxes
    only inside the action, no tracks)."""
    data = load_plain_pickle(path)
    if isinstance(data, dict) and "gttubes" in data:
        g = ucf101v2_gt(path)
        return g.tubes, {k: tuple(int(v) for v in hw) for k, hw in g.resolution.items()}, None
    return corrected_annotations(path), (240, 320), None
