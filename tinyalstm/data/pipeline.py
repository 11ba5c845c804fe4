"""From videos to the feature maps the recurrent models read (VideoLSTM sec. 5.2, scaled down to a CPU), in the
order of ``load_data``'s stages:

1. dataset and split: ``load_split`` (the loader in registry.py; no leak between the lists, ``check_split``)
2. validation carve: ``validation.carve_validation`` holds out whole groups of the training videos
3. frames and flow: ``cache_frames`` (then ``check_split`` again, on the videos that could be decoded; a refusal
   carries the skip report that explains it)
4. frame encoders: ``fit_frame_encoder`` (its test figure is the ConvNet baseline)
5. maps: ``encode_maps`` (and the mirrored maps with ``flip``)
6. windows: ``windows.py`` reads the ``FeatureData`` this module returns, as training and test windows

    videos --decode (video.py)--> RGB frames ----------------------> frame cache   work/frames/rgb/<key>.npy
           --optical flow (flow.py)--> 2-channel flow images ------> frame cache   work/frames/flow/<key>.npy
    frame cache --train a FrameEncoder per modality (train split only; its video accuracy is the ConvNet baseline)
                --its last pooled maps--> feature cache              work/features/<modality>/<key>.npy

Every stage writes per-video ``.npy`` files through ``features.extract_features`` (atomic, resumable, bad videos
skipped and reported; on ``workers`` processes, workers.py), so a rerun skips what is done and memory does not grow
with the number of videos: one video's frames are in memory at a time per worker, training reads memory-mapped
files.

A cached stage is reused only while its inputs are unchanged (features.py, ``inputs.json`` beside each cache): a
video's frames while the video has the size and modification time it had when decoded (or, if only its time
moved, the same content); its maps while its frames and the frame encoder are the ones they were made from; a
frame encoder while its training videos' frames are (``<tag>.inputs.json`` beside it; changed test videos only
rescore the ConvNet baseline). What changed is recomputed, and the log says how many videos ("N videos changed
since they were cached: recomputed"); a video that changed into something unreadable is skipped and reported, its
old frames removed.

For ``--dataset features`` the features come from elsewhere: ``<root>/<modality>/<Class>/<video>.npy`` plus
``<root>/ucfTrainTestlist/`` (UCF101's split files), each file maps (frames, D, N, N) or vectors (frames, D) such as
aLSTM's C3D and VGG features, the attended-data possibly with r rows per input-data row; see features.py.
"""
import hashlib
import json
import time
import zipfile
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from .. import backend
from ..models.frame_encoder import FrameEncoder, train_frame_encoder, video_baseline
from ..models.pretraining import PartsHead, pretrain
from ..optim import RMSprop
from ..run.storage import save_json, save_npz
from .activitynet import read_segment
from .augment import flip_frames
from .cluster import check_scheduler
from .datasets import DatasetError, SkipReport, is_multilabel, load_ucf101
from .features import (FeatureChecks, FeatureError, extract_features, file_stamp, load_features,
                       validate_modalities)
from .flow import video_flow
from .registry import dataset_spec, default_cache, ensure_built_in
from .synthetic.render import SHAPES
from .synthetic.stills import PARTS, VERSION as STILLS_VERSION, stills
from .validation import carve_validation
from .video import read_video
from .windows import rows_per_input_step

MODALITY_CHANNELS = {"rgb": 3, "flow": 2}
ENCODER_WIDTHS = (16, 32, 32)      # the frame encoders' blocks: each halves the frame, so maps are size / 8
# Where the RGB maps come from: the encoder pretrained on the world's stills then fine-tuned on the action labels,
# the pretrained encoder as it is, or an encoder trained on the action labels alone (models/pretraining.py).
RGB_ENCODERS = ("finetuned", "frozen", "scratch")
# The pretraining stage: how many stills, epochs over them, and the stills' stream. One pretrained encoder serves
# every run and seed (as one ImageNet model serves every fine-tuning), so it is cached outside a run's work folder.
PRETRAINING = {"stills": 3000, "epochs": 4, "seed": 0, "check_stills": 500}


