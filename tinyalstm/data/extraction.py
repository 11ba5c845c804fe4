"""From a video dataset in its official layout to the features layout that ``--dataset features`` trains on:
the papers' pretrained features (pretrained.py) of every video the dataset's split lists name, with split lists.

    out/<stream>/<Class>/<video>.npy    stream = rgb or flow (the folders --modality and the models read); one
                                        file per video: maps (rows, 512, N, N) or vectors (rows, D)
    out/ucfTrainTestlist/               classInd.txt, trainlist0k.txt, testlist0k.txt for each official split k,
                                        naming the videos that have a file in every stream
    out/features.json                   what each stream holds (feature, network, weights, sampling)

Which feature goes in which folder is the caller's choice, as the features loader reads them (features.py):
VideoLSTM (sec. 5.2) reads pool5 maps of RGB frames in rgb/ and of flow images in flow/; aLSTM (sec. 3) reads
its input-data, one clip vector per 16-frame chunk, from flow/ and its attended-data, per-frame VGG vectors, from
rgb/.

Rows (``Sampling``): per-frame features are computed on frames 0, S, 2S, ... (``stride`` S; ceil(F / S) rows
for F frames); a flow image t is the flow from frame t to t + 1 (the last frame repeats the previous flow image,
as ``flow.video_flow`` does). Clip features cut the video into ceil(F / L) clips of L frames (``clip_length``),
the last one padded with copies of the video's last frame, so with S = L the two kinds have equally many rows
(aLSTM's T = N; sec. 4.1 samples the attended frames every 16 frames, beside one C3D vector per 16 frames).
Frames are decoded by video.py at the size that makes their shorter side 8/7 of the network's input (256 for
224, 128 for 112, as torchvision's evaluation transforms) and centre-cropped to a square, one video at a time per
worker (all its cropped frames in memory: 150 KB a frame at 224 px); ActivityNet's samples are the labelled
segments of their videos.

Keys: single-label datasets (UCF101, HMDB51, ActivityNet) write ``<Class>/<video>``, the class name with spaces
and slashes made underscores (ActivityNet's classes have spaces; classInd.txt cannot); an ActivityNet segment k
of ``v_<id>`` is ``<Class>/v_<id>_segment<k>``. The loaders' labels are kept: classInd.txt lists the classes in
the dataset's order.

Multi-label datasets (Hollywood2, the multi-label synthetic benchmark): the features layout's split lists are
UCF101's, one class per video, so they cannot carry these labels and ``--dataset features`` cannot train on
them. Their features are still written (``<stream>/AVIClips/<clip>.npy``), with the labels in Hollywood2's own
format beside them (``out/ClipSets/<Class>_{train,test}.txt``, lines ``<clip>  1`` or ``<clip>  -1``).

Every pass goes through ``features.extract_features``: atomic writes, resumable (a rerun skips finished videos
whose video file is unchanged, and recomputes every video when the feature, its sampling or the weights change:
``depends``), bad videos named and skipped into one SkipReport, ``workers`` processes, progress with an ETA.
"""
import json
import math
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from .. import backend
from ..run.folder import locked
from ..run.storage import save_json, save_text
from .activitynet import read_segment
from .cluster import check_scheduler
from .datasets import SkipReport
from .features import content_hash, extract_features, feature_path
from .flow import video_flow
from .pretrained import (FEATURES, NETWORK_NAMES, TRAINED_ON, Encoder, ExtractionError, cached_weights_path,
                         check_device, feature, feature_shape, torch_modules, weights_file)
from .registry import DATASETS, dataset_spec
from .video import frame_size, iter_frames

STREAMS = ("rgb", "flow")
DTYPES = ("float16", "float32")
LISTS = "ucfTrainTestlist"
MULTILABEL_FOLDER = "AVIClips"


