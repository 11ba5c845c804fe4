"""Training and test windows (VideoLSTM sec. 5.2): one uniform random window of T consecutive frames per video for
training, 25 evenly spaced windows for testing, short videos padded with their last frame."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyalstm.data import windows


def test_train_window_is_a_uniform_random_consecutive_window():
    rng = np.random.default_rng(1)
    starts = []
    for _ in range(2000):
        w = windows.train_window(40, 30, rng)
        assert w.shape == (30,) and w.dtype == np.int64
        assert np.all(np.diff(w) == 1) and w[0] >= 0 and w[-1] <= 39
        starts.append(int(w[0]))
    counts = np.bincount(starts, minlength=11)
    assert len(counts) == 11 and counts.min() > 120   # 11 possible starts, ~182 each; every one drawn
    assert windows.train_window(30, 30, rng).tolist() == list(range(30))


def test_train_window_pads_short_videos():
    assert windows.train_window(3, 6, np.random.default_rng(0)).tolist() == [0, 1, 2, 2, 2, 2]
    assert windows.train_window(1, 3, np.random.default_rng(0)).tolist() == [0, 0, 0]


def test_test_windows_hand_computed():
    # 10 frames, windows of 4: starts 0..6; three evenly spaced windows start at 0, 3, 6
    assert windows.test_windows(10, 4, n_windows=3).tolist() == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    assert windows.test_windows(10, 4, n_windows=1).tolist() == [[3, 4, 5, 6]]
    assert windows.test_windows(3, 5, n_windows=2).tolist() == [[0, 1, 2, 2, 2]] * 2


def test_test_windows_paper_setting():
    w = windows.test_windows(180, 30)                 # a typical UCF101 video: 25 windows of 30 frames
    assert w.shape == (25, 30)
    assert w[0, 0] == 0 and w[-1, -1] == 179
    assert np.all(np.diff(w, axis=1) == 1)
    gaps = np.diff(w[:, 0])
    assert set(gaps.tolist()) <= {6, 7} and gaps.sum() == 150   # 150 / 24 = 6.25 frames apart


@given(n=st.integers(1, 400), T=st.integers(1, 40), k=st.integers(1, 30), seed=st.integers(0, 2**16))
def test_sampling_properties(n, T, k, seed):
    expected_window = lambda start: [min(start + t, n - 1) for t in range(T)]   # noqa: E731 (clamped padding)
    w = windows.train_window(n, T, np.random.default_rng(seed))
    assert 0 <= w[0] <= max(n - T, 0) and w.tolist() == expected_window(int(w[0]))
    ws = windows.test_windows(n, T, n_windows=k)
    assert ws.shape == (k, T)
    assert all(row.tolist() == expected_window(int(row[0])) for row in ws)
    starts = ws[:, 0]
    if k > 1:
        assert starts[0] == 0 and starts[-1] == max(n - T, 0)      # from the first frame to the last
        gaps = np.diff(starts)
        assert gaps.min() >= 0 and gaps.max() - gaps.min() <= 1    # evenly spaced, up to rounding


@pytest.mark.parametrize("args", [(0, 30), (10, 0), (2.5, 3), (10, 3, 0)])
def test_sampling_rejects_bad_counts(args):
    with pytest.raises(ValueError):
        if len(args) == 3:
            windows.test_windows(*args)
        else:
            windows.train_window(*args, np.random.default_rng(0))


def test_covering_windows_read_every_frame_once_in_order():
    w = windows.covering_windows(10, 4)
    assert w.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 9, 9]]
    assert windows.covering_windows(3, 5).tolist() == [[0, 1, 2, 2, 2]]


def test_input_chunks_average_the_input_data_and_keep_every_attended_frame(feats):
    """aLSTM's T = 2N: input-data one vector per chunk of 2 frames (the mean of its pooled maps), attended-data
    every frame; read back here from the feature files themselves."""
    from tinyalstm.data.pipeline import prepare_given_features
    from tinyalstm.models import model_spec
    data = prepare_given_features(feats, 1, ["flow", "rgb"], log=lambda s: None)
    key, label = data.train[0]
    idx = np.arange(2, 8)
    V, y, A = windows.WindowReader(data, model_spec("alstm"), "rgb", input_chunk=2).batch([(key, label)], [idx],
                                                                                         np.float64)
    flow = np.load(feats / "flow" / f"{key}.npy").astype(np.float64)[idx].mean(axis=(2, 3))   # (6, D)
    rgb = np.load(feats / "rgb" / f"{key}.npy").astype(np.float64)[idx].mean(axis=(2, 3))
    assert V.shape == (1, 3, 4) and A.shape == (1, 6, 4) and y.tolist() == [label]
    assert np.allclose(V[0], [(flow[0] + flow[1]) / 2, (flow[2] + flow[3]) / 2, (flow[4] + flow[5]) / 2])
    assert np.allclose(A[0], rgb)
    with pytest.raises(ValueError, match="do not split into chunks"):
        windows.WindowReader(data, model_spec("alstm"), "rgb", input_chunk=4).batch([(key, label)], [idx],
                                                                                    np.float64)
    with pytest.raises(ValueError, match="model of vectors"):
        windows.WindowReader(data, model_spec("convlstm"), "rgb", input_chunk=2)