@dataclass
class FeatureData:
    """What training reads: per split a list of (key, label); per modality the folder of its .npy features, their
    shape and their rows per step."""
    train: list
    test: list
    classes: list
    roots: dict                      # modality -> folder with <key>.npy
    feature_shape: tuple             # (D, N, N) of the maps; given vector features: the first modality's (D,)
    video_paths: dict = field(default_factory=dict)   # key -> video file (for overlays); empty for features
    convnet: dict = field(default_factory=dict)       # modality -> ConvNet baseline test accuracy (mAP: multi-label)
    report: SkipReport = field(default_factory=SkipReport)
    val: list = field(default_factory=list)           # (key, label) held out of the training videos (validation.py)
    flipped_roots: dict = field(default_factory=dict)  # modality -> every video's mirrored maps (augment.py)
    multilabel: bool = False                          # labels are tuples of class indices (Hollywood2)
    shapes: dict = field(default_factory=dict)        # modality -> (D, N, N) maps or (D,) vectors (feature_shape
    #                                                   for every modality of roots not named)
    rates: dict = field(default_factory=dict)         # modality -> rows per step of the first input (1 if not
    #                                                   named; aLSTM's T = 2N: {"flow": 1, "rgb": 2}, windows.py)
    options: dict = None                              # a built-in benchmark's generator options (its synthetic.json)

    def __post_init__(self):
        self.shapes = {**{m: tuple(self.feature_shape) for m in self.roots},
                       **{m: tuple(shape) for m, shape in self.shapes.items()}}


def key_of(sample):
    return sample.name.rsplit(".", 1)[0]


def load_split(dataset, root, split):
    """-> (train samples, test samples, classes, report) of a video dataset in its official layout (its loader in
    the dataset registry)."""
    report = SkipReport()
    train, test = dataset_spec(dataset).load(root, split, report)
    check_split(train.samples, test.samples, train.classes, f"--root {root}: split {split}", report, dataset)
    return train.samples, test.samples, train.classes, report


def check_split(train, test, classes, where, report=None, dataset=None):
    """A split's lists must hold training and test videos, must not share a video (a leak from test into
    training), and every class must have training and test videos (a class without them changes the chance level
    and the mean AP silently) -> None, or a DatasetError naming what is wrong. The error carries ``report`` (a
    SkipReport) when it has entries: what was left out is usually why. ``dataset``: its registry name, whose
    ``lists`` and ``no_videos`` name the files to fix."""
    spec = dataset_spec(dataset) if dataset is not None else None
    lists = spec.lists if spec else "the split lists"
    fix = spec.no_videos if spec else "remove them from the class list or add their videos"
    skipped = (f"\nwhat was left out, and why: {report.summary()}" if report is not None and report.count
               else "")
    if not len(train) or not len(test):
        raise DatasetError(f"{where}: of the videos that {lists} name, {len(train)} training and {len(test)} test "
                           f"videos could be used" + (skipped or " (the lists name none)"))
    shared = sorted({s.path for s in train} & {s.path for s in test})
    if shared:
        names = ", ".join(Path(p).name for p in shared[:5]) + (f" and {len(shared) - 5} more" if len(shared) > 5
                                                              else "")
        raise DatasetError(f"{where}: {len(shared)} videos are in both the training and the test list ({names}); "
                           f"fix {lists}")
    for subset, samples in (("training", train), ("test", test)):
        present = set().union(*(s.label if isinstance(s.label, tuple) else {s.label} for s in samples))
        empty = [c for i, c in enumerate(classes) if i not in present]
        if empty:
            raise DatasetError(f"{where}: {len(empty)} of {len(classes)} classes have no {subset} videos "
                               f"({', '.join(empty[:8])}{' ...' if len(empty) > 8 else ''}); {fix}{skipped}")


# The callables given to extract_features are module-level functions and partials of them: picklable, so that
# they can run in its worker processes (workers > 1).

def _frames_of(modality, size):
    return partial(_decode if modality == "rgb" else _decoded_flow, size=size)


