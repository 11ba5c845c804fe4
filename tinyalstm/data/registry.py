"""The one registry of datasets a run can name (``--dataset``): how each is loaded, whether its clips carry one
class or several, how many official splits it has, where a built-in one lives, its ground truth, and how the
validation split groups its videos.

    from tinyalstm.data.registry import DATASETS, dataset_spec
    spec = dataset_spec("hmdb51")
    train, test = spec.load(root, 1, SkipReport())          # Splits: train.samples, train.classes

The built-in benchmarks (``synthetic``, ``synthetic-multilabel``) are generated into the cache folder on first use
(``ensure_built_in``); every other dataset is read from ``--root`` in its official layout (datasets.py,
hollywood2.py, activitynet.py); ``features`` is a folder of precomputed features (features.py), read by the
pipeline without frames.
"""
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from ..checks import RunError
from .activitynet import index_videos, load_activitynet
from .datasets import DatasetError, load_hmdb51, load_ucf101
from .ground_truth import AnnotationError, annotation_ground_truth, synthetic_ground_truth
from .hollywood2 import ACTIONS, load_hollywood2
from .synthetic import generate, generate_multilabel
from .validation import group_of

# The built-in benchmark: the synthetic package's defaults plus scene context. With p = 0.75 three in four (class,
# group) pairs are filmed in the class's scene, as in UCF101 where appearance alone gets far (VideoLSTM Table 1: RGB
# ConvNet 77.4 %); motion is needed for the rest. With p = 0 single frames carry no class at all and every RGB model
# in the default run sat at chance (RGB ConvNet 0.094, VideoLSTM 0.125 on 8 classes), which compares nothing.
DEFAULT_BENCHMARK = {"context": 0.75}


@dataclass(frozen=True)
class DatasetSpec:
    name: str                           # the --dataset name
    summary: str                        # what --root holds, for --help
    load: Optional[Callable] = None     # (root, split, report) -> (train Split, test Split); None: given features
    multilabel: bool = False            # clips carry several classes: sigmoid loss, mAP
    splits: int = 1                     # official splits (--split 1..splits)
    generate: Optional[Callable] = None  # built in: (root, **options) writes it; None: read from --root
    ground_truth: Optional[Callable] = None   # built-in action tubes: (root) -> (tubes, frame size, tracks)
    groups: Callable = lambda root: group_of  # (root) -> key -> group: what the validation split holds out whole
    lists: str = "the split lists"      # the files that name its classes and videos, as messages cite them
    no_videos: str = "remove them from the class list or add their videos"   # what to do about a class without
    #                                     videos (pipeline.check_split)

    @property
    def built_in(self):
        return self.generate is not None

    @property
    def videos(self):
        """Whether the dataset is videos (decoded, with flow and frame encoders) rather than given features."""
        return self.load is not None

    def default_root(self):
        """Where a built-in benchmark lives when a run names no --root: ~/.cache/tinyalstm/<name>-context0.75
        (XDG_CACHE_HOME respected), named by its options, so a change of the benchmark never reuses another's
        videos or feature caches."""
        return default_cache() / f"{self.name}-context{DEFAULT_BENCHMARK['context']}"


def default_cache():
    """~/.cache/tinyalstm (XDG_CACHE_HOME respected)."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tinyalstm"


def _two_subsets(load):
    """A loader of one subset (root, subset, report, ...) -> a registry loader of the train and test subsets."""
    return lambda root, split, report: tuple(load(root, split, subset, report) for subset in ("train", "test"))


def _ucf101_layout(loader):
    return _two_subsets(lambda root, split, subset, report: loader(root, split=split, subset=subset, report=report))


def _hollywood2(actions):
    """Hollywood2's layout with the classes ``actions(root)``: one split, the distributed train and test lists."""
    return _two_subsets(lambda root, split, subset, report: load_hollywood2(root, subset, report=report,
                                                                            actions=actions(root)))


def _activitynet(root, split, report):
    videos = index_videos(root)                  # the labelled segments of training and validation
    return tuple(load_activitynet(root, subset, report, videos) for subset in ("train", "test"))


