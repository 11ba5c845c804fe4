"""Video-level metrics (tinyalstm/metrics.py): every expected value below is worked out by hand in the test.

AP values are written as fractions of the precisions at the positives' ranks, e.g. positives at ranks 1, 3, 5 give
(1/1 + 2/3 + 3/5) / 3. Tied scores follow sklearn's average_precision_score: a tie group is one threshold, and each
positive in it gets the precision at the end of the group.
"""
from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyalstm.metrics import (accuracy, average_precision, confusion_matrix, late_fusion, mean_average_precision,
                               video_scores)


def _f(x):
    return float(x)


# --------------------------------------------------------------------------------------------- average precision

def test_ap_perfect_ranking_is_one():
    assert average_precision(np.array([0.9, 0.8, 0.3, 0.1]), np.array([1, 1, 0, 0])) == 1.0


def test_ap_worst_ranking():
    # positives ranked last, at ranks 3 and 4 of 4: (1/3 + 2/4) / 2
    assert average_precision(np.array([0.9, 0.8, 0.3, 0.1]), np.array([0, 0, 1, 1])) == pytest.approx(
        _f((F(1, 3) + F(2, 4)) / 2), abs=1e-15)
    # one positive, last of five: 1/5
    assert average_precision(np.array([5.0, 4, 3, 2, 1]), np.array([0, 0, 0, 0, 1])) == pytest.approx(0.2, abs=1e-15)


def test_ap_worked_example_any_input_order():
    # ranking by score: P N P N P -> precisions at the positives 1/1, 2/3, 3/5
    expected = _f((F(1) + F(2, 3) + F(3, 5)) / 3)          # = 34/45
    assert expected == pytest.approx(34 / 45)
    scores = np.array([0.95, 0.7, 0.6, 0.4, 0.2])
    positives = np.array([True, False, True, False, True])
    perm = np.array([3, 0, 4, 2, 1])
    assert average_precision(scores, positives) == pytest.approx(expected, abs=1e-15)
    assert average_precision(scores[perm], positives[perm]) == pytest.approx(expected, abs=1e-15)


def test_ap_ties_are_one_threshold():
    # scores (0.9, 0.5, 0.5, 0.1), labels (0, 1, 0, 1): the tied positive gets the precision at the end of its
    # group, 1/3, whichever of the tied items comes first in the input; the last positive gets 2/4.
    expected = _f((F(1, 3) + F(2, 4)) / 2)                  # 5/12, not 1/2 (positive first in the tie)
    assert average_precision(np.array([0.9, 0.5, 0.5, 0.1]), np.array([0, 1, 0, 1])) == pytest.approx(expected)
    assert average_precision(np.array([0.9, 0.5, 0.5, 0.1]), np.array([0, 0, 1, 1])) == pytest.approx(expected)
    # a positive alone at rank 1, then a group of three (ranks 2-4) holding two positives: 1/1, 3/4, 3/4
    assert average_precision(np.array([0.8, 0.6, 0.6, 0.6, 0.2]), np.array([1, 0, 1, 1, 0])) == pytest.approx(
        _f((F(1) + F(3, 4) + F(3, 4)) / 3))                 # 5/6
    # all tied: every positive gets the prevalence 2/3 (ordered: pessimistic 7/12, optimistic 1)
    assert average_precision(np.full(3, 0.5), np.array([1, 1, 0])) == pytest.approx(2 / 3)


def _ap_by_thresholds(scores, positives):
    """Independent reference: sum over the distinct score thresholds t (high to low) of (R_t - R_prev) * P_t."""
    P = positives.sum()
    ap, prev_recall = 0.0, 0.0
    for t in sorted(set(scores.tolist()), reverse=True):
        above = scores >= t
        tp = (positives & above).sum()
        recall, precision = tp / P, tp / above.sum()
        ap += (recall - prev_recall) * precision
        prev_recall = recall
    return ap


