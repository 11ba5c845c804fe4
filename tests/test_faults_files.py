"""Real-data files read from outside, as a user meets them when one is wrong: UCF101-24 ground truth in both
pickled formats (fields of the wrong type, labels out of range or of classes the run lacks, tubes beyond the
video), ActivityNet's JSON and Hollywood2's ClipSets lists field by field, and the skip report shown whenever a run
refuses its data. Every message names the file, the video and the field; the files are written here, tiny."""
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

from tinyalstm import train
from tinyalstm.data import synthetic
from tinyalstm.data.activitynet import load_activitynet
from tinyalstm.data.datasets import DatasetError
from tinyalstm.data.ground_truth import AnnotationError, annotation_ground_truth, ucf101v2_gt
from tinyalstm.data.hollywood2 import ACTIONS, load_hollywood2
from tinyalstm.data.pipeline import load_data, load_split
from tinyalstm.data.registry import ground_truth_for, multilabel_classes
from tinyalstm.experiment import localization
from tinyalstm.localization.tubes import Tube

from conftest import write_mp4

# -- UCF101-24 ground truth ------------------------------------------------------------------------------------

UCF24 = ["Basketball", "BasketballDunk", "Biking", "CliffDiving", "CricketBowling", "Diving", "Fencing",
         "FloorGymnastics", "GolfSwing", "HorseRiding", "IceDancing", "LongJump", "PoleVault", "RopeClimbing",
         "SalsaSpin", "SkateBoarding", "Skiing", "Skijet", "SoccerJuggling", "Surfing", "TennisSwing",
         "TrampolineJumping", "VolleySpiking", "WalkingWithDog"]
# a 101-class run: the 24 among 77 others, in another order (so a UCF101-24 index is not a UCF101 index)
UCF101 = sorted(UCF24 + [f"Action{i:02d}" for i in range(77)], key=str.lower)
FENCING = "Fencing/v_Fencing_g01_c01"
DIVING = "Diving/v_Diving_g02_c03"


def _v2(**change):
    """A UCF101v2-GT.pkl dict with two videos (Fencing: UCF101-24 label 6, Diving: 5), 1-based frames."""
    tube = np.array([[1, 5, 6, 25, 46], [2, 6, 6, 26, 46]], dtype=np.float32)
    data = {"labels": list(UCF24), "gttubes": {FENCING: {6: [tube]}, DIVING: {5: [tube.copy()]}},
            "nframes": {FENCING: 90, DIVING: 60}, "train_videos": [[DIVING]], "test_videos": [[FENCING]],
            "resolution": {FENCING: (240, 320), DIVING: (240, 320)}}
    data.update(change)
    return data


def _write(path, data):
    path.write_bytes(pickle.dumps(data, protocol=2))       # protocol 2: as the distributed Python 2 files
    return path


@pytest.mark.parametrize("field, value, message", [
    ("gttubes", [1], r"field 'gttubes': expected a dict \{video: \{label: \[tubes\]\}\}, got list"),
    ("nframes", [90, 60], r"field 'nframes': expected a dict \{video: a frame count\}, got list"),
    ("labels", 3, r"field 'labels': expected a list of class names, got int 3"),
    ("resolution", 3, r"field 'resolution': expected a dict \{video: \(height, width\)\}, got int 3"),
    ("test_videos", 3, r"field 'test_videos': expected a list \(one per split\) of lists of videos, got int 3"),
    ("nframes", {FENCING: "90"}, rf"video {FENCING}: nframes: expected a frame count"),
    ("resolution", {FENCING: 240}, rf"video {FENCING}: resolution: expected \(height, width\)"),
])
def test_ucf101v2_fields_of_the_wrong_type_name_the_file_and_the_field(tmp_path, field, value, message):
    path = _write(tmp_path / "UCF101v2-GT.pkl", _v2(**{field: value}))
    with pytest.raises(AnnotationError, match=r"UCF101v2-GT\.pkl: " + message):
        ucf101v2_gt(path)


@pytest.mark.parametrize("label", [7, -1])
def test_ucf101v2_labels_outside_the_files_classes_are_refused(tmp_path, label):
    data = _v2(labels=["Fencing", "Diving"], gttubes={FENCING: {label: [np.array([[1, 5, 6, 25, 46]])]}})
    path = _write(tmp_path / "UCF101v2-GT.pkl", data)
    with pytest.raises(AnnotationError, match=rf"UCF101v2-GT\.pkl: video {FENCING}: gttubes label {label}: expected "
                                              r"a class index 0\.\.1 into the file's 2 'labels'"):
        annotation_ground_truth(path, ["Fencing", "Diving"])       # -1 was the last class, 7 an IndexError