def _decode(sample, size):          # the whole video, or a trimmed sample's segment of it (ActivityNet)
    return read_segment(sample, size) if sample.segment else read_video(sample.path, size=size)


def _decoded_flow(sample, size):
    """Flow images of a decoded video, computed on the run's device (flow.py's steps are array operations on CuPy
    arrays too; on the GPU the chunk is the whole clip, one batch of pairs)."""
    frames = _decode(sample, size)
    if backend.get_device() == "cpu":
        return video_flow(frames)
    return backend.to_numpy(video_flow(backend.to_device(frames), chunk=len(frames)))


def _unchanged(frames):
    """The decoding stages' encode: the frames (RGB or flow images) are what they cache."""
    return frames


def _cached_frames(root):
    return partial(_load_cached, Path(root))


def _video_file(sample):
    """What a sample's frames are made from (features.extract_features' ``source_of``)."""
    return sample.path


def _frames_file(root, sample):
    """What a sample's maps are made from: its cached frames."""
    return Path(root) / f"{key_of(sample)}.npy"


def _load_cached(root, sample):
    return np.load(root / f"{key_of(sample)}.npy", mmap_mode="r")


def _flipped_frames(frames_of, modality):
    return partial(_flipped, frames_of, modality)


def _flipped(frames_of, modality, sample):
    return flip_frames(frames_of(sample), modality)


def load_data(dataset, root, split, modalities, work=None, size=64, encoder_epochs=8, seed=0, validation=0.0,
              flip=False, log=print, workers=1, generate=True, classes=None, rgb_encoder="scratch", scheduler=None):
    """The FeatureData of a run: given features (``dataset='features'``), or videos of ``dataset`` (synthetic,
    generated into ``root`` or the default cache folder on first use; ucf101; hmdb51) through the pipeline of the
    module docstring, with the work cache ``work`` (default: ``default_work``). Cached stages are reused while their
    inputs are unchanged. ``validation``: the fraction of the training groups held out as ``FeatureData.val``
    (validation.py); the frame encoders never see them. ``flip``: also cache the maps of every video mirrored
    left-right (``FeatureData.flipped_roots``), for flip augmentation and aLSTM's test protocol (videos only: given
    features have no frames to flip). ``workers``: processes decoding, computing flow and encoding videos
    (``features.extract_features``; 1: this process); ``scheduler``: a Dask scheduler's address (or Client) to run
    them on instead (cluster.py; checked first). ``generate=False`` (a saved run read again): a built-in
    benchmark missing from ``root`` is refused, not generated. ``classes``: the class list the data must have (a
    saved run's), checked before anything is decoded. ``rgb_encoder``: one of RGB_ENCODERS, where the RGB maps
    come from (``prepare_video_features``)."""
    spec = dataset_spec(dataset)
    if not spec.videos:
        if flip:
            raise ValueError("--flip: given features (--dataset features) have no frames to mirror; flip the "
                             "videos before computing them")
        data = prepare_given_features(root, split, modalities, log=log, classes=classes)
        data.train, data.val = carve_validation(data.train, validation, key=lambda s: s[0])
        return data
    check_scheduler(scheduler)
    options = None
    if spec.built_in:
        root = root or spec.default_root()
        manifest = Path(root) / "synthetic.json"
        if not generate and not manifest.is_file():
            raise DatasetError(f"--root {root}: no {dataset} benchmark there (no synthetic.json); the data of a "
                               f"saved run are not generated again: give the folder it was moved to with --root")
        ensure_built_in(spec, root, log=log)
        options = json.loads(manifest.read_text()).get("options")
    work = work or default_work(dataset, root)
    data = prepare_video_features(dataset, root, split, modalities, work, size=size, enc_epochs=encoder_epochs,
                                  seed=seed, validation=validation, flip=flip, log=log, workers=workers,
                                  classes=classes, rgb_encoder=rgb_encoder,
                                  render_size=min((options or {}).get("size") or [112]), scheduler=scheduler)
    data.options = options
    return data


