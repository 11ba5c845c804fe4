"""The aLSTM paper's models with the multi-label loss (Hollywood2 clips carry several actions): the full loss's
gradient against finite differences, the loss against the plain-loop reference on the model's own scores, per-class
probabilities from predict, and labels checked at the entry points."""
import numpy as np
import pytest

from tinyalstm import reference as ref
from tinyalstm.gradcheck import check_model_loss
from tinyalstm.layers.feedforward import stepwise_sigmoid_loss
from tinyalstm.models import build_model

B, T, dv, da, H, C = 3, 4, 3, 5, 4, 3


def _model(name, dropout=0.5):
    model = build_model(name, C, dv, H, second_dim=da, dropout=dropout, seed=1, dtype=np.float64,
                        multilabel=True)
    r = np.random.default_rng(2)
    for v in model.params.values():
        v[...] = 0.5 * r.normal(size=v.shape)
    return model


def _data(seed=0):
    r = np.random.default_rng(seed)
    Y = np.array([[1, 0, 1], [0, 0, 0], [1, 1, 1]])          # two actions, none, all three
    return r.normal(size=(B, T, dv)), Y, r.normal(size=(B, T + 2, da))


@pytest.mark.parametrize("name", ["lstm", "alstm", "alstm-b"])
def test_full_loss_gradients_with_the_multilabel_loss(name):
    model = _model(name)
    V, Y, A = _data()
    check_model_loss(f"{name} (multi-label): full loss", model, V, Y, A if model.reads_second else None)


@pytest.mark.parametrize("name", ["lstm", "alstm", "alstm-b"])
def test_the_loss_is_the_reference_on_the_models_scores_and_predict_gives_a_probability_per_class(name):
    model = _model(name, dropout=0.0)
    V, Y, A = _data(1)
    A = A if model.reads_second else None
    probs, _ = model.predict_steps(V, A)
    scores = np.log(probs) - np.log1p(-probs)                  # back to the scores through the logit
    assert model.loss(V, Y, A)[0] == pytest.approx(ref.stepwise_sigmoid_cross_entropy(scores, Y), rel=1e-9)
    assert model.loss(V, Y, A)[0] == pytest.approx(stepwise_sigmoid_loss(scores, Y)[0], rel=1e-9)
    assert np.all((probs > 0) & (probs < 1))
    assert not np.allclose(probs.sum(axis=-1), 1.0)           # independent classes, not a softmax


def test_labels_are_checked_for_the_loss_the_model_has():
    multi = _model("lstm")
    V, Y, _ = _data()
    with pytest.raises(ValueError, match=r"expected 0/1 labels of shape \(3, 3\)"):
        multi.loss(V, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="only 0 and 1"):
        multi.loss(V, 2 * Y)
    single = build_model("lstm", C, dv, H, dtype=np.float64)
    with pytest.raises(ValueError, match=r"expected shape \(3,\)"):
        single.loss(V, Y)
