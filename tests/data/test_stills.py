"""The world's stills for pretraining (data/synthetic/stills.py): the labels say what the pixels show, the
stills come from groups no benchmark has, the same index gives the same still, and ``stills`` hands them over as
ffmpeg decodes a benchmark video."""
import numpy as np
import pytest
from PIL import Image

from tinyalstm.data.synthetic import SHAPES
from tinyalstm.data.synthetic.scene import compose
from tinyalstm.data.synthetic.stills import PARTS, STILL_GROUPS, render_stills, still_spec, stills


def test_labels_match_what_the_objects_cover():
    """Drawn without its objects, a still changes exactly where they are: a cell labelled with an object must have
    many changed pixels, a cell labelled background few, and a background label is the still's scene type."""
    cells, size = 8, 112
    seen = {"object": 0, "background": 0}
    for i in range(40):
        d, labels = still_spec(i, cells, seed=3, size=size)
        full, empty = compose(d)[0].astype(int), compose(d, layers=("background",))[0].astype(int)
        changed = (np.abs(full - empty).sum(axis=-1) > 24).reshape(cells, size // cells, cells, size // cells)
        changed = changed.mean(axis=(1, 3))
        is_object = labels < len(SHAPES)
        assert (changed[is_object] >= 0.25).all(), (i, changed[is_object].min())
        assert (changed[~is_object] <= 0.5).all(), (i, changed[~is_object].max())
        scene = d["bg"][4]
        assert (labels[~is_object] == len(SHAPES) + scene).all()
        shapes = {SHAPES.index(app["shape"]) for _, app, *_ in d["objects"]}
        assert set(labels[is_object].tolist()) <= shapes
        assert d["bg"][1] in STILL_GROUPS and min(STILL_GROUPS) > 99      # benchmarks' groups are 1..99
        seen["object"] += int(is_object.sum())
        seen["background"] += int((~is_object).sum())
    share = seen["object"] / (seen["object"] + seen["background"])
    assert 0.03 < share < 0.2, share


def test_same_index_same_still_and_label_range():
    a, la = render_stills(6, 8, seed=1, size=64)
    b, lb = render_stills(6, 8, seed=1, size=64)
    c, _ = render_stills(6, 8, seed=2, size=64)
    assert a.dtype == np.uint8 and a.shape == (6, 64, 64, 3) and la.shape == (6, 8, 8)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert not np.array_equal(a, c)
    assert la.min() >= 0 and la.max() < len(PARTS)
    with pytest.raises(ValueError, match="not divisible by cells"):
        still_spec(0, 8, size=100)


def test_stills_go_through_the_codec_like_benchmark_frames(tmp_path):
    """Rendered at 112, written as XVID and decoded at 64: close to a plain resize of the rendered stills (the
    codec's and scaler's marks only), with the same labels."""
    frames, labels = stills(12, 8, 64, seed=4, render_size=112, tmp=tmp_path)
    rendered, same_labels = render_stills(12, 8, seed=4, size=112)
    assert frames.shape == (12, 64, 64, 3) and frames.dtype == np.uint8
    np.testing.assert_array_equal(labels, same_labels)
    resized = np.stack([np.asarray(Image.fromarray(f).resize((64, 64), Image.BICUBIC)) for f in rendered])
    err = np.abs(frames.astype(int) - resized.astype(int)).mean()
    assert err < 8, err
    assert list(tmp_path.iterdir()) == []         # the temporary video is gone
