"""The experiment script on a tiny synthetic set: every run is a real training process, the fused rows are the
product of the saved scores, the table cells are mean +- std of the runs' own results, and a rerun redoes nothing."""
import json

import numpy as np
import pytest

from tinyalstm import experiments
from tinyalstm.checks import RunError
from tinyalstm.data import synthetic

TINY = ["--size", "32", "--frames", "6", "--hidden", "3", "--fc-dim", "6", "--eval-windows", "1",
        "--rgb-encoder", "scratch", "--encoder-epochs", "1"]


@pytest.fixture(scope="module")
def tiny_experiment(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("exp")
    synthetic.generate(tmp / "syn", classes=3, groups=3, clips=1, frames=12, size=32, distractors=1, clutter=2)
    argv = ["--root", str(tmp / "syn"), "--seeds", "0", "1", "--epochs", "1", "--out", str(tmp / "out"),
            "--runs", "convnet-rgb", "convnet-flow", "convalstm-flow", "videolstm", "--", *TINY]
    return tmp / "out", argv, experiments.main(argv)


def test_every_run_trains_and_the_tables_hold_their_mean_and_std(tiny_experiment):
    out, _, results = tiny_experiment
    accs = []
    for seed in (0, 1):
        for run in ("convnet-rgb", "convnet-flow", "convalstm-flow", "videolstm"):
            res = json.loads((out / f"seed{seed}" / run / "result.json").read_text())
            assert res["test_accuracy"] == results[seed][run]["test_accuracy"]
        assert json.loads((out / f"seed{seed}" / "videolstm" / "config.json").read_text())["seed"] == seed
        accs.append(results[seed]["videolstm"]["test_accuracy"])
    table = (out / "results.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| ConvALSTM / VideoLSTM"))
    assert row.endswith(f"| - | {np.mean(accs):.3f} ± {np.std(accs, ddof=1):.3f} |")
    assert json.loads((out / "results.json").read_text())["results"]["0"]["videolstm"]["model"] == "videolstm"


def test_the_localization_table_holds_the_runs_own_figures(tiny_experiment):
    """The tiny benchmark has ground truth: the videolstm row's attention ratio and recall cells are the mean and
    std of the two seeds' result.json figures, smoothed and unsmoothed."""
    out, _, _ = tiny_experiment
    loc = [json.loads((out / f"seed{s}" / "videolstm" / "result.json").read_text())["localization"] for s in (0, 1)]
    ratio = [f["attention_in_box"] / f["box_share"] for f in loc]
    raw = [f["recall_unsmoothed"]["0.2"] for f in loc]
    table = (out / "results.md").read_text().split("Localization")[1]
    row = next(line for line in table.splitlines() if line.startswith("| videolstm |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == f"{np.mean(ratio):.3f} ± {np.std(ratio, ddof=1):.3f}"
    assert cells[6] == f"{np.mean(raw):.3f} ± {np.std(raw, ddof=1):.3f}"
    assert any(line.startswith("| the true box at the map's resolution |") for line in
               (out / "results.md").read_text().splitlines())


def test_fusion_is_the_product_of_the_saved_scores(tiny_experiment):
    out, _, results = tiny_experiment
    for seed in (0, 1):
        d = out / f"seed{seed}"
        a, b = np.load(d / "videolstm" / "test_scores.npy"), np.load(d / "convalstm-flow" / "test_scores.npy")
        y = np.load(d / "videolstm" / "test_labels.npy")
        fused = (a / a.sum(1, keepdims=True)) * (b / b.sum(1, keepdims=True))
        assert results[seed]["videolstm+convalstm-flow"]["test_accuracy"] == float((fused.argmax(1) == y).mean())


def test_a_rerun_reuses_finished_runs(tiny_experiment):
    out, argv, results = tiny_experiment
    logs = sorted(out.glob("seed*/*/train.log"))
    before = [p.stat().st_size for p in logs]
    again = experiments.main(argv)
    assert [p.stat().st_size for p in logs] == before          # no training process ran again
    assert again[1]["videolstm"] == results[1]["videolstm"]


def test_a_rerun_with_other_options_is_refused_not_mixed_in(tiny_experiment):
    out, argv, _ = tiny_experiment
    other = [a if a != "1" or argv[i - 1] != "--epochs" else "2" for i, a in enumerate(argv)]
    assert other != argv
    with pytest.raises(RunError, match="seed0.convnet-rgb: this run was made with other options"):
        experiments.main(other)


def test_bad_arguments_are_named(capsys):
    with pytest.raises(SystemExit):
        experiments.parse_args(["--seeds", "0", "0"])
    assert "--seeds: repeated seed" in capsys.readouterr().err