@given(st.lists(st.tuples(st.integers(0, 4), st.booleans()), min_size=1, max_size=12)
       .filter(lambda items: any(p for _, p in items)))
def test_ap_matches_threshold_sum(items):
    scores = np.array([s for s, _ in items], dtype=float)     # few distinct values: many ties
    positives = np.array([p for _, p in items])
    assert average_precision(scores, positives) == pytest.approx(_ap_by_thresholds(scores, positives), abs=1e-12)


# ------------------------------------------------------------------------------------------ mAP and accuracy

# 4 videos, 4 classes; class 3 has no video.
SCORES = np.array([[0.6, 0.1, 0.2, 0.1],     # label 0, predicted 0
                   [0.5, 0.3, 0.1, 0.1],     # label 1, predicted 0
                   [0.2, 0.4, 0.3, 0.1],     # label 0, predicted 1
                   [0.1, 0.2, 0.6, 0.1]])    # label 2, predicted 2
LABELS = np.array([0, 1, 0, 2])


def test_mean_average_precision_by_hand():
    ap0 = F(1) / 2 + F(2, 3) / 2      # class 0 ranking v0 v1 v2 v3 = P N P N: (1/1 + 2/3) / 2
    ap1 = F(1, 2)                      # class 1 ranking v2 v1 ...: its one positive at rank 2
    ap2 = F(1)                         # class 2: v3 first
    # class 3 has no positive video and is left out: 3 classes in the mean, not 4
    assert mean_average_precision(SCORES, LABELS) == pytest.approx(_f((ap0 + ap1 + ap2) / 3))   # 7/9
    assert mean_average_precision(SCORES, LABELS) != pytest.approx(_f((ap0 + ap1 + ap2) / 4))


def test_mean_average_precision_indicators():
    onehot = np.eye(4, dtype=int)[LABELS]
    assert mean_average_precision(SCORES, onehot) == pytest.approx(7 / 9)
    multi = onehot.astype(bool)
    multi[2, 1] = True                 # v2 also shows class 1: class 1 ranking v2 (P) v1 (P) -> AP 1
    assert mean_average_precision(SCORES, multi) == pytest.approx(_f((F(5, 6) + 1 + 1) / 3))     # 17/18


def test_mean_average_precision_perfect():
    assert mean_average_precision(np.eye(3)[[2, 0, 1, 1]], np.array([2, 0, 1, 1])) == 1.0


def test_accuracy():
    assert accuracy(SCORES, LABELS) == 0.5                     # v0 and v3 right, v1 and v2 wrong
    assert accuracy(SCORES, np.array([0, 0, 1, 2])) == 1.0
    # ties go to the lowest class index
    assert accuracy(np.array([[0.5, 0.5], [0.5, 0.5]]), np.array([0, 1])) == 0.5


def test_confusion_matrix():
    pred, labels = np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0])
    M = confusion_matrix(pred, labels, 3)
    np.testing.assert_array_equal(M, [[1, 0, 1],      # truth 0: once predicted 0, once 2
                                      [1, 1, 0],      # truth 1: once 0, once 1
                                      [0, 0, 1]])     # truth 2: once 2
    assert M.dtype == np.int64
    np.testing.assert_array_equal(confusion_matrix(SCORES.argmax(axis=1), LABELS, 4),
                                  [[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]])


# --------------------------------------------------------------------------------------------- video scores

# one video: W = 2 windows of T = 3 steps, C = 2 classes
WINDOWS = np.array([[[0.9, 0.1], [0.8, 0.2], [0.4, 0.6]],      # step sum (2.1, 0.9)
                    [[0.2, 0.8], [0.3, 0.7], [0.1, 0.9]]])     # step sum (0.6, 2.4)


def test_video_scores_sum_over_steps_mean_over_windows():
    expected = np.array([(2.1 + 0.6) / 2, (0.9 + 2.4) / 2])       # (1.35, 1.65)
    np.testing.assert_allclose(video_scores(WINDOWS), expected, rtol=0, atol=1e-12)
    # the axes are not interchangeable: summing windows and averaging steps would give (0.9, 1.1)
    assert not np.allclose(video_scores(WINDOWS), [0.9, 1.1])