def test_ucf101_24_labels_are_matched_to_a_101_class_run_by_name(tmp_path):
    path = _write(tmp_path / "UCF101v2-GT.pkl", _v2())
    tubes, sizes, _ = annotation_ground_truth(path, UCF101)
    assert [t.label for t in tubes[FENCING]] == [UCF101.index("Fencing")] != [UCF24.index("Fencing")]
    assert [t.label for t in tubes[DIVING]] == [UCF101.index("Diving")]
    assert sizes[FENCING] == (240, 320) and tubes[FENCING][0].frames.tolist() == [0, 1]
    # the corrected annotations name no classes: a video's folder is its class
    corrected = {FENCING: {"numf": 90, "label": 6, "annotations": [
                     {"label": 6, "sf": 0, "ef": 2, "boxes": np.array([[5, 6, 20, 40]] * 2)}]},
                 DIVING: {"numf": 60, "label": 5, "annotations": [
                     {"label": 5, "sf": 3, "ef": 4, "boxes": np.array([[1, 1, 4, 4]])}]}}
    tubes, _, _ = annotation_ground_truth(_write(tmp_path / "pyannot.pkl", corrected), UCF101)
    assert [t.label for t in tubes[FENCING]] == [UCF101.index("Fencing")]
    assert [t.label for t in tubes[DIVING]] == [UCF101.index("Diving")]
    # through the registry, as localize reads it: the run's classes are in its configuration
    tubes, _, _ = ground_truth_for({"dataset": "ucf101", "classes": UCF101}, path)
    assert tubes[FENCING][0].label == UCF101.index("Fencing")


def test_a_class_of_the_annotations_that_the_run_lacks_is_named(tmp_path):
    path = _write(tmp_path / "UCF101v2-GT.pkl", _v2())
    with pytest.raises(AnnotationError, match=rf"UCF101v2-GT\.pkl: 1 class of the annotations is not among the "
                                              rf"run's 3 classes: Diving \(e\.g\. video {DIVING}\)"):
        annotation_ground_truth(path, ["Fencing", "Archery", "Rowing"])


def test_corrected_annotations_labels_are_checked(tmp_path):
    def write(**tube):
        entry = {"label": 6, "sf": 0, "ef": 2, "boxes": np.array([[5, 6, 20, 40]] * 2), **tube}
        return _write(tmp_path / "pyannot.pkl", {FENCING: {"numf": 90, "label": 6, "annotations": [entry]},
                                                 DIVING: {"numf": 60, "label": 5, "annotations": []}})
    with pytest.raises(AnnotationError, match=rf"pyannot\.pkl: video {FENCING}: annotations\[0\]\.label: expected "
                                              r"an integer >= 0, got int -1"):
        annotation_ground_truth(write(label=-1), UCF101)
    with pytest.raises(AnnotationError, match=rf"video {FENCING}: annotations\[0\]\.sf: expected an integer >= 0, "
                                              r"got float 0\.5"):
        annotation_ground_truth(write(sf=0.5), UCF101)
    # one label in the folders of two classes: the labels do not follow the classes, nothing can be matched
    path = _write(tmp_path / "pyannot.pkl", {
        FENCING: {"numf": 9, "label": 6, "annotations": [{"label": 6, "sf": 0, "ef": 1, "boxes": [[1, 1, 2, 2]]}]},
        DIVING: {"numf": 9, "label": 6, "annotations": [{"label": 6, "sf": 0, "ef": 1, "boxes": [[1, 1, 2, 2]]}]}})
    with pytest.raises(AnnotationError, match=r"pyannot\.pkl: label 6 is class \w+ in video .* but \w+ in video"):
        annotation_ground_truth(path, UCF101)


class _Reader:
    """Videos of given lengths; the model below needs no frames."""

    def __init__(self, lengths):
        self.lengths = lengths

    def length(self, key):
        return self.lengths[key]

    def batch(self, items, windows, dtype):
        return np.zeros((len(windows), len(windows[0]))), None, None


class _Model:
    """Uniform 4 x 4 attention and fixed class probabilities over ``classes`` classes."""
    dtype = np.float64

    def __init__(self, classes):
        self.classes = classes

    def predict_steps(self, first, second):
        B, T = first.shape
        return np.full((B, T, self.classes), 1.0 / self.classes), np.full((B, T, 4, 4), 1 / 16)