@dataclass(frozen=True)
class Sampling:
    """Which rows a video gives (module docstring): ``size`` the square VGG-16 input (224: pool5 7 x 7),
    ``stride`` S for per-frame features, ``clip_size`` the square R3D-18 input (112), ``clip_length`` L."""
    size: int = 224
    stride: int = 1
    clip_size: int = 112
    clip_length: int = 16

    def check(self):
        for name, least in (("size", 32), ("stride", 1), ("clip_size", 16), ("clip_length", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
                raise ValueError(f"{name}: expected an integer >= {least}, got {value!r}")
        return self


def decode_size(height, width, crop):
    """(H, W) to decode a height x width video at so that its shorter side is round(8/7 crop) (256 for 224), the
    aspect ratio kept."""
    short = round(crop * 8 / 7)
    if height <= width:
        return short, max(short, round(width * short / height))
    return max(short, round(height * short / width)), short


def read_cropped(sample, crop):
    """The frames of a dataset sample (a whole video, or an ActivityNet segment of one), decoded at
    ``decode_size`` and centre-cropped: uint8 (F, crop, crop, 3). Raises video.VideoError naming the file."""
    size = decode_size(*frame_size(sample.path), crop)
    read = partial(_decode_cropped, crop=crop)
    return read_segment(sample, size, read) if sample.segment is not None else read(sample.path, size)


def _decode_cropped(path, size, crop):
    """Every frame of a video at ``size``, each cropped as it arrives: the whole video is never held uncropped
    (at 256 x 341 a frame is 1.7 times its 224 x 224 crop; an ActivityNet video holds thousands)."""
    top, left = (size[0] - crop) // 2, (size[1] - crop) // 2
    return np.stack([np.ascontiguousarray(f[top:top + crop, left:left + crop]) for f in iter_frames(path, size)])


def flow_rows(frames, stride=1):
    """Flow images of frames 0, S, 2S, ... of a clip (T, H, W, 3) uint8 -> (ceil(T / S), H, W, 2) uint8, equal to
    ``flow.video_flow(frames)[::stride]`` but computing only the pairs it keeps (image t: frames t and t + 1; the
    last frame's image is the previous pair's). On the project's device (``backend``), as the pipeline's flow."""
    on_device = backend.get_device() != "cpu"
    xp = backend.xp() if on_device else np
    x = backend.to_device(frames) if on_device else frames
    T = len(frames)
    if stride == 1 or T == 1:
        out = video_flow(x, chunk=T if on_device else None)[::stride]
    else:
        out = xp.stack([video_flow(x[f:f + 2])[0] for f in (min(t, T - 2) for t in range(0, T, stride))])
    return backend.to_numpy(out) if on_device else out


def clips_of(frames, length):
    """Non-overlapping clips of ``length`` frames: (F, H, W, C) -> (ceil(F / length), length, H, W, C), the last
    clip padded with copies of the last frame."""
    n = math.ceil(len(frames) / length)
    return frames[np.minimum(np.arange(n * length), len(frames) - 1).reshape(n, length)]


# What extract_features runs per video: module-level functions and partials of them, so that they pickle to its
# worker processes.

def _rgb_rows(sample, crop, stride):
    return np.ascontiguousarray(read_cropped(sample, crop)[::stride])       # the other frames freed now


def _flow_rows(sample, crop, stride):
    return flow_rows(read_cropped(sample, crop), stride)


def _clip_rows(sample, crop, length):
    return clips_of(read_cropped(sample, crop), length)


def _video_file(sample):
    return sample.path


def rows_of(name, sampling):
    """The ``frames_of`` of feature ``name``: sample -> its rows' inputs (frames, flow images or clips)."""
    reads = feature(name).reads
    if reads == "clips":
        return partial(_clip_rows, crop=sampling.clip_size, length=sampling.clip_length)
    return partial(_rgb_rows if reads == "frames" else _flow_rows, crop=sampling.size, stride=sampling.stride)


def rows_summary(name, sampling):
    """What a row of feature ``name`` is, in words (features.json, and what a change of it recomputes)."""
    if feature(name).reads == "clips":
        return (f"one per clip of {sampling.clip_length} frames (the last padded with the last frame); "
                f"{sampling.clip_size} px crop")
    every = "every frame" if sampling.stride == 1 else f"frames 0, {sampling.stride}, {2 * sampling.stride}, ..."
    flow = " (the flow to the next frame)" if feature(name).reads == "flow" else ""
    return f"{every}{flow}; {sampling.size} px crop"


def weights_summary(name, file, seed=0):
    """Where feature ``name``'s weights come from, in words."""
    network = feature(name).network
    if file is None:
        return f"random initialisation, seed {seed} (for tests: the features mean nothing)"
    if file == cached_weights_path(network):
        return f"torchvision's {TRAINED_ON[network]} weights, {file}"
    return str(file)


def class_folder(name):
    """A class name as a folder and classInd.txt entry: whitespace runs and slashes become underscores."""
    return "_".join(str(name).replace("/", " ").replace("\\", " ").split())


@dataclass
class DatasetVideos:
    """Every video the official split lists of a dataset name, keyed as the features layout names them."""
    samples: dict                     # key -> Sample (its first listing)
    classes: list                     # the dataset's classes, in label order
    splits: dict                      # split k -> (train keys, test keys)
    multilabel: bool
    labels: dict = field(default_factory=dict)       # key -> label (an int, or a tuple for multi-label)
    report: SkipReport = field(default_factory=SkipReport)


def feature_key(sample, classes, multilabel=False):
    """The features layout's key of a dataset sample (module docstring)."""
    stem = Path(sample.path).stem
    if sample.segment is not None:
        stem = f"{stem}_{sample.name.rsplit('/', 1)[-1]}"
    return f"{MULTILABEL_FOLDER}/{stem}" if multilabel else f"{class_folder(classes[sample.label])}/{stem}"


def dataset_videos(dataset, root):
    """The videos of every official split of ``dataset`` (a video dataset of the registry) in ``root`` ->
    DatasetVideos. Problems of the lists (bad lines, missing videos) are in its report, each once."""
    spec = dataset_spec(dataset)
    if not spec.videos:
        raise ValueError(f"dataset: {dataset} holds no videos to extract from")
    report, seen_entries = SkipReport(), set()
    samples, labels, splits, classes = {}, {}, {}, None
    for k in range(1, spec.splits + 1):
        found = SkipReport()
        train, test = spec.load(root, k, found)
        for entry in found.skipped:
            if entry not in seen_entries:
                seen_entries.add(entry)
                report.add(*entry)
        if classes is None:
            classes = list(train.classes)
            folders = [class_folder(c) for c in classes]
            clash = sorted({f for f in folders if folders.count(f) > 1})
            if not spec.multilabel and clash:
                names = ", ".join(repr(c) for c in classes if class_folder(c) == clash[0])
                raise ExtractionError(f"--root {root}: the classes {names} would share the folder {clash[0]!r} "
                                      f"(spaces and slashes made underscores)")
        keys = ([], [])
        for subset, split in zip(keys, (train, test)):
            for s in split.samples:
                key = feature_key(s, classes, spec.multilabel)
                first = samples.get(key)
                if first is not None and (first.path, first.segment) != (s.path, s.segment):
                    if (s.name, key) not in seen_entries:
                        seen_entries.add((s.name, key))
                        report.add(s.name, f"its feature file {key}.npy would be {first.name}'s; left out")
                    continue
                samples.setdefault(key, s)
                labels.setdefault(key, s.label)
                subset.append(key)
        splits[k] = keys
    return DatasetVideos(samples, classes, splits, spec.multilabel, labels, report)


def _weights_for(name, weights, random_weights):
    """The state dict file feature ``name`` reads (pretrained.weights_file), None for random weights."""
    if random_weights:
        return None
    f = feature(name)
    if f.network == "r3d18":
        return weights_file("r3d18", weights.get("r3d18"), "--r3d-weights")
    if f.reads == "flow" and weights.get("flow") is not None:
        return weights_file("vgg16", weights["flow"], "--flow-weights")
    return weights_file("vgg16", weights.get("vgg16"), "--vgg-weights")


def extract(dataset, root, out, streams, sampling=Sampling(), weights=None, random_weights=False, device="cpu",
            batch=16, workers=1, dtype="float16", seed=0, progress=True, log=print, scheduler=None):
    """Extract features of every video of ``dataset`` in ``root`` into ``out`` (module docstring) -> summary dict.

    streams: {"rgb": feature name or None, "flow": ...} (pretrained.FEATURES); weights: {"vgg16": file,
    "flow": file, "r3d18": file}, each optional (default: torchvision's cached weights; ``flow`` defaults to the
    VGG-16 file, cross-modality initialised); random_weights: torchvision's random initialisation after
    ``torch.manual_seed(seed)``, for tests only. Everything is checked before any video is read: PyTorch,
    the device, the weights files, the dataset's lists. Bad videos are skipped and named in
    ``summary["report"]``; the split lists name only the videos that have a file in every stream. ``scheduler``: a
    Dask scheduler's address (or Client) that runs the per-video passes instead of ``workers`` local processes
    (data/cluster.py; checked before any video is read)."""
    streams = {s: n for s, n in streams.items() if n}
    if not streams or set(streams) - set(STREAMS):
        raise ValueError(f"streams: expected features for rgb and/or flow, got {streams!r}")
    for name in streams.values():
        feature(name)
    if dtype not in DTYPES:
        raise ValueError(f"dtype: expected one of {DTYPES}, got {dtype!r}")
    sampling.check()
    weights = dict(weights or {})
    torch_modules()
    check_device(device)
    check_scheduler(scheduler)
    files = {s: _weights_for(n, weights, random_weights) for s, n in streams.items()}
    digests = {f: content_hash(f) for f in set(files.values()) if f is not None}
    root, out = Path(root), Path(out)
    videos = dataset_videos(dataset, root)
    with locked(out, log):
        described = _described(out, dataset, root)
        report = SkipReport(list(videos.report.skipped))
        items = list(videos.samples.items())
        for stream, name in streams.items():
            f = FEATURES[name]
            shape = feature_shape(name, sampling.clip_size if f.reads == "clips" else sampling.size)
            source = weights_summary(name, files[stream], seed)
            depends = {"feature": f"{name}: {f.summary}; {rows_summary(name, sampling)}; {dtype}",
                       "weights": f"random, seed {seed}" if files[stream] is None else digests[files[stream]]}
            desc = f"{stream} {name}"
            log(f"{stream}/: {name} ({NETWORK_NAMES[f.network]} {f.layer}; weights: {source}) of {len(items)} "
                f"videos; rows: {rows_summary(name, sampling)}")
            extract_features(items, rows_of(name, sampling), Encoder(name, files[stream], device, seed), out / stream,
                             shape, np.dtype(dtype), batch, report, progress, desc, workers,
                             source_of=_video_file, hash_sources=True, depends=depends, log=log,
                             scheduler=scheduler)
            described["streams"][stream] = {"feature": name, "network": NETWORK_NAMES[f.network], "layer": f.layer,
                                            "shape": ["rows", *shape], "rows": rows_summary(name, sampling),
                                            "weights": source, "dtype": dtype}
        save_json(out / "features.json", described)
        bad = set(report.names)
        done = [k for k in videos.samples if k not in bad
                and all(feature_path(out / s, k).is_file() for s in described["streams"])]
        lists = (_write_clipsets if videos.multilabel else _write_split_lists)(out, videos, set(done))
    return {"out": out, "streams": described["streams"], "videos": len(done), "report": report, "lists": lists,
            "multilabel": videos.multilabel}


def _described(out, dataset, root):
    """features.json of ``out``: what an earlier extraction wrote there (its other stream is kept), or a new one.
    Another dataset's features are refused: the split lists would name videos the folders do not hold."""
    path = out / "features.json"
    try:
        before = json.loads(path.read_text())
    except (OSError, ValueError):
        before = None
    here = {"dataset": dataset, "root": str(root.resolve()), "streams": {}}
    if not isinstance(before, dict) or not isinstance(before.get("streams"), dict):
        return here
    if before.get("dataset") != dataset:
        raise ExtractionError(f"--out {out} holds features of --dataset {before.get('dataset')} (its {path}); give "
                              f"another --out for {dataset}")
    return {**here, "streams": {s: v for s, v in before["streams"].items() if s in STREAMS}}


def _write_split_lists(out, videos, done):
    """ucfTrainTestlist/ in UCF101's format (datasets.load_ucf101): classInd.txt, and for every official split k
    trainlist0k.txt ("<Class>/<video>.avi <label>") and testlist0k.txt ("<Class>/<video>.avi") -> the folder."""
    folder = out / LISTS
    save_text(folder / "classInd.txt", "".join(f"{i + 1} {class_folder(c)}\n" for i, c in enumerate(videos.classes)))
    for k, (train, test) in videos.splits.items():
        save_text(folder / f"trainlist0{k}.txt",
                  "".join(f"{key}.avi {videos.labels[key] + 1}\n" for key in train if key in done))
        save_text(folder / f"testlist0{k}.txt", "".join(f"{key}.avi\n" for key in test if key in done))
    return folder


def _write_clipsets(out, videos, done):
    """ClipSets/ in Hollywood2's format (hollywood2.py): per class and subset, every clip with 1 (the class
    happens in it) or -1 -> the folder."""
    folder = out / "ClipSets"
    train, test = videos.splits[1]
    for c, name in enumerate(videos.classes):
        for subset, keys in (("train", train), ("test", test)):
            save_text(folder / f"{class_folder(name)}_{subset}.txt",
                      "".join(f"{key.split('/', 1)[1]}  {1 if c in videos.labels[key] else -1}\n"
                              for key in keys if key in done))
    return folder


def video_datasets():
    """The registry's datasets that are videos (what ``extract`` reads)."""
    return [name for name, spec in DATASETS.items() if spec.videos]