def check_classes(found, expected, root):
    """A saved run's data must have its classes, in its order -> None, or a DatasetError naming the difference."""
    if expected is None or list(found) == list(expected):
        return
    gone, new = [c for c in expected if c not in found], [c for c in found if c not in expected]
    what = "; ".join(part for part in (f"missing there: {', '.join(gone[:8])}" if gone else "",
                                       f"not in the run: {', '.join(new[:8])}" if new else "") if part)
    raise DatasetError(f"--root {root}: not the dataset the run was trained on: its {len(found)} classes differ "
                       f"from the run's {len(expected)} ({what or 'the same classes in another order'})")


def prepare_video_features(dataset, root, split, modalities, work, size=64, widths=ENCODER_WIDTHS, enc_epochs=8,
                           per_video=8, seed=0, validation=0.0, flip=False, log=print, workers=1, classes=None,
                           rgb_encoder="scratch", render_size=112, scheduler=None):
    """Run the pipeline of the module docstring for ``modalities`` -> FeatureData, its stages in order: the dataset's
    split, the validation carve, then per modality the frames (and flow), the frame encoder, the maps. Stages
    already done (same options) are skipped; encoder weights are kept in work/encoders/<modality>-<options>.npz.
    ``workers``: processes per extraction pass (decoding + flow; the encoder's passes too on the CPU, while on a GPU
    they stay in this process, which holds the one CUDA context); ``scheduler``: the same passes on a Dask cluster
    instead (``features.extract_features``). ``classes``: the class list the split must have
    (``check_classes``). Every class must keep training and test videos that could be read (``check_split``).
    ``rgb_encoder`` (RGB_ENCODERS): "scratch" trains the RGB encoder on the action labels from random weights, as
    the flow encoder always is; "finetuned" starts it from the encoder pretrained on the world's stills
    (``pretrain_frame_encoder``, stills drawn at ``render_size``, the benchmark's frame size), and "frozen" reads
    the maps of the pretrained encoder as it is (the ConvNet baseline is then the fine-tuned one)."""
    if rgb_encoder not in RGB_ENCODERS:
        raise ValueError(f"rgb_encoder: expected one of {', '.join(RGB_ENCODERS)}, got {rgb_encoder!r}")
    work = Path(work)
    expected = classes
    train, test, classes, report = load_split(dataset, root, split)
    check_classes(classes, expected, root)
    train, val = carve_validation(train, validation, key=key_of, group=dataset_spec(dataset).groups(root))
    log(f"data: {dataset} split {split}: {len(train)} train / " + (f"{len(val)} validation / " if val else "")
        + f"{len(test)} test videos, {len(classes)} classes"
        + (f"; {report.count} list entries skipped" if report.count else ""))
    everything = train + val + test
    multilabel = is_multilabel(s.label for s in everything)
    roots, convnet, flipped = {}, {}, {}
    enc = None
    held_out = f"-val{validation:g}" if val else ""      # in the encoders' cache tag: trained without these videos
    enc_workers = workers if backend.get_device() == "cpu" else 1
    enc_scheduler = scheduler if backend.get_device() == "cpu" else None
    for m in modalities:
        frames_root = cache_frames(m, everything, work / "frames" / m / f"{size}px", size, report, log, workers,
                                   scheduler)
        ok = [s for s in everything if (frames_root / f"{key_of(s)}.npy").exists()]
        usable = set(ok)
        train, val, test = ([s for s in subset if s in usable] for subset in (train, val, test))
        check_split(train + val, test, classes, f"--root {root}: split {split} (the videos that could be decoded)",
                    report, dataset)
        frames_of = _cached_frames(frames_root)
        tag = f"{m}-s{size}-w{'x'.join(map(str, widths))}-e{enc_epochs}-p{per_video}-seed{seed}-split{split}{held_out}"
        enc = FrameEncoder(MODALITY_CHANNELS[m], size, len(classes), widths=widths, seed=seed, multilabel=multilabel)
        maps_of, maps_tag = enc, tag
        if m == "rgb" and rgb_encoder != "scratch":
            pretrained = pretrain_frame_encoder(size, widths, render_size, log)
            enc.params.update({k: v.copy() for k, v in pretrained.blocks().items()})
            pre_tag = pretraining_tag(size, widths, render_size)
            tag = f"{tag}-{pre_tag}"
            maps_of, maps_tag = (pretrained, pre_tag) if rgb_encoder == "frozen" else (enc, tag)
        stamps = {sub: {key_of(s): file_stamp(frames_root / f"{key_of(s)}.npy") for s in samples}
                  for sub, samples in (("train", train), ("test", test))}
        convnet[m] = fit_frame_encoder(enc, m, work / "encoders" / f"{tag}.npz", train, test, frames_of, enc_epochs,
                                       per_video, seed, report, log, inputs=stamps)
        roots[m] = encode_maps(maps_of, ok, frames_of, work / "features" / maps_tag, report, f"[{m}] feature maps",
                               enc_workers, frames_root, log, enc_scheduler)
        if flip:                                  # the same encoder on the mirrored videos
            flipped[m] = encode_maps(maps_of, ok, _flipped_frames(frames_of, m),
                                     work / "features" / f"{maps_tag}-flipped", report, f"[{m}] mirrored feature maps",
                                     enc_workers, frames_root, log, enc_scheduler)
    if report.count:
        log(f"data report: {report.summary()}")
    pairs = lambda subset: [(key_of(s), s.label) for s in subset]  # noqa: E731
    return FeatureData(pairs(train), pairs(test), classes, roots, enc.feature_shape,
                       {key_of(s): s.path for s in train + val + test}, convnet, report, pairs(val), flipped,
                       multilabel)


