"""The pictures of tinyalstm/plots.py: valid PNGs, the blend puts the colour where the attention is, bad shapes are
ValueErrors that name the argument, and a crash while rendering leaves no half-written file."""
import numpy as np
import pytest
from PIL import Image   # Pillow comes with matplotlib, a core dependency: no skip if either is missing

from tinyalstm import plots


def _png(path):
    """Open ``path`` as a PNG and check it is a real picture (not one flat colour); -> (width, height)."""
    with Image.open(path) as im:
        assert im.format == "PNG"
        pixels = np.asarray(im.convert("RGB"))
    assert pixels.shape[0] > 0 and pixels.shape[1] > 0
    assert pixels.std() > 0
    return pixels.shape[1], pixels.shape[0]


def _video(T=10, H=32, W=48, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(T, H, W, 3), dtype=np.uint8)


def _softmax_maps(T, N, seed=0):
    z = np.random.default_rng(seed).normal(size=(T, N * N))
    a = np.exp(z)
    return (a / a.sum(axis=1, keepdims=True)).reshape(T, N, N)


# ------------------------------------------------------------------------------------------------- blend

def _one_hot_map(N, i, j):
    a = np.zeros((N, N))
    a[i, j] = 1.0
    return a


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_blend_is_brightest_in_the_attended_cell(mode):
    frame = np.zeros((32, 32, 3), np.uint8)
    out = plots.blend(frame, _one_hot_map(4, 1, 2), upsample_mode=mode)
    diff = np.abs(out.astype(int) - frame).sum(axis=2)
    cells = diff.reshape(4, 8, 4, 8).mean(axis=(1, 3))             # mean change per 8x8 cell of the 4x4 map
    assert np.unravel_index(cells.argmax(), cells.shape) == (1, 2)
    i, j = np.unravel_index(diff.argmax(), diff.shape)
    assert 8 <= i < 16 and 16 <= j < 24                             # the single most changed pixel is in the cell
    # full attention on black at alpha 0.5: half of white
    assert diff.max() == 3 * 128


def test_blend_nearest_changes_only_the_attended_cell():
    frame = np.full((32, 32, 3), 100, np.uint8)
    out = plots.blend(frame, _one_hot_map(4, 3, 0), alpha=0.5, upsample_mode="nearest")
    expected = np.zeros((32, 32), bool)
    expected[24:32, 0:8] = True
    # outside the cell the map is 0: hot(0) is black, so the frame is halved; inside it is 0.5 * (100 + 255)
    assert (out[expected] == 178).all() and (out[~expected] == 50).all()


def test_blend_alpha_ends():
    frame = _video(1, 20, 30)[0]
    a = _softmax_maps(1, 7)[0]
    np.testing.assert_array_equal(plots.blend(frame, a, alpha=0.0), frame)
    flat = plots.blend(frame, np.full((7, 7), 1 / 49), alpha=1.0)    # a uniform map scales to 1: hot(1) is white
    assert (flat == 255).all()


def test_blend_map_size_need_not_divide_the_frame():
    out = plots.blend(_video(1, 30, 41)[0], _softmax_maps(1, 7)[0])
    assert out.shape == (30, 41, 3) and out.dtype == np.uint8


def test_upsample_bilinear_matches_the_textbook_formula():
    np.testing.assert_allclose(plots.upsample(np.full((5, 3), 0.25), 17, 11), 0.25)   # a constant stays constant
    m = np.random.default_rng(2).random((4, 4))
    up = plots.upsample(m, 8, 8, "bilinear")
    # 4 -> 8 with pixel centres aligned: output pixel i samples the map at cell coordinate i / 2 - 0.25,
    # clamped to the outer cell centres
    for i in range(8):
        for j in range(8):
            y, x = np.clip(i / 2 - 0.25, 0, 3), np.clip(j / 2 - 0.25, 0, 3)
            assert abs(up[i, j] - _bilinear(m, y, x)) < 1e-12