def test_video_scores_batch():
    other = WINDOWS[:, :, ::-1]                                    # classes swapped: (1.65, 1.35)
    out = video_scores(np.stack([WINDOWS, other]))
    assert out.shape == (2, 2)
    np.testing.assert_allclose(out, [[1.35, 1.65], [1.65, 1.35]], rtol=0, atol=1e-12)


# --------------------------------------------------------------------------------------------------- fusion

# true class 2; RGB alone says 0, flow alone says 1, their average says 0, their product says 2.
RGB = np.array([14, 1, 5]) / 20
FLOW = np.array([1, 12, 7]) / 20


def test_product_fusion_fixes_both_modalities():
    assert RGB.argmax() == 0 and FLOW.argmax() == 1
    fused = late_fusion(RGB, FLOW)                                 # p q = (14, 12, 35) / 400 -> / 61
    np.testing.assert_allclose(fused, np.array([14, 12, 35]) / 61, rtol=0, atol=1e-15)
    assert fused.argmax() == 2
    avg = late_fusion(RGB, FLOW, method="sum")                     # (15, 13, 12) / 40
    np.testing.assert_allclose(avg, np.array([15, 13, 12]) / 40, rtol=0, atol=1e-15)
    assert avg.argmax() == 0


def test_fusion_normalises_rows_first():
    # RGB as a video_scores row (a sum over 30 steps, so it sums to 30): the product is unchanged, and the average
    # still weighs the two models equally instead of being dominated by the larger scale.
    np.testing.assert_allclose(late_fusion(30 * RGB, FLOW), np.array([14, 12, 35]) / 61, atol=1e-15)
    np.testing.assert_allclose(late_fusion(30 * RGB, FLOW, method="sum"), np.array([15, 13, 12]) / 40, atol=1e-15)


def test_fusion_batch_and_accuracy():
    a = np.stack([RGB, FLOW[[1, 0, 2]]])                          # video 1: classes 0 and 1 swapped, label 2
    b = np.stack([FLOW, RGB[[1, 0, 2]]])
    labels = np.array([2, 2])
    fused = late_fusion(a, b)
    assert fused.shape == (2, 3)
    np.testing.assert_allclose(fused.sum(axis=1), 1.0, atol=1e-15)
    assert accuracy(a, labels) == 0.0 and accuracy(b, labels) == 0.0 and accuracy(fused, labels) == 1.0


def test_video_cross_entropy_by_hand():
    from tinyalstm.metrics import video_cross_entropy
    scores = np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8], [1.0, 0.0, 0.0]])
    labels = np.array([0, 2, 1])                   # the last one a certain mistake: clipped at 1e-12
    expected = -(np.log(0.5) + np.log(0.8) + np.log(1e-12)) / 3
    assert video_cross_entropy(scores, labels) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="labels"):
        video_cross_entropy(scores, np.array([0, 3, 1]))


def test_video_binary_cross_entropy_by_hand():
    from tinyalstm.metrics import video_binary_cross_entropy
    scores = np.array([[0.9, 0.2], [0.5, 1.0]])
    labels = np.array([[1, 0], [0, 0]])            # the last entry a certain mistake: clipped at 1 - 1e-12
    expected = (-np.log(0.9) - np.log(0.8) - np.log(0.5) - np.log(1 - (1 - 1e-12))) / 2    # summed over classes
    assert video_binary_cross_entropy(scores, labels) == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ValueError, match="labels"):
        video_binary_cross_entropy(scores, np.array([1, 0]))


