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

Bad input. A missing or unparsable JSON, or one without ``database``, is a ``DatasetError`` naming the file. An
entry that is malformed (no subset or duration, a segment that is not two numbers, end <= start, a start past the
video's duration), carries an unknown label, or whose video is not under root is skipped into the report, named
``<file>: database.<id>.annotations[<k>]: <problem>``; an end up to 1 s past the duration (common in the official
files) is clipped to it. A video whose container duration disagrees with the JSON's (by more than 1 s and 5 %) is
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
    if isinstance(nodes, list) and nodes:
        parents = {n.get("parentName") for n in nodes if isinstance(n, dict)}
        leaves = sorted({n["nodeName"] for n in nodes if isinstance(n, dict) and "nodeName" in n} - parents)
        if leaves:
            return leaves
    labels = {a.get("label") for v in doc["database"].values() if isinstance(v, dict)
              and v.get("subset") == "training" for a in v.get("annotations", []) if isinstance(a, dict)}
    labels.discard(None)
    if not labels:
        raise DatasetError(f"{path}: neither a taxonomy nor labelled training segments to take the classes from")
    return sorted(labels)


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
        if not isinstance(entry, dict) or entry.get("subset") not in ("training", "validation", "testing"):
            report.add(f"v_{vid}", f"{where}: expected an object with 'subset' training, validation or testing")
            continue
        if entry["subset"] != SUBSETS[subset]:
            continue
        duration = entry.get("duration")
        if not isinstance(duration, (int, float)) or not duration > 0:
            report.add(f"v_{vid}", f"{where}: expected a positive 'duration' in seconds, got {duration!r}")
            continue
        annotations = entry.get("annotations")
        if not isinstance(annotations, list):
            report.add(f"v_{vid}", f"{where}: expected a list of 'annotations', got {annotations!r}")
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
        return f"expected an object with 'segment' and 'label', got {ann!r}", None
    seg = ann.get("segment")
    if (not isinstance(seg, list) or len(seg) != 2 or not all(isinstance(t, (int, float)) for t in seg)
            or not all(math.isfinite(t) for t in seg)):
        return f"expected 'segment': [start, end] in seconds, got {seg!r}", None
    start, end = float(seg[0]), float(seg[1])
    if end <= start:
        return f"segment [{start:g}, {end:g}]: the end is not after the start", None
    if start < 0 or start >= duration or end > duration + END_SLACK:
        return f"segment [{start:g}, {end:g}] lies outside the video (duration {duration:g} s)", None
    if ann.get("label") not in index:
        return f"unknown label {ann.get('label')!r} (not a class of the taxonomy)", None
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