def _tube(frames, label=0):
    return Tube(frames, np.tile([4.0, 4.0, 20.0, 20.0], (len(frames), 1)), label)


def test_tubes_beyond_the_video_are_cut_or_the_video_skipped_named(tmp_path):
    reader = _Reader({"A/v_A_g01_c01": 10, "B/v_B_g01_c01": 10})
    gt = {"A/v_A_g01_c01": [_tube(range(6, 14))],          # runs 4 frames past the end: cut there
          "B/v_B_g01_c01": [_tube(range(50, 52))]}         # starts after the end: not this video's tube
    items = [(k, 0) for k in gt]
    figures, tubes, skipped = localization.measure(_Model(2), reader, items, 4, gt, (32, 32), log=None)
    assert figures["videos"] == 1 and list(tubes) == ["A/v_A_g01_c01"]
    assert figures["ground_truth_clipped"] == ["A/v_A_g01_c01: 4 ground-truth boxes on frames past the video's 10 "
                                               "frames dropped"]
    assert skipped == [("B/v_B_g01_c01", "a ground-truth tube on frames 50-51 (0-based) starts after the video's "
                                         "last frame (10 frames decoded): annotations of another version of the "
                                         "video?")]
    cut, notes, problem = localization.fit_to_video(gt["A/v_A_g01_c01"], 10)
    assert cut[0].frames.tolist() == [6, 7, 8, 9] and problem is None and notes
    # every video's tubes beyond it: the error says which and why (it was "cannot reshape array of size 0")
    with pytest.raises(ValueError, match=r"none of the 1 test videos could be measured against the ground truth "
                                         r"of UCF101v2-GT\.pkl \(B/v_B_g01_c01: a ground-truth tube on frames 50-51"):
        localization.measure(_Model(2), reader, items[1:], 4, gt, (32, 32), log=None, source="UCF101v2-GT.pkl")


