"""Box IoU, tube IoU, recall and video-mAP on hand-computed cases, and the tube IoU against a second formulation."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from tinyalstm.localization.tubes import (Tube, average_precision_from_ranking, box_iou, recall_at, tube_iou,
                                          video_ap, video_map)


def test_box_iou_by_hand():
    assert box_iou([0, 0, 2, 2], [0, 0, 2, 2]) == 1.0
    assert box_iou([0, 0, 2, 2], [1, 0, 3, 2]) == pytest.approx(2 / 6)          # overlap 1 x 2, union 4 + 4 - 2
    assert box_iou([0, 0, 4, 4], [1, 1, 2, 2]) == pytest.approx(1 / 16)         # nested
    assert box_iou([0, 0, 1, 1], [1, 0, 2, 1]) == 0.0                           # touching: no area shared
    # disjoint on both axes: each side of the intersection is negative (-1 x -1); clamped separately, 0 not 1
    assert box_iou([0, 0, 1, 1], [2, 2, 3, 3]) == 0.0
    assert box_iou([0, 0, 1, 1], [0, 3, 1, 4]) == 0.0                           # disjoint on one axis only
    assert box_iou([1, 1, 1, 1], [1, 1, 1, 1]) == 0.0                           # empty boxes: union 0
    np.testing.assert_allclose(box_iou(np.array([[0, 0, 2, 2], [5, 5, 6, 6]]), np.array([0, 0, 2, 1])), [0.5, 0])


def test_tube_iou_by_hand():
    box = [0, 0, 2, 2]
    a = Tube([0, 1, 2, 3], [box] * 4)
    b = Tube([2, 3, 4], [box] * 3)
    assert tube_iou(a, b) == pytest.approx(2 / 5)                    # 2 shared of 5 frames, IoU 1 on them
    c = Tube([2, 3, 4], [[1, 0, 3, 2]] * 3)                           # box IoU 1/3 on the shared frames
    assert tube_iou(a, c) == pytest.approx(2 / 5 * 1 / 3)
    assert tube_iou(a, Tube([5, 6], [box] * 2)) == 0.0                # no shared frame
    assert tube_iou(a, Tube([], [])) == 0.0 and tube_iou(Tube([], []), Tube([], [])) == 0.0
    assert tube_iou(a, a) == 1.0


def test_tube_rejects_bad_boxes_and_frames():
    with pytest.raises(ValueError, match="3 frames but 2 boxes"):
        Tube([0, 1, 2], [[0, 0, 1, 1]] * 2)
    with pytest.raises(ValueError, match="increasing"):
        Tube([1, 1], [[0, 0, 1, 1]] * 2)
    with pytest.raises(ValueError, match="x2 >= x1"):
        Tube([0], [[2, 0, 1, 1]])


def _second_formulation(a, b):
    """Mean over the union of frames of the per-frame box IoU, 0 where one tube has no box."""
    fa, fb = dict(zip(a.frames.tolist(), a.boxes)), dict(zip(b.frames.tolist(), b.boxes))
    union = set(fa) | set(fb)
    if not union:
        return 0.0
    return sum(float(box_iou(fa[f], fb[f])) if f in fa and f in fb else 0.0 for f in union) / len(union)


@st.composite
def tubes(draw):
    frames = sorted(draw(st.sets(st.integers(0, 12), max_size=8)))
    coords = st.floats(0, 20, allow_nan=False)
    boxes = []
    for _ in frames:
        x1, y1, w, h = draw(coords), draw(coords), draw(coords), draw(coords)
        boxes.append([x1, y1, x1 + w, y1 + h])
    return Tube(frames, boxes)


@given(a=tubes(), b=tubes())
def test_tube_iou_equals_the_mean_over_the_union_of_frames(a, b):
    assert tube_iou(a, b) == pytest.approx(_second_formulation(a, b), abs=1e-12)
    assert tube_iou(a, b) == pytest.approx(tube_iou(b, a), abs=1e-12)
    assert 0.0 <= tube_iou(a, b) <= 1.0


def test_recall_by_hand():
    box = [0, 0, 2, 2]
    gt = {"v1": [Tube([0, 1], [box] * 2)], "v2": [Tube([0, 1], [box] * 2)], "v3": [Tube([0], [box])]}
    pred = {"v1": Tube([0, 1], [box] * 2),                  # IoU 1
            "v2": Tube([1, 2, 3], [box] * 3)}                 # IoU 1/4; v3 has no prediction
    r = recall_at(pred, gt, thresholds=(0.1, 0.25, 0.3, 1.0))
    assert r == {0.1: pytest.approx(2 / 3), 0.25: pytest.approx(2 / 3), 0.3: pytest.approx(1 / 3),
                 1.0: pytest.approx(1 / 3)}


def test_average_precision_by_hand():
    # hits T F T over 2 positives: precision 1, 1/2, 2/3 -> envelope 1, 2/3, 2/3; recall steps 1/2, 0, 1/2
    assert average_precision_from_ranking([True, False, True], 2) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert average_precision_from_ranking([True, True], 2) == 1.0
    assert average_precision_from_ranking([False, True], 1) == 0.5
    assert average_precision_from_ranking([True], 2) == 0.5                      # half the positives never found
    assert average_precision_from_ranking([], 3) == 0.0


def test_video_ap_and_map_by_hand():
    box, far = [0, 0, 2, 2], [10, 10, 12, 12]
    gt = {"a": [Tube([0, 1], [box] * 2, label=0)], "b": [Tube([0, 1], [box] * 2, label=0)],
          "c": [Tube([0, 1], [box] * 2, label=1)]}
    right, wrong = Tube([0, 1], [box] * 2), Tube([0, 1], [far] * 2)
    # class 0 ranked: b (hit), c (no class-0 tube there: miss), a (miss: the tube is elsewhere)
    ap0 = video_ap([("a", wrong, 0.2), ("b", right, 0.9), ("c", right, 0.5)], gt, 0, 0.5)
    assert ap0 == pytest.approx(0.5)                                  # P = 1 at recall 1/2, never reaches 1
    # one ground-truth tube matches once: a second detection on the same video is a false positive
    ap_dup = video_ap([("b", right, 0.9), ("b", right, 0.8)], gt, 0, 0.5)
    assert ap_dup == pytest.approx(0.5)
    predicted = {"a": wrong, "b": right, "c": right}
    scores = {"a": np.array([0.2, 0.8]), "b": np.array([0.9, 0.1]), "c": np.array([0.5, 0.5])}
    m = video_map(predicted, scores, gt, thresholds=(0.5,))
    # class 1: c is ranked 2nd (a 0.8 first, wrong video) -> AP 1/2; class 0 as above -> 1/2
    assert m == {0.5: pytest.approx(0.5)}
    with pytest.raises(ValueError, match="no ground-truth tube of class 7"):
        video_ap([], gt, 7, 0.5)