def pretraining_tag(size, widths, render_size, settings=None):
    """The name of a pretrained encoder's cache entry: everything its weights depend on (``settings``: as
    PRETRAINING, the default)."""
    p = settings or PRETRAINING
    render_size = _whole_cells(size, widths, render_size)
    return (f"pretrained-s{size}-w{'x'.join(map(str, widths))}-r{render_size}-n{p['stills']}-e{p['epochs']}"
            f"-seed{p['seed']}-v{STILLS_VERSION}")


def _whole_cells(size, widths, render_size):
    """``render_size`` rounded up to whole cells of the encoder's map grid (a benchmark of 100 px and 8 x 8 maps
    draws its stills at 104 px), as the stills' labels need."""
    cells = size // 2 ** len(widths)
    return -(-int(render_size) // cells) * cells


def pretrain_frame_encoder(size, widths, render_size, log=print, cache=None, settings=None):
    """Stage "pretraining": a FrameEncoder for RGB frames at ``size`` px whose blocks are trained on the world's
    stills (data/synthetic/stills.py, drawn at ``render_size`` px and decoded at ``size`` as a benchmark's videos
    are; models/pretraining.py), or loaded from ``cache`` (default: ~/.cache/tinyalstm/pretrained/) where an
    earlier run left them -> the encoder (its head is untrained: only ``blocks()`` are pretrained). Logs how well
    it does its task on stills it never saw. ``settings``: as PRETRAINING (the default)."""
    p = settings or PRETRAINING
    render_size = _whole_cells(size, widths, render_size)
    path = Path(cache or default_cache() / "pretrained") / f"{pretraining_tag(size, widths, render_size, p)}.npz"
    enc = FrameEncoder(3, size, 2, widths=widths, seed=p["seed"])
    if path.exists():
        try:
            with np.load(path) as z:
                blocks = {k: backend.to_device(z[k], enc.dtype) for k in enc.blocks()}
                figures = {k[2:]: float(z[k]) for k in z.files if k.startswith("__")}
            if any(blocks[k].shape != v.shape for k, v in enc.blocks().items()):
                raise ValueError("weights of other shapes")
            enc.params.update(blocks)
            log(f"[rgb] pretrained frame encoder loaded from {path} ({_pretraining_figures(figures)})")
            return enc
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
            log(f"[rgb] {path} cannot be read ({err}): pretraining again")
    t0 = time.perf_counter()
    cells = enc.map_size
    log(f"[rgb] pretraining the frame encoder: {p['stills']} stills of the synthetic world, the part in each of "
        f"{cells}x{cells} cells ({len(SHAPES)} object shapes, {len(PARTS) - len(SHAPES)} scene types), "
        f"{p['epochs']} epochs")
    path.parent.mkdir(parents=True, exist_ok=True)
    frames, labels = stills(p["stills"], cells, size, seed=p["seed"], render_size=render_size, tmp=path.parent)
    head = PartsHead(enc.widths[-1], len(PARTS), seed=p["seed"])
    pretrain(enc, head, frames, labels, RMSprop(lr=1e-3), p["epochs"], np.random.default_rng(p["seed"]),
             objects=len(SHAPES), log=lambda msg: log(f"[rgb]   {msg}"))
    frames, labels = stills(p["check_stills"], cells, size, seed=p["seed"] + 1, render_size=render_size,
                            tmp=path.parent)
    figures = parts_figures(head.predict(enc, frames), labels)
    save_npz(path, **{k: backend.to_numpy(v) for k, v in {**enc.blocks(), **head.params}.items()},
             **{f"__{k}": v for k, v in figures.items()})
    log(f"[rgb] pretrained ({time.perf_counter() - t0:.0f} s; {_pretraining_figures(figures)})")
    return enc


def parts_figures(predicted, labels):
    """How well cell predictions (n, N, N) match the stills' labels: objects (cells of an object predicted as some
    object), false (background cells predicted as an object), shape (object cells given their object's shape) and
    scene (background cells given their scene type) -> dict of fractions."""
    obj, said = labels < len(SHAPES), predicted < len(SHAPES)
    return {"objects": float(said[obj].mean()), "false": float(said[~obj].mean()),
            "shape": float((predicted[obj] == labels[obj]).mean()), "scene": float((predicted[~obj] ==
                                                                                    labels[~obj]).mean())}


def _pretraining_figures(f):
    return (f"on unseen stills: {f['objects']:.2f} of the object cells found, {f['false']:.2f} of the background "
            f"cells taken for an object; shape right {f['shape']:.2f}, scene type right {f['scene']:.2f}")


def cache_frames(modality, samples, frames_root, size, report, log=print, workers=1, scheduler=None):
    """Stage "frames and flow": decode every sample at size x size (and compute its flow images, ``flow.py``) into
    ``frames_root/<key>.npy`` (uint8; done ones are skipped while their video is unchanged, bad videos reported)
    -> frames_root."""
    t0 = time.perf_counter()
    flow = " + optical flow" if modality == "flow" else ""
    log(f"[{modality}] decoding{flow} at {size}x{size} -> {frames_root}")
    extract_features(((key_of(s), s) for s in samples), _frames_of(modality, size), _unchanged, frames_root,
                     (size, size, MODALITY_CHANNELS[modality]), dtype=np.uint8, batch=4096, report=report,
                     desc=f"[{modality}] decoding" + (" + flow" if flow else ""), workers=workers,
                     source_of=_video_file, hash_sources=True, log=log, scheduler=scheduler)
    log(f"[{modality}] frames ready ({time.perf_counter() - t0:.0f} s)")
    return frames_root


def fit_frame_encoder(enc, modality, enc_file, train, test, frames_of, epochs, per_video, seed, report, log=print,
                      inputs=None):
    """Stage "frame encoder": train ``enc`` on the training videos' cached frames and score it on the test videos
    (the ConvNet baseline), or load both from ``enc_file`` if a run with these options made it from the same
    frames -> the baseline's figure (accuracy, or mAP for multi-label data). ``inputs``: {"train": {key: stamp},
    "test": {key: stamp}} of the frame files it reads (``features.file_stamp``), recorded in
    ``<tag>.inputs.json`` beside ``enc_file``: changed training frames retrain the encoder, changed test frames
    rescore the baseline. A file with no record is kept if it is newer than every frame file it reads."""
    figure = "mAP" if enc.multilabel else "accuracy"
    record = enc_file.with_name(enc_file.stem + ".inputs.json")
    if enc_file.exists():
        saved = _read_record(record)
        if inputs is not None and saved is None and _newer_than(enc_file, inputs):
            saved = inputs                          # made before records, from these very frames
            save_json(record, inputs, indent=None)
        changed = _changed_keys(saved, inputs, "train")
        if not changed:
            with np.load(enc_file) as z:
                enc.params = {k: backend.to_device(z[k], enc.dtype) for k in enc.params}
                score = float(z["__test_acc"])
            rescored = _changed_keys(saved, inputs, "test")
            if rescored:
                score, _ = video_baseline(enc, test, frames_of)
                save_npz(enc_file, __test_acc=score, **{k: backend.to_numpy(v) for k, v in enc.params.items()})
                save_json(record, inputs, indent=None)
                log(f"[{modality}] {len(rescored)} test videos changed since the ConvNet baseline was scored: "
                    f"rescored")
            log(f"[{modality}] frame encoder loaded from {enc_file} (ConvNet test {figure} {score:.3f})")
            return score
        log(f"[{modality}] {len(changed)} of the frame encoder's training videos changed since it was trained "
            f"({', '.join(changed[:5])}{' ...' if len(changed) > 5 else ''}): retraining it")
    t0 = time.perf_counter()
    log(f"[{modality}] training the frame encoder ({epochs} epochs, {per_video} frames per video)")
    train_frame_encoder(enc, train, frames_of, RMSprop(lr=1e-3), epochs, np.random.default_rng(seed),
                        per_video=per_video, report=report, log=lambda s: log(f"[{modality}]   {s}"))
    score, _ = video_baseline(enc, test, frames_of)
    save_npz(enc_file, __test_acc=score, **{k: backend.to_numpy(v) for k, v in enc.params.items()})
    if inputs is not None:
        save_json(record, inputs, indent=None)
    log(f"[{modality}] ConvNet baseline (frame probabilities averaged over each test video): {figure} "
        f"{score:.3f} ({time.perf_counter() - t0:.0f} s)")
    return score


def _read_record(path):
    try:
        saved = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) else None


