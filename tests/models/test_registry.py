"""The one registry of model names: every sequence model builds from it, reads the inputs it says, takes the options
its constructor has, and every command line names its models from it."""
import numpy as np
import pytest

from tinyalstm.models import MODEL_CHOICES, MODELS, Classifier, build_model, model_spec

B, T, D, N, C = 2, 3, 4, 3, 5


def _inputs(spec, r):
    """Inputs of the kind the registry says the model reads: pooled vectors (B, T, D) or maps (B, T, D, N, N)."""
    shape = (B, T, D) if spec.pooled else (B, T, D, N, N)
    return r.normal(size=shape), (r.normal(size=shape) if spec.second else None)


@pytest.mark.parametrize("name", list(MODELS))
def test_every_sequence_model_builds_and_reads_what_the_registry_says(name):
    spec, r = model_spec(name), np.random.default_rng(0)
    model = build_model(name, C, D, 6, map_size=N, dtype=np.float64)
    assert isinstance(model, spec.cls) and isinstance(model, Classifier)
    assert model.reads_second == (spec.second is not None)
    first, second = _inputs(spec, r)
    loss, grads, dinputs = model.loss_and_input_grads(first, r.integers(0, C, B), second, rng=r)
    assert np.isfinite(loss) and list(grads) == list(model.params)       # keyed and ordered like params
    assert set(dinputs) == set(model.inputs)
    probs, _ = model.predict(first, second)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)


def test_modalities_and_defaults():
    assert MODELS["videolstm"].modalities("flow") == ("rgb", "flow")      # fixed by the model
    assert MODELS["alstm"].modalities("rgb") == ("flow", "rgb")           # input-data flow, attended-data RGB
    assert MODELS["convlstm"].modalities("flow") == ("flow", None)        # the run's single stream
    assert MODELS["convalstm"].defaults["att_kernel"] == 1                # the authors' 1x1 attention
    assert MODELS["videolstm"].defaults["dropout"] == 0.7 and MODELS["alstm"].defaults["dropout"] == 0.5
    assert "fc_dim" in MODELS["convlstm"].options and "fc_dim" not in MODELS["lstm"].options


def test_the_command_lines_name_registry_models():
    from tinyalstm import demo
    from tinyalstm.experiment.comparisons import RUNS
    from tinyalstm.perf.steps import BENCH_MODELS
    assert {model for model, _ in RUNS.values()} <= set(MODEL_CHOICES)
    assert set(BENCH_MODELS) <= set(MODELS)
    assert {model for model, _ in demo.ROWS.values()} <= set(MODELS)
