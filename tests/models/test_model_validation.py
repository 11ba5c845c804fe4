"""Bad input at the public entry points: every error names the argument, what was expected and what came."""
import numpy as np
import pytest

from tinyalstm import LSTM, aLSTM, build_model


@pytest.fixture
def model():
    return aLSTM(input_dim=3, attended_dim=4, hidden_dim=5, match_dim=6, n_classes=3, dtype=np.float64)


def _good(batch=2):
    r = np.random.default_rng(0)
    return r.normal(size=(batch, 4, 3)), r.integers(0, 3, size=batch), r.normal(size=(batch, 7, 4))


@pytest.mark.parametrize("case, exc, pattern", [
    ("V rank", ValueError, r"V: expected a 3-d array, got shape \(2, 4\)"),
    ("A rank", ValueError, r"A: expected a 3-d array, got shape \(2, 7, 4, 1\)"),
    ("V size", ValueError, r"V: expected size 3 on axis 2, got shape \(2, 4, 5\)"),
    ("A size", ValueError, r"A: expected size 4 on axis 2, got shape \(2, 7, 2\)"),
    ("A batch", ValueError, r"A: expected size 2 on axis 0, got shape \(3, 7, 4\)"),
    ("y batch", ValueError, r"y: expected shape \(2,\), got \(3,\)"),
    ("y range", ValueError, r"y: expected labels in \[0, 3\), got min 0, max 3"),
    ("y negative", ValueError, r"y: expected labels in \[0, 3\), got min -1"),
    ("y float", TypeError, r"y: expected an integer dtype, got float64"),
    ("V nan", ValueError, r"V: expected finite values, got 1 NaN or infinite entries"),
    ("A inf", ValueError, r"A: expected finite values, got 2 NaN or infinite entries"),
    ("V int", TypeError, r"V: expected dtype float32 or float64, got int64"),
    ("A float16", TypeError, r"A: expected dtype float32 or float64, got float16"),
    ("V list", TypeError, r"V: expected an array, got list"),
    ("A missing", ValueError, r"A: aLSTM needs attended data \(B, T, da\), got None"),
    ("V empty", ValueError, r"V: expected a non-empty array, got shape \(2, 0, 3\)"),
])
def test_model_rejects_bad_input(model, case, exc, pattern):
    V, y, A = _good()
    if case == "V rank":
        V = V[:, :, 0]
    elif case == "A rank":
        A = A[..., None]
    elif case == "V size":
        V = np.zeros((2, 4, 5))
    elif case == "A size":
        A = A[:, :, :2]
    elif case == "A batch":
        A = np.zeros((3, 7, 4))
    elif case == "y batch":
        y = np.zeros(3, dtype=int)
    elif case == "y range":
        y = np.array([0, 3])
    elif case == "y negative":
        y = np.array([-1, 2])
    elif case == "y float":
        y = y.astype(float)
    elif case == "V nan":
        V[0, 1, 2] = np.nan
    elif case == "A inf":
        A[1, 0, :2] = np.inf
    elif case == "V int":
        V = V.astype(np.int64)
    elif case == "A float16":
        A = A.astype(np.float16)
    elif case == "V list":
        V = V.tolist()
    elif case == "A missing":
        A = None
    elif case == "V empty":
        V = np.zeros((2, 0, 3))
    with pytest.raises(exc, match=pattern):
        model.loss(V, y, A)


def test_predict_validates_too(model):
    V, _, A = _good()
    with pytest.raises(ValueError, match="A: expected a 3-d array"):
        model.predict(V, A[0])


def test_vanilla_lstm_refuses_attended_data():
    m = LSTM(3, 5, 3)
    V, y, A = _good()
    with pytest.raises(ValueError, match="A: LSTM reads no attended data"):
        m.loss(V, y, A)


@pytest.mark.parametrize("kwargs, pattern", [({"dropout": 1.0}, r"dropout: expected a probability in \[0, 1\)"),
                                             ({"dtype": np.int32}, "dtype: expected float32 or float64")])
def test_model_constructor_rejects_bad_options(kwargs, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        aLSTM(3, 4, 5, 6, 3, **kwargs)


@pytest.mark.parametrize("name, kwargs, pattern", [
    ("alstm-c", {}, r"model: expected one of \('lstm', 'alstm', 'alstm-b', .*\), got 'alstm-c'"),
    ("alstm", {"variant": "b"}, r"alstm: no option variant; it takes dropout, seed, dtype"),
    ("convlstm", {}, r"map_size: convlstm reads N x N maps; give their size N"),
    ("convnet", {}, r"model: 'convnet' is the frame encoder alone")])
def test_registry_rejects_bad_names_and_options(name, kwargs, pattern):
    """The variant is chosen by name in the registry (alstm: fig. 4a, alstm-b: fig. 4b), not by an option."""
    with pytest.raises((ValueError, TypeError), match=pattern):
        build_model(name, 3, 4, 5, **kwargs)


def test_float32_input_is_accepted_by_a_float64_model(model):
    V, y, A = _good()
    loss, _ = model.loss(V.astype(np.float32), y.astype(np.int32), A.astype(np.float32))
    assert np.isfinite(loss)


@pytest.mark.parametrize("argv, message", [(["--epochs", "0"], "--epochs: expected a positive integer, got 0"),
                                           (["--lr", "-1"], "--lr: expected a positive number, got -1.0"),
                                           (["--models", "gru"], "argument --models: invalid choice: 'gru'")])
def test_demo_cli_rejects_bad_arguments(argv, message, capsys):
    from tinyalstm.demo import main
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
