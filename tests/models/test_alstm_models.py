"""Whole models: the full loss against reference/ (with and without dropout masks) and the full-loss gradient
with respect to every parameter and both inputs against finite differences, on tiny shapes drawn by hypothesis."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinyalstm import reference as ref
from tinyalstm.gradcheck import check_full_loss, rel_error
from tinyalstm.models import aLSTM, aLSTMb, model_spec

dims = st.integers(1, 3)
MODELS = ["lstm", "alstm", "alstm-b"]


def _model(name, dv, da, H, M, C, dropout):
    if name == "lstm":
        return model_spec(name).cls(dv, H, C, dropout=dropout, seed=1, dtype=np.float64)
    return model_spec(name).cls(dv, da, H, M, C, dropout=dropout, seed=1, dtype=np.float64)   # M != H here


def _setup(name, B, N, T, dv, da, H, M, C, seed, dropout=0.5):
    r = np.random.default_rng(seed)
    model = _model(name, dv, da, H, M, C, dropout)
    for v in model.params.values():       # biases start at zero: give every parameter a generic value
        v[...] = 0.7 * r.normal(size=v.shape)
    V, A, y = r.normal(size=(B, N, dv)), r.normal(size=(B, T, da)), r.integers(0, C, size=B)
    return model, V, (A if model.reads_second else None), y


def _reference_loss(name, model, V, A, y, masks):
    mask_in, mask_out = masks
    if name == "lstm":
        return ref.lstm_model_loss(model.params, V, y, mask_in, mask_out, p=model.dropout)
    fn = ref.alstm_model_loss if name == "alstm" else ref.alstm_b_model_loss
    return fn(model.params, V, A, y, mask_in, mask_out, p=model.dropout)


@pytest.mark.parametrize("name", MODELS)
@given(B=dims, N=dims, T=dims, dv=dims, da=dims, H=dims, M=dims, C=st.integers(2, 4), seed=st.integers(0, 2**31))
def test_model_matches_reference(name, B, N, T, dv, da, H, M, C, seed):
    model, V, A, y = _setup(name, B, N, T, dv, da, H, M, C, seed)
    loss, _ = model.loss(V, y, A)
    want = _reference_loss(name, model, V, A, y, (None, None))
    assert abs(loss - want[0]) <= 1e-12 * max(1.0, loss)
    probs, w = model.predict(V, A)
    assert rel_error(probs, want[1]) <= 1e-12
    if name == "alstm":
        assert rel_error(w, want[2]) <= 1e-12
    elif name == "alstm-b":
        assert rel_error(w[:, 0], want[2]) <= 1e-12
    # training mode: the masks the model draws from a seeded generator, applied by the reference
    masks = model.dropout_masks(V, np.random.default_rng(seed))
    loss, _ = model.loss(V, y, A, rng=np.random.default_rng(seed))
    assert abs(loss - _reference_loss(name, model, V, A, y, masks)[0]) <= 1e-12 * max(1.0, loss)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("dropout", [0.0, 0.5])
@settings(max_examples=5)
@given(B=dims, N=dims, T=dims, dv=dims, da=dims, H=dims, M=dims, C=st.integers(2, 4), seed=st.integers(0, 2**31))
def test_model_full_loss_gradients(name, dropout, B, N, T, dv, da, H, M, C, seed):
    """d loss / d every parameter and input. With dropout the same seed gives the same masks at every call.

    The error is taken over all gradient entries of the model at once (the gradient of the full loss as one
    vector). Per parameter it would be meaningless for parameters whose gradient is ~1e-7 in these one-unit
    configurations (attention weights when T = 2, da = 1), where the finite difference's own absolute error,
    ~1e-12, is already 1e-5 of the value. Each op's parameters are checked on their own, with O(1) gradients,
    in the op tests.
    """
    model, V, A, y = _setup(name, B, N, T, dv, da, H, M, C, seed, dropout)
    loss_fn = lambda: model.loss(V, y, A, rng=np.random.default_rng(seed))[0]  # noqa: E731
    _, grads, dinputs = model.loss_and_input_grads(V, y, A, rng=np.random.default_rng(seed))
    assert set(grads) == set(model.params)
    targets = {**model.params, "V": V, **({"A": A} if A is not None else {})}
    check_full_loss(f"model {name}: full loss", loss_fn, targets, {**grads, **dinputs})


def test_variant_b_reads_only_the_last_state():
    """Variant (b) scores once, after N steps: changing the last input changes its score, and its attention
    weights have a single row; variant (a) has one row per step."""
    r = np.random.default_rng(0)
    V, A = r.normal(size=(2, 5, 3)), r.normal(size=(2, 7, 4))
    for cls, rows in [(aLSTM, 5), (aLSTMb, 1)]:
        m = cls(3, 4, 6, 5, 3, dtype=np.float64)
        probs, w = m.predict(V, A)
        assert w.shape == (2, rows, 7) and probs.shape == (2, 3)
        V2 = V.copy()
        V2[:, -1] += 1.0
        assert not np.allclose(m.predict(V2, A)[0], probs)


def test_float32_model_tracks_float64():
    r = np.random.default_rng(0)
    V, A, y = r.normal(size=(4, 6, 5)), r.normal(size=(4, 8, 7)), r.integers(0, 3, size=4)
    m64 = aLSTM(5, 7, 8, 8, 3, dtype=np.float64)
    m32 = aLSTM(5, 7, 8, 8, 3, dtype=np.float32)
    l64, g64 = m64.loss(V, y, A)
    l32, g32 = m32.loss(V, y, A)
    assert abs(l64 - l32) < 1e-5
    for k in g64:   # float32 rounding, relative to each gradient's scale
        assert rel_error(g32[k], g64[k]) < 1e-4, k
