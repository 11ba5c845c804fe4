"""ActivityNet (v1.3 or v1.2) in its official layout: trimmed classification of the labelled segments (aLSTM sec. 4).

Layout::

    root/activity_net.v1-3.min.json     the official annotations (or activity_net.v1-2.min.json)
    root/**/v_<id>.<ext>                the videos, anywhere under root (mp4, mkv, webm, avi, mov, flv, m4v)

The JSON: ``{"taxonomy": [{"nodeName", "parentName", ...}, ...], "database": {<id>: {"subset": "training" |
"validation" | "testing", "duration": seconds, "annotations": [{"segment": [start, end], "label": name}, ...]},
...}}``.

Samples are the labelled segments, as the paper's trimmed classification: ``Sample(path=the video, label=class
index, name="v_<id>/segment<k>" (k: the annotation's index), segment=Segment(start, end, duration))``. A video with
three segments gives three samples (validation.py keeps them on one side of a validation split). The classes are
the taxonomy's leaves (the nodes that are nobody's parent: 200 in v1.3), sorted by name; a JSON without a taxonomy
takes the labels of its training segments. ``subset="train"`` reads ``training``; ``subset="test"`` reads
``validation``, the paper's test set (the ``testing`` labels are withheld); the paper's validation set is carved
from ``training`` (``--validation``).

Seconds become decoded frames in ``read_segment``: frame rate = decoded frames / the container's duration, a
segment [start, end) covers frames floor(start x rate) to ceil(end x rate).

Bad input. Every field is checked where it is read. A missing or unparsable JSON, one without ``database``, or a
``taxonomy`` that is not a list of nodes with a ``nodeName`` string (``parentName`` a string or null) is a
``DatasetError`` naming the file and the field. An entry that is malformed (not an object; ``subset`` not one of
the three names, ``duration`` not a finite number of seconds > 0, ``annotations`` not a list: named
``<file>: database.<id>: '<field>': ...``) or a segment that is (not an object, a ``segment`` that is not two
numbers, end <= start, a start past the video's duration, a ``label`` that is not a string or not a class, a video
not under root: ``<file>: database.<id>.annotations[<k>]: <problem>``) is skipped into the report; an end up to
1 s past the duration (common in the official files) is clipped to it. A video whose container duration disagrees with the JSON's (by more than 1 s and 5 %) is
skipped when it is decoded (``read_segment`` raises, the pipeline's report names it).
"""
import json
import math
from pathlib import Path
from typing import NamedTuple

from .datasets import DatasetError, Sample, SkipReport, Split
from .video import read_video, video_duration

ANNOTATION_FILES = ("activity_net.v1-3.min.json", "activity_net.v1-2.min.json")
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".flv", ".m4v")
SUBSETS = {"train": "training", "test": "validation"}
END_SLACK = 1.0          # seconds a segment's end may pass the duration before it is an error (then clipped)


class Segment(NamedTuple):
    """A labelled interval of a video, in seconds, and the video's duration as the annotations state it."""
    start: float
    end: float
    duration: float


def find_annotations(root):
    """The official annotation JSON at ``root`` (v1.3 preferred) or a DatasetError naming what was looked for."""
    for name in ANNOTATION_FILES:
        if (Path(root) / name).is_file():
            return Path(root) / name
    raise DatasetError(f"ActivityNet: no annotation file in {root} (expected {' or '.join(ANNOTATION_FILES)})")


def read_annotations(path):
    """-> the JSON's ``database`` dict and its class list (module docstring)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise DatasetError(f"{path}: not UTF-8 text ({err})") from None
    except ValueError as err:
        raise DatasetError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("database"), dict):
        raise DatasetError(f"{path}: no 'database' object (the official ActivityNet file maps database -> video id "
                           f"-> subset, duration, annotations)")
    return doc["database"], _classes(doc, path)


def _classes(doc, path):
    nodes = doc.get("taxonomy")
    if nodes is not None and not isinstance(nodes, list):
        raise DatasetError(f"{path}: 'taxonomy': expected a list of nodes {{\"nodeName\", \"parentName\", ...}}, got "
                           f"{_kind(nodes)}")
    if nodes:
        for k, n in enumerate(nodes):
            if not isinstance(n, dict) or not isinstance(n.get("nodeName"), str):
                raise DatasetError(f"{path}: taxonomy[{k}]: expected an object with a 'nodeName' string, got "
                                   f"{_kind(n)}")
            if not isinstance(n.get("parentName"), (str, type(None))):
                raise DatasetError(f"{path}: taxonomy[{k}] ({n['nodeName']}): 'parentName': expected a node's name "
                                   f"or null, got {_kind(n['parentName'])}")
        leaves = sorted({n["nodeName"] for n in nodes} - {n.get("parentName") for n in nodes})
        if leaves:
            return leaves
    labels = {a.get("label") for v in doc["database"].values() if isinstance(v, dict)
              and v.get("subset") == "training" and isinstance(v.get("annotations"), list)
              for a in v["annotations"] if isinstance(a, dict) and isinstance(a.get("label"), str)}
    if not labels:
        raise DatasetError(f"{path}: neither a taxonomy nor labelled training segments to take the classes from")
    return sorted(labels)


def _kind(value):
    """A JSON value for a message: its type, and the value itself when it is short."""
    text = json.dumps(value) if isinstance(value, (list, dict)) else repr(value)
    name = {list: "a list", dict: "an object", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), f"a {type(value).__name__}")
    return name if len(text) > 60 or value is None else f"{name} {text}"


def _number(value):
    """A JSON number (int or float, not a boolean) that is finite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def index_videos(root):
    """{video id: path} of every ``v_<id>.<ext>`` under ``root`` (the first extension of VIDEO_EXTENSIONS wins
    where a video is there twice)."""
    found = {}
    for p in sorted(Path(root).rglob("v_*"), key=lambda p: (VIDEO_EXTENSIONS.index(p.suffix.lower())
                                                           if p.suffix.lower() in VIDEO_EXTENSIONS else 99, str(p))):
        if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file():
            found.setdefault(p.stem[2:], p)
    return found