def _bilinear(m, y, x):
    """Bilinear value of m at continuous cell coordinates (y, x): an independent formula for the test above."""
    y0, x0 = min(int(y), m.shape[0] - 2), min(int(x), m.shape[1] - 2)
    dy, dx = y - y0, x - x0
    return ((1 - dy) * (1 - dx) * m[y0, x0] + (1 - dy) * dx * m[y0, x0 + 1] + dy * (1 - dx) * m[y0 + 1, x0]
            + dy * dx * m[y0 + 1, x0 + 1])


@pytest.mark.parametrize("frame, att, name", [
    (np.zeros((8, 8), np.uint8), np.ones((2, 2)), "frame"),
    (np.zeros((8, 8, 4), np.uint8), np.ones((2, 2)), "frame"),
    (np.zeros((8, 8, 3), np.uint8), np.ones((2, 2, 1)), "att_map"),
    (np.zeros((8, 8, 3), np.uint8), -np.ones((2, 2)), "att_map"),
    (np.zeros((8, 8, 3), np.uint8), np.full((2, 2), np.nan), "att_map"),
])
def test_blend_rejects_bad_inputs(frame, att, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        plots.blend(frame, att)


# ------------------------------------------------------------------------------------------------- curves

METRICS = [
    {"epoch": 1, "train_loss": 2.3, "train_acc": 0.10, "test_acc": None},
    {"epoch": 2, "train_loss": 1.9, "train_acc": 0.30},
    {"epoch": 3, "train_loss": 1.4, "train_acc": 0.55, "test_acc": 0.40, "test_map": 0.45},
    {"epoch": 4, "train_loss": 1.1, "test_acc": float("nan")},
]


def test_series_skips_missing_none_and_nan():
    assert plots.series(METRICS, "test_acc") == ([3], [0.40])
    assert plots.series(METRICS, "train_acc") == ([1, 2, 3], [0.10, 0.30, 0.55])
    assert plots.series([{"train_loss": 1.0}, {"train_loss": 0.5}], "train_loss") == ([1, 2], [1.0, 0.5])


def test_plot_curves_writes_a_png_in_a_new_folder(tmp_path):
    path = tmp_path / "run" / "figures" / "curves.png"
    assert plots.plot_curves(METRICS, path) == str(path)
    w, h = _png(path)
    assert w > h                                                     # two panels side by side
    assert [p.name for p in path.parent.iterdir()] == ["curves.png"]  # no partial file left behind


def test_plot_curves_without_any_accuracy(tmp_path):
    _png(plots.plot_curves([{"epoch": 1, "train_loss": 1.0}], tmp_path / "c.png"))


@pytest.mark.parametrize("metrics", [[], {"epoch": 1}, [{"epoch": 1}, 3], [{"epoch": 1, "train_loss": "high"}]])
def test_plot_curves_rejects_bad_metrics(tmp_path, metrics):
    with pytest.raises(ValueError, match="^metrics:"):
        plots.plot_curves(metrics, tmp_path / "out" / "c.png")
    assert not (tmp_path / "out").exists()                           # checked before anything is created


def test_a_crash_while_rendering_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "curves.png"
    path.write_bytes(b"previous")

    def broken_savefig(self, f, **kwargs):
        f.write(b"\x89PNG half")
        raise RuntimeError("renderer died")

    from matplotlib.figure import Figure
    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(RuntimeError, match="renderer died"):
        plots.plot_curves(METRICS, path)
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]


# ------------------------------------------------------------------------------------------------- spatial

def test_pick_frames_is_even_and_keeps_both_ends():
    for T, n in [(20, 8), (9, 8), (100, 3), (5, 1)]:
        t = plots.pick_frames(T, n)
        assert len(t) == min(T, n) and t[0] == 0 and (n == 1 or t[-1] == T - 1)
        gaps = np.diff(t)
        assert (gaps > 0).all() and (n == 1 or gaps.max() - gaps.min() <= 1)
    assert list(plots.pick_frames(4, 8)) == [0, 1, 2, 3]


def test_spatial_overlay_png(tmp_path):
    T = 20
    boxes = np.tile([4.0, 6.0, 20.0, 25.0], (T, 1))
    boxes[3] = np.nan                                                # frame without annotation
    path = plots.spatial_attention_overlay(_video(T), _softmax_maps(T, 7), tmp_path / "s" / "att.png",
                                           title="VideoLSTM, clip 3", boxes=boxes)
    w, h = _png(path)
    assert w > 2 * h                                                 # 8 columns, 2 rows


