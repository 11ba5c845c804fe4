"""Pretraining on the world's stills (models/pretraining.py): the weighted cell loss and the whole head + encoder
against finite differences, and that a small encoder learns the task: its cells find the objects of stills it
never saw, and its maps are stronger where the objects are."""
import numpy as np

from tinyalstm.gradcheck import check_full_loss
from tinyalstm.models.frame_encoder import FrameEncoder
from tinyalstm.layers.feedforward import stepwise_softmax_loss, weighted_softmax_loss
from tinyalstm.models.pretraining import PartsHead, pretrain
from tinyalstm.optim import RMSprop
from tinyalstm.data.synthetic import SHAPES
from tinyalstm.data.synthetic.stills import PARTS, render_stills


def test_weighted_softmax_loss_against_a_plain_sum_and_finite_differences():
    r = np.random.default_rng(0)
    scores, y, w = r.normal(size=(7, 5)), r.integers(0, 5, size=7), r.uniform(0.5, 3.0, size=7)
    loss, dscores = weighted_softmax_loss(scores, y, w)
    log_p = [s[k] - np.log(np.exp(s).sum()) for s, k in zip(scores, y)]     # written out row by row
    np.testing.assert_allclose(loss, -np.dot(w, log_p) / w.sum(), rtol=1e-12)
    plain, dplain = stepwise_softmax_loss(scores[:, None, :], y)              # unit weights: the plain loss
    ones, dones = weighted_softmax_loss(scores, y, np.ones(7))
    np.testing.assert_allclose(ones, plain, rtol=1e-12)
    np.testing.assert_allclose(dones, dplain[:, 0], rtol=1e-12)
    check_full_loss("weighted softmax loss", lambda: weighted_softmax_loss(scores, y, w)[0], {"scores": scores},
                    {"scores": dscores})


def test_parts_head_and_encoder_full_loss_gradient():
    enc = FrameEncoder(channels=3, size=8, n_classes=2, widths=(3, 4), seed=1, dtype=np.float64)
    head = PartsHead(4, 5, seed=2, dtype=np.float64)
    r = np.random.default_rng(0)
    x = r.normal(size=(2, 3, 8, 8))
    labels = r.integers(0, 5, size=(2, 2, 2))
    loss, grads = head.loss(enc, None, labels, objects=2, x=x)
    targets = {**enc.blocks(), **head.params}
    assert set(grads) == set(targets)            # the classification head (W_out, b_out) is not pretrained
    check_full_loss("pretraining: parts head + encoder", lambda: head.loss(enc, None, labels, objects=2, x=x)[0],
                    targets, grads)


def test_pretraining_finds_the_objects_of_unseen_stills():
    """A small encoder, 500 stills, 5 epochs: on 200 other stills its cells must find most object cells while
    taking few background cells for objects; an encoder whose head alone is trained does worse on both."""
    frames, labels = render_stills(500, 8, seed=5, size=64)
    test_frames, test_labels = render_stills(200, 8, seed=6, size=64)
    obj = test_labels < len(SHAPES)
    figures = {}
    for what in ("blocks and head", "head alone"):
        enc = FrameEncoder(3, 64, 2, widths=(8, 16, 16), seed=0)
        head = PartsHead(16, len(PARTS), seed=0)
        losses = pretrain(enc, head, frames, labels, RMSprop(lr=3e-3), 5, np.random.default_rng(0),
                          objects=len(SHAPES), frozen=what == "head alone")
        said = head.predict(enc, test_frames) < len(SHAPES)
        figures[what] = said[obj].mean(), said[~obj].mean(), losses[-1] / losses[0]
    found, false, drop = figures["blocks and head"]
    assert found > 0.5 and false < 0.1 and drop < 0.8, figures
    assert found - false > figures["head alone"][0] - figures["head alone"][1] + 0.1, figures