def load_activitynet(root, subset="train", report=None, videos=None):
    """The labelled segments of ``subset`` ("train": training, "test": validation) -> Split (module docstring).
    ``videos``: a ``index_videos`` result to reuse (the train and test loads share one walk of root)."""
    if subset not in SUBSETS:
        raise ValueError(f"subset: expected 'train' or 'test', got {subset!r}")
    path = find_annotations(root)
    database, classes = read_annotations(path)
    index = {c: i for i, c in enumerate(classes)}
    videos = index_videos(root) if videos is None else videos
    report = SkipReport() if report is None else report
    samples = []
    for vid in sorted(database):
        entry, where = database[vid], f"{path.name}: database.{vid}"
        if not isinstance(entry, dict):
            report.add(f"v_{vid}", f"{where}: expected an object with 'subset', 'duration' and 'annotations', got "
                                   f"{_kind(entry)}")
            continue
        if not isinstance(entry.get("subset"), str) or entry["subset"] not in ("training", "validation", "testing"):
            report.add(f"v_{vid}", f"{where}: 'subset': expected 'training', 'validation' or 'testing', got "
                                   f"{_kind(entry.get('subset'))}")
            continue
        if entry["subset"] != SUBSETS[subset]:
            continue
        duration = entry.get("duration")
        if not _number(duration) or not duration > 0:
            report.add(f"v_{vid}", f"{where}: 'duration': expected a positive number of seconds, got {_kind(duration)}")
            continue
        annotations = entry.get("annotations")
        if not isinstance(annotations, list):
            report.add(f"v_{vid}", f"{where}: 'annotations': expected a list of segments, got {_kind(annotations)}")
            continue
        for k, ann in enumerate(annotations):
            name = f"v_{vid}/segment{k}"
            problem, segment = _segment(ann, float(duration), index)
            if problem is None and vid not in videos:
                problem = f"video not found: no v_{vid}.<{'|'.join(e[1:] for e in VIDEO_EXTENSIONS)}> under {root}"
            if problem is not None:
                report.add(name, f"{where}.annotations[{k}]: {problem}")
                continue
            samples.append(Sample(str(videos[vid]), index[ann["label"]], name, segment))
    return Split(samples, classes, report)


def _segment(ann, duration, index):
    """-> (problem or None, Segment or None) of one annotation."""
    if not isinstance(ann, dict):
        return f"expected an object with 'segment' and 'label', got {_kind(ann)}", None
    seg = ann.get("segment")
    if not isinstance(seg, list) or len(seg) != 2 or not all(_number(t) for t in seg):
        return f"expected 'segment': [start, end] in seconds, got {_kind(seg)}", None
    start, end = float(seg[0]), float(seg[1])
    if end <= start:
        return f"segment [{start:g}, {end:g}]: the end is not after the start", None
    if start < 0 or start >= duration or end > duration + END_SLACK:
        return f"segment [{start:g}, {end:g}] lies outside the video (duration {duration:g} s)", None
    label = ann.get("label")
    if not isinstance(label, str):
        return f"'label': expected a class name (a string), got {_kind(label)}", None
    if label not in index:
        return f"unknown label {label!r} (not a class of the taxonomy)", None
    return None, Segment(start, min(end, duration), duration)


def read_segment(sample, size=None, read=None):
    """The decoded frames of a segment sample, uint8 (F, H, W, 3), F >= 1. ``read(path, size)`` decodes the whole
    video (default ``video.read_video``). Raises ValueError naming the video when its container duration disagrees
    with the annotations' (module docstring)."""
    frames = (read or read_video)(sample.path, size)
    start, end, duration = sample.segment
    stated = video_duration(sample.path)
    if stated is not None and abs(stated - duration) > max(END_SLACK, 0.05 * duration):
        raise ValueError(f"{sample.path}: the video lasts {stated:.2f} s, the annotations say {duration:g} s "
                         f"(another version of the video?)")
    rate = len(frames) / (stated or duration)
    first = min(int(math.floor(start * rate)), len(frames) - 1)
    last = max(first + 1, min(len(frames), int(math.ceil(end * rate))))
    return frames[first:last]