def _newer_than(path, inputs):
    """Make's rule: ``path`` was written after every file of ``inputs`` ({subset: {key: stamp}})."""
    stamps = [stamp for subset in inputs.values() for stamp in subset.values()]
    return all(Path(path).stat().st_mtime_ns > stamp[1] for stamp in stamps)


def _changed_keys(saved, inputs, subset):
    """The keys of ``subset`` whose stamp differs between the record ``saved`` and ``inputs`` (added and dropped
    videos too); no record: all of them."""
    if inputs is None:
        return []
    now, was = inputs.get(subset, {}), (saved or {}).get(subset)
    if not isinstance(was, dict):
        return sorted(now) or ["(no record)"]
    return sorted(k for k in set(now) | set(was) if now.get(k) != was.get(k))


def weights_digest(params):
    """A SHA-256 of a model's parameters ({name: array}), what its outputs depend on."""
    h = hashlib.sha256()
    for k in sorted(params):
        a = np.ascontiguousarray(backend.to_numpy(params[k]))
        h.update(f"{k}{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def encode_maps(enc, samples, frames_of, feature_root, report, desc, workers=1, frames_root=None, log=None,
                scheduler=None):
    """Stage "maps": the frame encoder's last pooled maps of every sample's frames into
    ``feature_root/<key>.npy`` (done ones skipped, while the frames in ``frames_root`` and the encoder's weights
    are the ones they were made from) -> feature_root."""
    extract_features(((key_of(s), s) for s in samples), frames_of, enc.features, feature_root, enc.feature_shape,
                     report=report, desc=desc, workers=workers,
                     source_of=None if frames_root is None else partial(_frames_file, Path(frames_root)),
                     depends=None if frames_root is None else {"frame encoder weights": weights_digest(enc.params)},
                     log=log, scheduler=scheduler)
    return feature_root