def test_weighted_fusion_of_three_models_by_hand():
    from tinyalstm.metrics import weighted_fusion
    third = np.array([2, 2, 16]) / 20
    # product with weights (1, 2, 0): RGB * FLOW^2 = (14 * 1, 1 * 144, 5 * 49) / 20^3 = (14, 144, 245) / 403
    np.testing.assert_allclose(weighted_fusion([RGB, FLOW, third], [1, 2, 0]), np.array([14, 144, 245]) / 403,
                               atol=1e-15)
    # sum with weights (1, 1, 2): (RGB + FLOW + 2 third) / 4 = (19, 17, 44) / 80
    np.testing.assert_allclose(weighted_fusion([RGB, FLOW, third], [1, 1, 2], "sum"), np.array([19, 17, 44]) / 80,
                               atol=1e-15)
    # two models, weights 1, 1: the same as late_fusion; scaling every weight changes nothing for the sum
    np.testing.assert_allclose(weighted_fusion([RGB, FLOW], [1, 1]), late_fusion(RGB, FLOW), atol=1e-15)
    np.testing.assert_allclose(weighted_fusion([RGB, FLOW, third], [2, 2, 4], "sum"),
                               weighted_fusion([RGB, FLOW, third], [1, 1, 2], "sum"), atol=1e-15)
    for bad in ([1, 1], [1, -1, 1], [0, 0, 0]):
        with pytest.raises(ValueError, match="weights"):
            weighted_fusion([RGB, FLOW, third], bad)
    with pytest.raises(ValueError, match="undefined"):            # no class non-zero under both weighted models
        weighted_fusion([np.array([1.0, 0.0]), np.array([0.0, 1.0])], [1, 1])


# ---------------------------------------------------------------------------------------------- bad inputs

@pytest.mark.parametrize("call, match", [
    (lambda: accuracy(SCORES, LABELS[:3]), "labels"),
    (lambda: accuracy(SCORES[0], LABELS), "scores"),
    (lambda: accuracy(np.where(SCORES > 0.5, np.nan, SCORES), LABELS), "scores.*NaN"),
    (lambda: accuracy(SCORES, np.array([0, 1, 0, 4])), "labels.*\\[0, 4\\)"),
    (lambda: mean_average_precision(SCORES, LABELS[:3]), "labels"),
    (lambda: mean_average_precision(SCORES, np.eye(3, dtype=int)[[0, 1, 0, 2]]), "labels"),
    (lambda: mean_average_precision(np.full((4, 4), np.nan), LABELS), "scores.*NaN"),
    (lambda: average_precision(np.array([0.1, 0.2]), np.array([1, 0, 1])), "positives"),
    (lambda: average_precision(np.array([0.1, 0.2]), np.array([0, 0])), "positives.*at least one"),
    (lambda: average_precision(np.array([0.1, np.inf]), np.array([1, 0])), "scores"),
    (lambda: video_scores(WINDOWS[0]), "step_probs_per_window"),
    (lambda: video_scores(np.full((2, 3, 2), np.nan)), "step_probs_per_window.*NaN"),
    (lambda: late_fusion(RGB, FLOW[:2]), "scores_b"),
    (lambda: late_fusion(RGB, FLOW, method="max"), "method"),
    (lambda: late_fusion(-RGB, FLOW), "scores_a.*non-negative"),
    (lambda: late_fusion(np.zeros(3), FLOW), "scores_a.*positive sum"),
    (lambda: late_fusion(np.array([1.0, 0, 0]), np.array([0, 1.0, 0])), "product fusion is undefined"),
    (lambda: late_fusion(np.array([np.nan, 0, 1]), FLOW), "scores_a.*NaN"),
    (lambda: confusion_matrix(np.array([0, 1]), np.array([0, 1, 1]), 2), "labels"),
    (lambda: confusion_matrix(np.array([0, 2]), np.array([0, 1]), 2), "pred"),
    (lambda: confusion_matrix(np.array([0, 1]), np.array([0, 1]), 0), "n_classes"),
])
def test_bad_inputs_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_float_labels_raise_type_error():
    with pytest.raises(TypeError, match="labels"):
        accuracy(SCORES, LABELS.astype(float))
