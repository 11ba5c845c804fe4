"""Ground-truth tubes: the built-in benchmark's annotation JSON, and the two UCF101-24 pickles written here in
their formats; a restricted unpickler that refuses anything but plain data; malformed files name file and video."""
import json
import os
import pickle

import numpy as np
import pytest

from tinyalstm.data import synthetic
from tinyalstm.data.ground_truth import (AnnotationError, corrected_annotations, load_plain_pickle, synthetic_tubes,
                                         ucf101v2_gt)


def test_synthetic_tubes_are_the_actor_over_the_action_interval(tmp_path):
    gt = synthetic.ground_truth("MoveLeft", 1, 2, frames=20, size=32)
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "v_MoveLeft_g01_c02.json").write_text(json.dumps(gt))
    tubes = synthetic_tubes(tmp_path)
    (tube,) = tubes["MoveLeft/v_MoveLeft_g01_c02"]
    start, end = gt["action"]
    assert tube.frames.tolist() == list(range(start, end)) and tube.label == gt["label"]
    np.testing.assert_allclose(tube.boxes, np.array(gt["actor"]["boxes"])[start:end])
    (track,) = synthetic_tubes(tmp_path, frames="all")["MoveLeft/v_MoveLeft_g01_c02"]   # the actor on every frame
    assert track.frames.tolist() == list(range(20))
    np.testing.assert_allclose(track.boxes, gt["actor"]["boxes"])


def test_synthetic_tubes_name_the_bad_file(tmp_path):
    with pytest.raises(AnnotationError, match="no annotation files"):
        synthetic_tubes(tmp_path)
    (tmp_path / "annotations").mkdir()
    bad = tmp_path / "annotations" / "v_X_g01_c01.json"
    bad.write_text(json.dumps({"video": "X/v_X_g01_c01.avi", "label": 0, "action": [3, 9],
                               "actor": {"boxes": [[0, 0, 1, 1]] * 5}}))
    with pytest.raises(AnnotationError, match=r"v_X_g01_c01\.json: action \[3, 9\) outside the 5 annotated"):
        synthetic_tubes(tmp_path)
    bad.write_text("{}")
    with pytest.raises(AnnotationError, match=r"v_X_g01_c01\.json: not a synthetic ground-truth file \(KeyError"):
        synthetic_tubes(tmp_path)


def _corrected(ef_inclusive=False):
    boxes = np.array([[10, 20, 5, 6]] * 4, dtype=np.float64)          # x, y, w, h
    sf = 3
    ef = sf + len(boxes) - (1 if ef_inclusive else 0)
    return {"Basketball/v_Basketball_g01_c01": {"numf": 40, "label": 0, "annotations": [
        {"label": 0, "sf": sf, "ef": ef, "boxes": boxes},
        {"label": 0, "sf": 30, "ef": 32, "boxes": np.array([[0, 0, 2, 2], [1, 1, 2, 2]], dtype=np.int32)}]}}


@pytest.mark.parametrize("inclusive", [False, True])
def test_corrected_annotations(tmp_path, inclusive):
    path = tmp_path / "pyannot.pkl"
    path.write_bytes(pickle.dumps(_corrected(inclusive), protocol=2))     # protocol 2: as the Python 2 files
    tubes = corrected_annotations(path)["Basketball/v_Basketball_g01_c01"]
    assert [t.frames.tolist() for t in tubes] == [[3, 4, 5, 6], [30, 31]]
    np.testing.assert_array_equal(tubes[0].boxes[0], [10, 20, 15, 26])      # x, y, w, h -> x1, y1, x2, y2
    np.testing.assert_array_equal(tubes[1].boxes[1], [1, 1, 3, 3])


def test_corrected_annotations_name_the_video(tmp_path):
    data = _corrected()
    data["Basketball/v_Basketball_g01_c01"]["annotations"][0]["ef"] = 20
    path = tmp_path / "pyannot.pkl"
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(AnnotationError, match=r"pyannot\.pkl: video Basketball/v_Basketball_g01_c01: a tube from "
                                              r"frame 3 to 20 has 4 boxes"):
        corrected_annotations(path)
    del data["Basketball/v_Basketball_g01_c01"]["annotations"][0]["sf"]
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(AnnotationError, match=r"v_Basketball_g01_c01: annotations\[0\]: no 'sf'"):
        corrected_annotations(path)


def test_ucf101v2_gt(tmp_path):
    video = "Fencing/v_Fencing_g01_c01"
    tube = np.array([[1, 5, 6, 25, 46], [2, 6, 6, 26, 46]], dtype=np.float32)   # frame (1-based), x1, y1, x2, y2
    data = {"labels": ["Basketball", "Fencing"], "gttubes": {video: {1: [tube]}}, "nframes": {video: 90},
            "train_videos": [[]], "test_videos": [[video]], "resolution": {video: (240, 320)}}
    path = tmp_path / "UCF101v2-GT.pkl"
    path.write_bytes(pickle.dumps(data, protocol=2))
    gt = ucf101v2_gt(path)
    (t,) = gt.tubes[video]
    assert t.frames.tolist() == [0, 1] and t.label == 1
    np.testing.assert_array_equal(t.boxes[1], [6, 6, 26, 46])
    assert gt.labels == ["Basketball", "Fencing"] and gt.test_videos == [[video]] and gt.nframes[video] == 90
    assert gt.resolution[video] == (240, 320)
    del data["resolution"]
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(AnnotationError, match=r"UCF101v2-GT\.pkl: not a UCF101v2-GT file: missing resolution"):
        ucf101v2_gt(path)


class Payload:
    """What a hostile pickle could hold: unpickling it would call os.getcwd (harmless here)."""

    def __reduce__(self):
        return (os.getcwd, ())


def test_the_unpickler_refuses_anything_but_plain_data(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"gttubes": Payload()}))
    with pytest.raises(AnnotationError, match=r"evil\.pkl: refused to unpickle posix\.getcwd"):
        load_plain_pickle(path)
    path.write_bytes(pickle.dumps([np.float64(1.5), np.arange(3), {"k": (1, "s")}])[:-5])   # truncated
    with pytest.raises(AnnotationError, match=r"evil\.pkl: not a readable pickle"):
        load_plain_pickle(path)
    with pytest.raises(AnnotationError, match="file not found"):
        load_plain_pickle(tmp_path / "missing.pkl")
    good = tmp_path / "good.pkl"
    good.write_bytes(pickle.dumps([np.float64(1.5), np.arange(3), {"k": (1, "s")}, {2, 3}], protocol=2))
    value = load_plain_pickle(good)
    assert value[0] == 1.5 and value[1].tolist() == [0, 1, 2] and value[2] == {"k": (1, "s")} and value[3] == {2, 3}
