"""Eqs. 16-17 and the temporal smoothing on hand-made maps: the fixed saliency scale, 8-connected components and
their boxes, the linking rule, first-degree LOWESS against a weighted least-squares fit written here, and whole
tubes that follow a moving peak."""
import numpy as np
import pytest

from tinyalstm.localization.attention_tubes import (SATURATION, THETA, candidate_boxes, link_boxes, localize, lowess,
                                                    saliency_maps, tube_scores)


def _uniform(T=3, N=8):
    return np.full((T, N, N), 1.0 / (N * N))


def _peaked(cells, N=8, extra=0.5):
    """One map per entry of ``cells`` ((row, col) or None): uniform plus ``extra`` on that cell, normalised."""
    maps = []
    for cell in cells:
        a = np.full((N, N), 1.0 / (N * N))
        if cell is not None:
            a[cell] += extra
        maps.append(a / a.sum())
    return np.stack(maps)


def test_saliency_is_on_a_fixed_scale():
    S = saliency_maps(_uniform(), (64, 64))
    np.testing.assert_allclose(S, 255.0 / SATURATION)              # uniform: 255/8 everywhere, whatever the video
    assert not any(len(candidate_boxes(s)[0]) for s in S)          # ... so theta = 100 finds no box in it
    # twice the uniform level on every cell is 2 x 255/8, not rescaled to the map's own maximum
    a = np.zeros((1, 4, 4))
    a[0, :, :2] = 2.0 / 16
    S = saliency_maps(a, (40, 40), sigma=0)
    assert S.max() == pytest.approx(2 * 255.0 / SATURATION) and S.min() == 0.0
    assert saliency_maps(a * 100, (8, 8), sigma=0).max() == 255.0   # saturates at 255


def test_candidate_boxes_are_8_connected_components():
    s = np.zeros((10, 12))
    s[1, 1] = s[2, 2] = 200            # diagonal neighbours: one component under 8-connectivity
    s[6:8, 7:11] = 150                 # a second blob, rows 6-7, columns 7-10
    s[0, 11] = 99                      # below theta
    boxes, masses = candidate_boxes(s, THETA)
    np.testing.assert_array_equal(boxes, [[1, 1, 3, 3], [7, 6, 11, 8]])   # x1, y1, x2, y2, exclusive ends
    np.testing.assert_allclose(masses, [400, 8 * 150])
    assert candidate_boxes(np.zeros((4, 4)))[0].shape == (0, 4)


def test_linking_follows_the_previous_box():
    big, small = [0, 0, 4, 4], [10, 10, 11, 11]
    frames = [(np.array([big, small], float), np.array([5.0, 9.0])),     # first frame: largest mass -> small
              (np.zeros((0, 4)), np.zeros(0)),                             # nothing: the tube skips frame 1
              (np.array([big, [10, 10, 12, 12]], float), np.array([9.0, 1.0])),   # best IoU with small
              (np.array([big], float), np.array([1.0]))]                   # IoU 0 with it: largest mass
    pos, boxes = link_boxes(frames)
    assert pos.tolist() == [0, 2, 3]
    np.testing.assert_array_equal(boxes, [small, [10, 10, 12, 12], big])


def _wls_line(x, y, x0, window):
    """A weighted line fit at x0 by np.polyfit over the window nearest points with tricube weights."""
    d = np.abs(x - x0)
    near = np.argsort(d, kind="stable")[:window]
    h = d[near].max() * (1 + 1e-12)
    w = (1 - (d[near] / h) ** 3) ** 3
    slope, intercept = np.polyfit(x[near] - x0, y[near], 1, w=np.sqrt(w))
    return intercept


def test_lowess_against_a_weighted_least_squares_fit():
    r = np.random.default_rng(0)
    x = np.sort(r.choice(40, size=15, replace=False)).astype(float)
    y = r.normal(size=15)
    got = lowess(x, y[:, None], window=7)[:, 0]
    want = [_wls_line(x, y, x0, 7) for x0 in x]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    line = 3.0 * x - 2.0                                       # a line is its own first-degree fit
    np.testing.assert_allclose(lowess(x, line, window=5)[:, 0], line, atol=1e-9)
    np.testing.assert_array_equal(lowess(x[:2], y[:2], window=5)[:, 0], y[:2])   # too few points: unchanged
    with pytest.raises(ValueError, match="window"):
        lowess(x, y, window=1)


def test_a_tube_follows_a_moving_peak():
    cells = [(2, c) for c in range(1, 7)]                      # the peak moves right one cell (8 px) per frame
    tube = localize(_peaked(cells), np.arange(10, 16), (64, 64), smooth=False)
    assert tube.frames.tolist() == list(range(10, 16))
    centres = (tube.boxes[:, 0] + tube.boxes[:, 2]) / 2
    np.testing.assert_allclose(centres, [8 * c + 4 for _, c in cells], atol=1.0)
    assert np.all((tube.boxes[:, 1] < 20) & (tube.boxes[:, 3] > 20))   # row 2 spans y 16-24
    smooth = localize(_peaked(cells), np.arange(10, 16), (64, 64))
    np.testing.assert_allclose(smooth.boxes, tube.boxes, atol=1e-6)    # a steady motion is already smooth


def test_frames_without_salient_attention_are_skipped_and_padding_is_used_once():
    maps = _peaked([(3, 3), None, (3, 3), (3, 3)])
    tube = localize(maps, [0, 1, 2, 2], (32, 32), smooth=False)        # a padded window repeats frame 2
    assert tube.frames.tolist() == [0, 2]


def test_scores_and_bad_input():
    np.testing.assert_allclose(tube_scores([[0.2, 0.8], [0.4, 0.6]]), [0.3, 0.7])
    with pytest.raises(ValueError, match=r"att: expected attention maps \(T, N, N\)"):
        localize(np.ones((3, 4, 5)), [0, 1, 2], (32, 32))
    with pytest.raises(ValueError, match="frame_indices: expected 3 indices"):
        localize(_uniform(3), [0, 1], (32, 32))
    with pytest.raises(ValueError, match="non-negative"):
        saliency_maps(-_uniform(1), (8, 8))
    with pytest.raises(ValueError, match="step_scores"):
        tube_scores(np.zeros(3))
