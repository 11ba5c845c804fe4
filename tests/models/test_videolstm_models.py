"""The VideoLSTM paper's whole models on tiny configs: the full loss's gradient with respect to every parameter
and input (head dropout off and with a fixed mask), attention maps' shape and normalisation, bad input, and the
fused CPU path against the step-by-step layers."""
import numpy as np
import pytest

from tinyalstm.gradcheck import check_model_loss
from tinyalstm.models import ConvALSTM, ConvLSTM, VideoLSTM, build_model

B, T, C, Cm, N, K, NCLS = 2, 2, 2, 2, 3, 2, 3


def _make(name, dropout, att_kernel=1):
    kw = dict(fc_dim=4, dropout=dropout, seed=1, dtype=np.float64)
    if name in ("convalstm", "videolstm"):
        kw["att_kernel"] = att_kernel
    return build_model("alstm-spatial" if name == "alstm" else name, NCLS, C, K, map_size=N, second_dim=Cm, **kw)


def _data(seed=0):
    r = np.random.default_rng(seed)
    return r.normal(size=(B, T, C, N, N)), r.integers(0, NCLS, size=B), r.normal(size=(B, T, Cm, N, N))


@pytest.mark.parametrize("name, att_kernel, dropout", [
    ("convlstm", 1, 0.7), ("alstm", 1, 0.7), ("alstm", 1, 0.0), ("convalstm", 1, 0.0), ("convalstm", 3, 0.7),
    ("videolstm", 1, 0.7), ("videolstm", 3, 0.0)])
def test_full_loss_gradients(name, att_kernel, dropout):
    model = _make(name, dropout, att_kernel)
    r = np.random.default_rng(2)
    for v in model.params.values():       # zero biases at init: give every parameter a generic value
        v[...] = 0.5 * r.normal(size=v.shape)
    X, y, M = _data()
    check_model_loss(f"video model {name}: full loss", model, X, y, M if model.reads_second else None)


@pytest.mark.parametrize("name", ["convlstm", "alstm", "convalstm", "videolstm"])
def test_predict_returns_normalised_attention_maps(name):
    model = _make(name, 0.7)
    X, _, M = _data()
    probs, att = model.predict(X, M if model.reads_second else None)
    assert probs.shape == (B, NCLS) and att.shape == (B, T, N, N)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(att.sum(axis=(2, 3)), 1.0, rtol=1e-6)


def test_bad_input_at_the_model_entry_points():
    X, y, M = _data()
    with pytest.raises(ValueError, match="kernel: expected an odd kernel size >= 1, got 2"):
        ConvLSTM(C, N, K, NCLS, kernel=2)
    with pytest.raises(ValueError, match="att_kernel: expected an odd kernel size >= 1, got 4"):
        ConvALSTM(C, N, K, NCLS, att_kernel=4)
    v = VideoLSTM(C, Cm, N, K, NCLS, fc_dim=4)
    with pytest.raises(ValueError, match=r"M: flow maps must have the RGB maps' size \(3, 3\), got \(4, 4\)"):
        v.loss(X, y, np.zeros((B, T, Cm, 4, 4)))
    with pytest.raises(ValueError, match=r"M: expected size 2 on axis 2, got shape \(2, 2, 5, 3, 3\)"):
        v.loss(X, y, np.zeros((B, T, 5, N, N)))
    with pytest.raises(ValueError, match="M: VideoLSTM needs flow maps"):
        v.loss(X, y, None)
    with pytest.raises(ValueError, match=r"X: expected size 2 on axis 2, got shape \(2, 2, 4, 3, 3\)"):
        v.loss(np.zeros((B, T, 4, N, N)), y, M)
    bad = X.copy()
    bad[0, 0, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="X: expected finite values, got 1 NaN or infinite entries"):
        v.loss(bad, y, M)
    with pytest.raises(ValueError, match="M: ConvLSTM reads no flow maps"):
        ConvLSTM(C, N, K, NCLS, fc_dim=4).loss(X, y, M)


@pytest.mark.parametrize("name, att_kernel, penalty", [
    ("convlstm", 1, 0.0), ("convalstm", 3, 0.1), ("videolstm", 1, 0.1), ("videolstm", 3, 0.0)])
def test_fused_cpu_path_equals_step_by_step(name, att_kernel, penalty, monkeypatch):
    """On NumPy arrays the models run the fused CPU path (tinyalstm.fused); with TINYALSTM_FUSED=0 the
    step-by-step layers. Same loss, parameter and input gradients and predictions (float64, REF_TOL), with a
    dropout mask and (penalty > 0) the attention penalty's direct gradient of the maps; two training steps in a
    row reuse the model's workspace."""
    import tinyalstm.models.videolstm as module
    from tinyalstm.gradcheck import REF_TOL, rel_error
    ran = []
    for fn in ("conv_lstm_fused_forward", "conv_alstm_fused_forward", "videolstm_fused_forward"):
        original = getattr(module, fn)
        monkeypatch.setattr(module, fn, lambda *a, _f=original, **k: ran.append(1) or _f(*a, **k))
    model = _make(name, 0.7, att_kernel)
    if penalty:
        model.attention_penalty = penalty
    r = np.random.default_rng(4)
    for v in model.params.values():
        v[...] = 0.5 * r.normal(size=v.shape)
    X, y, M = _data(1)
    M = M if model.reads_second else None
    runs = {}
    for fused in ("1", "0"):
        monkeypatch.setenv("TINYALSTM_FUSED", fused)
        steps = [model.loss_and_input_grads(X + 0.1 * s, y, M, rng=np.random.default_rng(5)) for s in range(2)]
        runs[fused] = steps, model.predict(X, M)
    assert len(ran) == 2 + 1, "the fused path did not run"
    for (loss, grads, dinputs), (ploss, pgrads, pdinputs) in zip(runs["1"][0], runs["0"][0]):
        assert abs(loss - ploss) <= 1e-12
        for got, want in ((grads, pgrads), (dinputs, pdinputs)):
            assert set(got) == set(want)
            for k in got:
                assert rel_error(got[k], want[k]) <= REF_TOL, k
    for got, want in zip(runs["1"][1], runs["0"][1]):
        assert rel_error(got, want) <= REF_TOL
