"""The dataset registry (tinyalstm.data.registry): the train command offers exactly its names and takes each
dataset's split count, root rule and label kind from it; a built-in benchmark's default root and ground truth; an
unknown name is an error that lists the names."""
import pytest

from tinyalstm import train
from tinyalstm.checks import RunError
from tinyalstm.data.registry import DATASETS, dataset_spec, ground_truth_for


def test_the_official_split_counts():
    """Written out here, not read from the registry: UCF101, HMDB51 (and features in UCF101's lists) have three
    splits, and so does the built-in benchmark (its generator writes three); the others one."""
    assert {name: spec.splits for name, spec in DATASETS.items()} == {
        "synthetic": 3, "ucf101": 3, "hmdb51": 3, "features": 3, "hollywood2": 1, "synthetic-multilabel": 1,
        "activitynet": 1}


def test_the_train_command_offers_the_registry(capsys):
    with pytest.raises(SystemExit):
        train.parse_args(["--dataset", "no-such-set"])
    err = capsys.readouterr().err
    assert all(repr(name) in err for name in DATASETS)


@pytest.mark.parametrize("name", list(DATASETS))
def test_split_and_root_rules_follow_the_registry(name, tmp_path, capsys):
    spec = dataset_spec(name)
    model = ["--model", "lstm"] if spec.multilabel else []
    if spec.splits == 1:
        with pytest.raises(SystemExit):
            train.parse_args(["--dataset", name, "--split", "2", "--root", str(tmp_path), *model])
        assert f"--split 2: {name} has one split" in capsys.readouterr().err
    else:
        assert train.parse_args(["--dataset", name, "--split", "3", "--root", str(tmp_path), *model]).split == 3
    if spec.built_in:
        assert train.parse_args(["--dataset", name, *model]).root is None        # generated into the cache
        assert spec.default_root().name.startswith(name)
    else:
        with pytest.raises(SystemExit):
            train.parse_args(["--dataset", name, *model])
        assert f"--root is required for --dataset {name}" in capsys.readouterr().err


def test_multilabel_datasets_take_only_the_multilabel_models(capsys):
    for name in [n for n, s in DATASETS.items() if s.multilabel]:
        with pytest.raises(SystemExit):
            train.parse_args(["--dataset", name, "--root", ".", "--model", "videolstm"])
        assert f"{name} clips carry several classes" in capsys.readouterr().err
    assert {n for n, s in DATASETS.items() if s.multilabel} == {"hollywood2", "synthetic-multilabel"}


def test_unknown_names_and_missing_ground_truth_are_errors():
    with pytest.raises(ValueError, match=r"dataset: expected one of \('synthetic', 'ucf101'"):
        dataset_spec("ucf-101")
    with pytest.raises(RunError, match="the hmdb51 run has no built-in ground truth"):
        ground_truth_for({"dataset": "hmdb51", "root": "."})