def multilabel_classes(root):
    """The class list of a multi-label synthetic benchmark, from its manifest."""
    manifest = Path(root) / "synthetic.json"
    try:
        classes = json.loads(manifest.read_text())["classes"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DatasetError(f"--root {root}: {manifest} does not name the benchmark's classes ({err}); generate "
                           f"it with python -m tinyalstm.data.synthetic.multilabel") from None
    if (not isinstance(classes, list) or not classes or not all(isinstance(c, str) and c for c in classes)
            or len(set(classes)) != len(classes)):
        raise DatasetError(f"--root {root}: {manifest}: 'classes': expected a list of distinct class names, got "
                           f"{json.dumps(classes)[:80]}; generate it with "
                           f"python -m tinyalstm.data.synthetic.multilabel")
    return classes


def _clip_groups(root):
    """The multi-label benchmark's clip names carry no group: it is in each clip's annotation file."""
    groups = {p.stem: json.loads(p.read_text())["group"] for p in (Path(root) / "annotations").glob("*.json")}
    return lambda key: f"g{groups[key]:02d}" if key in groups else key


_SPECS = [
    DatasetSpec("synthetic", "the built-in benchmark in UCF101's layout (default: generated once into --root or "
                "~/.cache/tinyalstm/synthetic-context0.75)", _ucf101_layout(load_ucf101), splits=3,
                generate=generate, ground_truth=synthetic_ground_truth,
                lists="ucfTrainTestlist/ (classInd.txt, trainlist0<k>.txt, testlist0<k>.txt)",
                no_videos="remove them from classInd.txt and the split lists, or add their videos"),
    DatasetSpec("ucf101", "<root>/UCF-101 + <root>/ucfTrainTestlist", _ucf101_layout(load_ucf101), splits=3,
                lists="ucfTrainTestlist/ (classInd.txt, trainlist0<k>.txt, testlist0<k>.txt)",
                no_videos="remove them from classInd.txt and the split lists, or add their videos"),
    DatasetSpec("hmdb51", "<root>/hmdb51_org + <root>/testTrainMulti_7030_splits", _ucf101_layout(load_hmdb51),
                splits=3, lists="testTrainMulti_7030_splits/<class>_test_split<k>.txt (one file per class)",
                no_videos="remove their <class>_test_split<k>.txt files or add their videos"),
    DatasetSpec("features", "<root>/<rgb|flow>/<Class>/<video>.npy + <root>/ucfTrainTestlist; maps (frames, D, N, "
                "N) or vectors (frames, D), e.g. aLSTM's C3D flow/ and VGG rgb/, the attended-data possibly with r "
                "rows per input-data row", splits=3,
                lists="ucfTrainTestlist/ (classInd.txt, trainlist0<k>.txt, testlist0<k>.txt)",
                no_videos="remove them from classInd.txt and the split lists, or add their feature files"),
    DatasetSpec("hollywood2", "<root>/Hollywood2/AVIClips + <root>/Hollywood2/ClipSets; multi-label",
                _hollywood2(lambda root: ACTIONS), multilabel=True,
                lists="Hollywood2/ClipSets/<Action>_train.txt and <Action>_test.txt",
                no_videos="the 12 actions are fixed: each needs clips marked 1 in its ClipSets lists whose videos "
                          "are in Hollywood2/AVIClips/"),
    DatasetSpec("synthetic-multilabel", "the built-in multi-label benchmark in Hollywood2's layout, generated once "
                "into --root or ~/.cache/tinyalstm/synthetic-multilabel-context0.75",
                _hollywood2(multilabel_classes), multilabel=True, generate=generate_multilabel, groups=_clip_groups,
                lists="ClipSets/<Class>_train.txt and <Class>_test.txt (the classes: synthetic.json)",
                no_videos="regenerate the benchmark (python -m tinyalstm.data.synthetic.multilabel) or add their "
                          "clips"),
    DatasetSpec("activitynet", "<root>/activity_net.v1-3.min.json + v_<id>.<ext> videos anywhere under <root>; the "
                "labelled segments; training vs the validation subset", _activitynet,
                lists="the annotation JSON (activity_net.v1-3.min.json or v1-2: taxonomy and database)",
                no_videos="add their videos (v_<id>.<ext> under --root) or remove them from the JSON's taxonomy"),
]
DATASETS = {spec.name: spec for spec in _SPECS}


def dataset_spec(name):
    """The registry entry of ``name``, or a ValueError listing the names."""
    if name not in DATASETS:
        raise ValueError(f"dataset: expected one of {tuple(DATASETS)}, got {name!r}")
    return DATASETS[name]


def ensure_built_in(spec, root, log=print):
    """Generate the built-in benchmark ``spec`` into ``root`` unless a synthetic dataset (any options) is already
    there (the multi-label variant's scene context follows the first actor's class) -> the generator's summary."""
    what = "multi-label synthetic benchmark" if spec.multilabel else "synthetic benchmark"
    manifest = Path(root) / "synthetic.json"
    if manifest.is_file():
        context = json.loads(manifest.read_text()).get("options", {}).get("context")
        log(f"data: {what} in {root} (reused; scene context {context})")
        return {"cached": True}
    log(f"data: generating the {what} into {root} (once; reused by later runs)")
    summary = spec.generate(root, verbose=False, **DEFAULT_BENCHMARK)
    if not summary.get("cached"):
        log(f"data: generated {summary['videos']} videos in {summary['seconds']:.0f} s")
    return summary


def ground_truth_for(config, annotations=None):
    """The ground truth of a run's test videos -> ({key: [Tube]}, {key: (H, W)} or one (H, W), the actor's tracks
    over every frame {key: [Tube]} or None): the built-in benchmark's own annotation files (which have the tracks),
    or ``annotations`` (a UCF101-24 pickle in either format, boxes only inside the action), whose labels are
    matched to the run's classes (``config["classes"]``) by name. A label outside the run's classes is an
    AnnotationError naming the file and the video."""
    classes = config.get("classes")
    if annotations is None:
        spec = dataset_spec(config["dataset"])
        if spec.ground_truth is None:
            raise RunError(f"--annotations: the {config['dataset']} run has no built-in ground truth; give the "
                           f"UCF101-24 annotation file (pyannot.pkl or UCF101v2-GT.pkl)")
        root = Path(config["root"]) if config.get("root") else spec.default_root()
        found = spec.ground_truth(root)
        source = root / "annotations"
    else:
        found = annotation_ground_truth(annotations, classes)
        source = annotations
    if classes is not None:
        for key, tubes in found[0].items():
            bad = [t.label for t in tubes if not (isinstance(t.label, int) and 0 <= t.label < len(classes))]
            if bad:
                raise AnnotationError(f"{source}: video {key}: class label {bad[0]!r} is not one of the run's "
                                      f"{len(classes)} classes (0..{len(classes) - 1})")
    return found