def prepare_given_features(root, split, modalities, log=print, classes=None):
    """``--dataset features``: <root>/<modality>/<Class>/<video>.npy + <root>/ucfTrainTestlist/ -> FeatureData.
    ``modalities``: the first input's, then the second's (if any). Every file is checked once
    (``features.validate_modalities``: the shape of each modality, maps or vectors, decided by its files); r, the
    second input's rows per row of the first, is decided by the files (``windows.rows_per_input_step``); bad files
    and videos of another r are skipped and named in the report."""
    root = Path(root)
    report = SkipReport()
    if not (root / "ucfTrainTestlist").is_dir():
        raise FileNotFoundError(f"--root {root}: no ucfTrainTestlist/ folder with the split files")
    for m in modalities:
        if not (root / m).is_dir():
            raise FileNotFoundError(f"--root {root}: no {m}/ folder of features (expected {root / m}/<Class>/"
                                    f"<video>.npy for this model)")
    lists = {(m, sub): load_ucf101(root / m, split=split, subset=sub, videos_dir=root / m, report=report,
                                   suffix=".npy") for m in modalities for sub in ("train", "test")}
    check_classes(lists[(modalities[0], "train")].classes, classes, root)
    checks = FeatureChecks(default_cache() / "feature-checks" / f"{_digest(str(root.resolve()))}.json")
    kept, shapes = validate_modalities({k: v.samples for k, v in lists.items()}, report, checks)
    checks.save()
    keys = set.intersection(*[{key_of(s) for sub in ("train", "test") for s in kept[(m, sub)]} for m in modalities])
    first, rates = modalities[0], {m: 1 for m in modalities}
    if len(set(modalities)) > 1:                       # the attended-data's rows per input-data row
        second = modalities[1]
        rows = {m: {key_of(s): len(load_features(Path(s.path).parent, Path(s.path).stem)) for sub in ("train", "test")
                    for s in kept[(m, sub)] if key_of(s) in keys} for m in (first, second)}
        rates[second], bad = rows_per_input_step(rows, first, second)
        names = {key_of(s): s.name for sub in ("train", "test") for s in kept[(second, sub)]}
        for key in sorted(bad):
            report.add(names[key], bad[key])
        keys -= set(bad)
    tr, te = ([s for s in kept[(first, sub)] if key_of(s) in keys] for sub in ("train", "test"))
    if not tr or not te:
        raise FeatureError(f"--root {root}: split {split} has {len(tr)} usable training and {len(te)} test "
                           f"videos\n{report.summary()}")
    check_split(tr, te, lists[(first, "train")].classes, f"--root {root}: split {split} (usable feature files)",
                report, "features")
    tr, te = ([(key_of(s), s.label) for s in subset] for subset in (tr, te))
    if all(len(shapes[m]) == 3 for m in modalities):
        what = f"maps {tuple(shapes[first])}"
    else:
        what = ", ".join(f"{m} {'vectors' if len(shapes[m]) == 1 else 'maps'} {tuple(shapes[m])}"
                         for m in dict.fromkeys(modalities))
    if max(rates.values()) > 1:
        what += f", {rates[modalities[1]]} {modalities[1]} rows per {first} row"
    log(f"data: features from {root}: {len(tr)} train / {len(te)} test videos, {what}"
        + (f"; {report.count} skipped (named below)" if report.count else ""))
    if report.count:
        log(f"data report: {report.summary()}")
    return FeatureData(tr, te, lists[(first, "train")].classes, {m: root / m for m in modalities},
                       tuple(shapes[first]), report=report, shapes={m: shapes[m] for m in modalities}, rates=rates)


def default_work(dataset, root):
    """Cache folder of a video dataset, named so that a cache is never read for other videos than its own:
    <root>/.tinyalstm-work/<hash of synthetic.json's options> for a synthetic benchmark (ours to write into; a
    regeneration with other options gets a fresh cache), else ~/.cache/tinyalstm/work-<dataset>-<hash of the root's
    path> (a read-only dataset folder is fine, and two copies of a dataset never share cached frames)."""
    if dataset_spec(dataset).built_in:
        options = json.loads((Path(root) / "synthetic.json").read_text()).get("options", {})
        return Path(root) / ".tinyalstm-work" / _digest(json.dumps(options, sort_keys=True))
    return default_cache() / f"work-{dataset}-{_digest(str(Path(root).resolve()))}"


def _digest(text):
    return hashlib.sha1(text.encode()).hexdigest()[:8]