@pytest.mark.parametrize("kwargs, name", [
    ({"frames": _video(5)[..., :2]}, "frames"),
    ({"att": _softmax_maps(4, 7)}, "att"),
    ({"att": np.ones((5, 7))}, "att"),
    ({"boxes": np.zeros((5, 3))}, "boxes"),
    ({"boxes": np.tile([10.0, 0, 5, 5], (5, 1))}, "boxes"),
    ({"max_frames": 0}, "max_frames"),
])
def test_spatial_overlay_rejects_bad_inputs(tmp_path, kwargs, name):
    args = {"frames": _video(5), "att": _softmax_maps(5, 7), "path": tmp_path / "x" / "a.png", **kwargs}
    with pytest.raises(ValueError, match=f"^{name}:"):
        plots.spatial_attention_overlay(**args)
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------------------------------------- temporal

def test_extremes_order_and_ties():
    w = np.array([0.1, 0.4, 0.05, 0.3, 0.15])
    high, low = plots.extremes(w, 2)
    assert list(high) == [1, 3] and list(low) == [2, 0]
    high, low = plots.extremes(np.full(4, 0.25), 3)
    assert list(high) == [0, 1, 2] and list(low) == [0, 1, 2]
    assert len(plots.extremes(w, 9)[0]) == 5


def test_temporal_figure_png(tmp_path):
    w = np.random.default_rng(1).dirichlet(np.ones(12))
    path = plots.temporal_attention_figure(_video(12), w, tmp_path / "t.png", k=3, interval=(4, 9))
    _png(path)
    _png(plots.temporal_attention_figure(_video(2), [0.7, 0.3], tmp_path / "t2.png", k=3))   # k capped at T


@pytest.mark.parametrize("kwargs, name", [
    ({"weights": np.full(7, 1 / 7)}, "weights"),
    ({"weights": np.full((6, 1), 1 / 6)}, "weights"),
    ({"interval": (3, 9)}, "interval"),
    ({"interval": (4, 4)}, "interval"),
    ({"interval": 5}, "interval"),
    ({"k": 0}, "k"),
])
def test_temporal_figure_rejects_bad_inputs(tmp_path, kwargs, name):
    args = {"frames": _video(6), "weights": np.full(6, 1 / 6), "path": tmp_path / "x" / "t.png", **kwargs}
    with pytest.raises(ValueError, match=f"^{name}:"):
        plots.temporal_attention_figure(**args)
    assert not (tmp_path / "x").exists()


def test_blend_on_a_fixed_scale_compares_maps():
    frame = np.zeros((8, 8, 3), np.uint8)
    weak, strong = np.full((4, 4), 1 / 16), np.full((4, 4), 1 / 16)
    strong[0, 0] = 0.5
    strong /= strong.sum()
    a = plots.blend(frame, weak, alpha=1.0, scale=0.5, upsample_mode="nearest")
    b = plots.blend(frame, strong, alpha=1.0, scale=0.5, upsample_mode="nearest")
    assert a.max() < b.max()                       # on one scale the uniform map stays dim ...
    own = plots.blend(frame, weak, alpha=1.0, upsample_mode="nearest")
    assert own.min() == 255                        # ... scaled by its own maximum it is drawn white everywhere
    with pytest.raises(ValueError, match="scale: expected a positive"):
        plots.blend(frame, weak, scale=0)


def test_spatial_overlay_with_predicted_boxes_and_a_colour_bar(tmp_path):
    T = 4
    boxes = np.array([[2, 2, 10, 10]] * T, dtype=float)
    pred = boxes.copy()
    pred[0] = np.nan
    path = plots.spatial_attention_overlay(_video(T), _softmax_maps(T, 7), tmp_path / "o.png", boxes=boxes,
                                           predicted=pred, scale=8 / 49, frame_numbers=[10, 11, 12, 13], note="x")
    assert Image.open(path).size[0] > 0
    with pytest.raises(ValueError, match="frame_numbers: expected 4"):
        plots.spatial_attention_overlay(_video(T), _softmax_maps(T, 7), tmp_path / "p.png", frame_numbers=[1])
