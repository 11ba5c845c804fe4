"""The frame encoder (conv-ReLU-pool blocks + a linear head): full-loss gradient check on a tiny config, shapes,
bad input, and that it learns a frame-level task."""
import numpy as np
import pytest

from tinyalstm.gradcheck import check_full_loss
from tinyalstm.models.frame_encoder import FrameEncoder
from tinyalstm.optim import SGD


def test_frame_encoder_full_loss_gradient():
    enc = FrameEncoder(channels=2, size=8, n_classes=3, widths=(3, 2), dropout=0.5, seed=1, dtype=np.float64)
    r = np.random.default_rng(0)
    x = r.normal(size=(2, 2, 8, 8))
    y = np.array([0, 2])
    def loss_fn():
        return enc.loss_and_input_grads(None, y, rng=np.random.default_rng(4), x=x)[0]

    _, grads, dx = enc.loss_and_input_grads(None, y, rng=np.random.default_rng(4), x=x)
    check_full_loss("frame encoder: full loss", loss_fn, {**enc.params, "x": x}, {**grads, "x": dx})


def test_frame_encoder_shapes_and_bad_input():
    enc = FrameEncoder(channels=3, size=16, n_classes=4, widths=(4, 5))
    assert enc.feature_shape == (5, 4, 4)
    frames = np.zeros((3, 16, 16, 3), np.uint8)
    assert enc.features(frames).shape == (3, 5, 4, 4)
    p = enc.predict(frames)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="frames: expected dtype uint8"):
        enc.features(np.zeros((3, 16, 16, 3), np.float32))
    with pytest.raises(ValueError, match=r"frames: expected uint8 \(B, 16, 16, 3\)"):
        enc.features(np.zeros((3, 16, 16, 2), np.uint8))
    with pytest.raises(ValueError, match="size: 18 is not divisible"):
        FrameEncoder(3, 18, 4, widths=(4, 5))


def test_frame_encoder_learns_where_the_bright_square_is():
    """4 classes = the quadrant holding a bright square on noise; 150 SGD steps must reach >= 0.9 held out."""
    r = np.random.default_rng(0)

    def make(n):
        y = r.integers(0, 4, n)
        f = r.integers(0, 100, size=(n, 16, 16, 3)).astype(np.uint8)
        for i, c in enumerate(y):
            y0, x0 = 8 * (c // 2) + r.integers(0, 4), 8 * (c % 2) + r.integers(0, 4)
            f[i, y0:y0 + 4, x0:x0 + 4] = 255
        return f, y

    train, test = make(512), make(256)
    enc = FrameEncoder(3, 16, 4, widths=(8, 8), dropout=0.0, seed=0)
    opt = SGD(lr=0.05, momentum=0.9)
    for step in range(150):
        idx = r.integers(0, 512, 32)
        _, grads = enc.loss(train[0][idx], train[1][idx])
        opt.step(enc.params, grads)
    acc = (enc.predict(test[0]).argmax(axis=1) == test[1]).mean()
    assert acc >= 0.9, acc