def test_a_tube_label_the_model_lacks_is_named_not_an_index_error():
    gt = {"A/v_A_g01_c01": [_tube(range(2, 6), label=7)]}
    with pytest.raises(ValueError, match=r"ground truth of video A/v_A_g01_c01: class label 7 is not one of the "
                                         r"model's 2 classes"):
        localization.measure(_Model(2), _Reader({"A/v_A_g01_c01": 10}), [("A/v_A_g01_c01", 0)], 4, gt, (32, 32),
                             log=None)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A VideoLSTM run on a 2-class built-in benchmark of 12-frame videos -> (its checkpoint, its test videos)."""
    tmp = tmp_path_factory.mktemp("localize")
    root, out = tmp / "syn", tmp / "run"
    synthetic.generate(root, classes=2, groups=3, clips=1, frames=12, size=32, distractors=1, clutter=2,
                       verbose=False)
    train.main(["--root", str(root), "--out", str(out), "--epochs", "1", "--encoder-epochs", "1", "--size", "32",
                "--frames", "6", "--hidden", "3", "--fc-dim", "6", "--eval-windows", "1", "--rgb-encoder", "scratch",
                "--workers", "1"])
    config = json.loads((out / "config.json").read_text())
    test = [ln.split()[0].rsplit(".", 1)[0] for ln in (root / "ucfTrainTestlist" / "testlist01.txt").read_text()
            .splitlines() if ln.strip()]
    return out / "checkpoint.npz", config["classes"], test


def _localize(checkpoint, annotations):
    return subprocess.run([sys.executable, "-m", "tinyalstm.localize", "--checkpoint", str(checkpoint),
                           "--annotations", str(annotations), "--out", str(annotations.parent / "out")],
                          capture_output=True, text=True, timeout=300)


def test_localize_names_the_file_and_video_of_bad_annotations(trained, tmp_path):
    checkpoint, classes, test = trained
    frames = lambda first, n: np.array([[f, 2, 2, 20, 20] for f in range(first, first + n)], float)  # noqa: E731
    common = {"nframes": {k: 12 for k in test}, "train_videos": [[]], "test_videos": [test],
              "resolution": {k: (32, 32) for k in test}}
    # a tube on frames 50-51 of 12-frame videos
    beyond = _write(tmp_path / "beyond.pkl", {"labels": classes, **common, "gttubes": {
        k: {classes.index(k.split("/")[0]): [frames(50, 2)]} for k in test}})
    res = _localize(checkpoint, beyond)
    assert res.returncode == 1 and "Traceback" not in res.stderr and "a bug" not in res.stderr
    assert f"the ground truth of {beyond}" in res.stderr and f"{test[0]}: a ground-truth tube on frames 49-50" \
        in res.stderr
    # label 7 of a file with the run's 2 classes
    label7 = _write(tmp_path / "label7.pkl", {"labels": classes, **common, "gttubes": {test[0]: {7: [frames(1, 3)]}}})
    res = _localize(checkpoint, label7)
    assert res.returncode == 1 and "Traceback" not in res.stderr and "a bug" not in res.stderr
    assert f"error: {label7}: video {test[0]}: gttubes label 7: expected a class index 0..1" in res.stderr


# -- ActivityNet's JSON ----------------------------------------------------------------------------------------

TAXONOMY = [{"nodeName": "Root", "parentName": None}, {"nodeName": "Surfing", "parentName": "Root"},
            {"nodeName": "Archery", "parentName": "Root"}]


def _anet(root, taxonomy=TAXONOMY, label="Surfing", segment=(0.1, 1.0), **entry):
    (root / "videos").mkdir(parents=True, exist_ok=True)
    (root / "videos" / "v_a1.mp4").write_bytes(b"")           # the loader only looks for the file
    db = {"a1": {"subset": "training", "duration": 2.0,
                 "annotations": [{"segment": list(segment), "label": label}], **entry}}
    (root / "activity_net.v1-3.min.json").write_text(json.dumps({"taxonomy": taxonomy, "database": db}))
    return root


@pytest.mark.parametrize("change, reason", [
    ({"label": ["Surfing"]}, "annotations[0]: 'label': expected a class name (a string), got a list [\"Surfing\"]"),
    ({"label": {"name": "Surfing"}}, "annotations[0]: 'label': expected a class name (a string), got an object"),
    ({"segment": (False, True)}, "annotations[0]: expected 'segment': [start, end] in seconds, got a list [false"),
    ({"duration": True}, ": 'duration': expected a positive number of seconds, got a boolean True"),
    ({"duration": float("inf")}, ": 'duration': expected a positive number of seconds, got a float inf"),
    ({"subset": ["training"]}, ": 'subset': expected 'training', 'validation' or 'testing', got a list"),
])
def test_activitynet_entry_fields_are_named_and_skipped(tmp_path, change, reason):
    split = load_activitynet(_anet(tmp_path, **change), "train")
    assert not split.samples and len(split.report.skipped) == 1
    (name, why), = split.report.skipped
    assert name.startswith("v_a1") and why.startswith("activity_net.v1-3.min.json: database.a1")
    assert reason in why, why


@pytest.mark.parametrize("taxonomy, message", [
    ({"Surfing": {}}, r"'taxonomy': expected a list of nodes .*, got an object"),
    (["Surfing"], r"taxonomy\[0\]: expected an object with a 'nodeName' string, got a string 'Surfing'"),
    ([{"nodeName": ["Surfing"], "parentName": None}], r"taxonomy\[0\]: expected an object with a 'nodeName' string"),
    ([{"nodeName": "Surfing", "parentName": ["Root"]}], r"taxonomy\[0\] \(Surfing\): 'parentName': expected a "
                                                        r"node's name or null, got a list"),
])
def test_a_bad_activitynet_taxonomy_is_named(tmp_path, taxonomy, message):
    with pytest.raises(DatasetError, match=r"activity_net\.v1-3\.min\.json: " + message):
        load_activitynet(_anet(tmp_path, taxonomy=taxonomy), "train")


# -- Hollywood2's ClipSets -------------------------------------------------------------------------------------

def _hollywood2(root, clips=("actioncliptrain00001", "actioncliptrain00002", "actioncliptest00001",
                             "actioncliptest00002"), videos=None):
    """Every clip carries every action but Run, which the ...00001 clips carry alone (dummy videos: the lists are
    read, nothing is decoded)."""
    base = root / "Hollywood2"
    (base / "ClipSets").mkdir(parents=True)
    (base / "AVIClips").mkdir()
    for subset in ("train", "test"):
        mine = [c for c in clips if subset in c]
        for action in ACTIONS:
            (base / "ClipSets" / f"{action}_{subset}.txt").write_text("".join(
                f"{c}  {1 if (action == 'Run') == c.endswith('00001') else -1}\n" for c in mine))
    for c in clips if videos is None else videos:
        (base / "AVIClips" / f"{c}.avi").write_bytes(b"RIFF")
    return base


def test_a_clipsets_clip_name_with_other_digits_is_named_by_file_and_line(tmp_path):
    base = _hollywood2(tmp_path)
    run = base / "ClipSets" / "Run_train.txt"
    run.write_text(run.read_text().replace("actioncliptrain00002", "actioncliptrain\u0660\u0660\u0660\u0660\u0662"))
    split = load_hollywood2(tmp_path, "train")
    reasons = [why for _, why in split.report.skipped]
    assert any(f"{run}, line 2: 'actioncliptrain\u0660\u0660\u0660\u0660\u0662': expected a clip name like "
               f"actioncliptrain00001" in why for why in reasons), reasons


def test_a_multilabel_manifest_whose_classes_are_not_a_list_is_named(tmp_path):
    (tmp_path / "synthetic.json").write_text(json.dumps({"classes": "MoveLeft"}))
    with pytest.raises(DatasetError, match=r"synthetic\.json: 'classes': expected a list of distinct class names, "
                                           r"got \"MoveLeft\""):
        multilabel_classes(tmp_path)


# -- the skip report of a refused run --------------------------------------------------------------------------

def test_hollywood2_refusal_names_clipsets_and_shows_the_skip_report(tmp_path):
    # the videos of both Run clips are missing: Run has no training or test clips left
    _hollywood2(tmp_path, videos=["actioncliptrain00002", "actioncliptest00002"])
    with pytest.raises(DatasetError) as err:
        load_split("hollywood2", tmp_path, 1)
    message = str(err.value)
    assert "1 of 12 classes have no training videos (Run)" in message and "classInd" not in message
    assert "ClipSets" in message and "AVIClips" in message
    assert "actioncliptrain00001: video not found:" in message               # the skip report that explains it


def test_activitynet_refusal_names_the_json(tmp_path):
    _anet(tmp_path)                                       # training only: no class has validation videos
    with pytest.raises(DatasetError) as err:
        load_split("activitynet", tmp_path, 1)
    assert "classInd" not in str(err.value) and "the annotation JSON (activity_net.v1-3.min.json" in str(err.value)


def _ucf101(root, classes, videos):
    """A UCF101 layout of ``classes`` x 2 videos (g01: test, g02: train); ``videos(path)`` writes each one."""
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(classes)))
    train_lines, test_lines = [], []
    for i, c in enumerate(classes):
        for g in (1, 2):
            name = f"{c}/v_{c}_g{g:02d}_c01.avi"
            videos(root / "UCF-101" / name)
            (test_lines.append(name) if g == 1 else train_lines.append(f"{name} {i + 1}"))
    (lists / "trainlist01.txt").write_text("\n".join(train_lines) + "\n")
    (lists / "testlist01.txt").write_text("\n".join(test_lines) + "\n")
    return root


def _junk(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a video" * 20)


def test_a_class_whose_files_are_all_missing_shows_the_skip_report(tmp_path):
    root = _ucf101(tmp_path / "ucf", ["Jump", "Swim"], _junk)
    for p in (root / "UCF-101" / "Swim").iterdir():
        p.unlink()
    with pytest.raises(DatasetError) as err:
        load_split("ucf101", root, 1)
    assert "1 of 2 classes have no training videos (Swim); remove them from classInd.txt" in str(err.value)
    assert "trainlist01.txt, line 2: file not found:" in str(err.value)      # why: the report, in the error


def test_when_no_video_can_be_decoded_the_error_carries_the_skip_report(tmp_path):
    root = _ucf101(tmp_path / "ucf", ["Jump", "Swim"], _junk)
    with pytest.raises(DatasetError) as err:
        load_data("ucf101", root, 1, ["rgb"], work=tmp_path / "work", size=16, encoder_epochs=1, log=lambda m: None)
    message = str(err.value)
    assert "(the videos that could be decoded)" in message and "0 training and 0 test videos could be used" in message
    assert "4 skipped" in message and "Swim/v_Swim_g02_c01: VideoError" in message   # each video, with the reason


def test_a_class_whose_videos_cannot_be_decoded_is_refused_with_the_report(tmp_path):
    def videos(path):
        if "Swim" in path.name:
            _junk(path)
        else:
            write_mp4(path, 4, size=16)
    root = _ucf101(tmp_path / "ucf", ["Jump", "Swim"], videos)
    with pytest.raises(DatasetError) as err:              # it trained on Jump alone, its accuracy against chance 0.5
        load_data("ucf101", root, 1, ["rgb"], work=tmp_path / "work", size=16, encoder_epochs=1, log=lambda m: None)
    assert "1 of 2 classes have no training videos (Swim)" in str(err.value)
    assert "Swim/v_Swim_g02_c01: VideoError" in str(err.value)
