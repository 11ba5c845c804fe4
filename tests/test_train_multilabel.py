"""Multi-label training end to end: ``--dataset hollywood2`` on real AVI clips written in Hollywood2's layout
(AVIClips/, ClipSets/<Action>_{train,test}.txt with "<clip>  1|-1" lines), through decoding, flow, frame encoders
with the sigmoid loss and the aLSTM models; the reported mAP is recomputed here from the saved scores and the
labels of the lists this test wrote."""
import json

import numpy as np
import pytest

from tinyalstm import train
from tinyalstm.data.hollywood2 import ACTIONS
from tinyalstm.metrics import average_precision

def _args(root, out, model, extra=()):
    return ["--dataset", "hollywood2", "--root", str(root), "--work", str(root.parent / "work"), "--model", model,
            "--out", str(out), "--epochs", "2",
            "--encoder-epochs", "1", "--size", "32", "--frames", "6", "--hidden", "4", "--fc-dim", "6",
            "--eval-windows", "1", "--batch-size", "3", *extra]


def test_hollywood2_trains_alstm_with_the_sigmoid_loss_and_reports_map(hollywood2_folder, tmp_path):
    root, labels = hollywood2_folder
    out = tmp_path / "alstm"
    res = train.main(_args(root, out, "alstm"))
    assert "test_accuracy" not in res and "chance" not in res          # no top-1 accuracy on multi-label clips
    scores, saved = np.load(out / "test_scores.npy"), np.load(out / "test_labels.npy")
    test_clips = sorted(c for c in labels if "test" in c)
    expected = np.array([[a in labels[c] for a in ACTIONS] for c in test_clips], dtype=np.int8)
    assert np.array_equal(saved, expected)                              # the labels of the lists written above
    assert scores.shape == (3, 12) and ((scores > 0) & (scores < 1)).all()
    assert not np.allclose(scores.sum(axis=1), 1.0)                     # independent sigmoids, not a softmax
    ap = [average_precision(scores[:, a], expected[:, a]) for a in range(12)]
    assert res["test_map"] == pytest.approx(np.mean(ap), abs=1e-12)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [sorted(r) for r in rows] == [["epoch", "seconds", "test_loss", "test_map", "train_loss"]] * 2
    assert set(res["convnet"]) == {"rgb", "flow"} and 0 < res["convnet"]["flow"] <= 1   # the baseline's mAP

    # the vanilla LSTM, variant (b) and aLSTM with T = 2N read the same cache; a softmax-only model is refused
    for model, extra in (("lstm", ()), ("alstm-b", ()), ("alstm", ("--input-chunk", "2"))):
        out = tmp_path / f"{model}{''.join(extra)}"
        assert 0 < train.main(_args(root, out, model, extra))["test_map"] <= 1
    assert json.loads((out / "config.json").read_text())["input_chunk"] == 2
    with pytest.raises(SystemExit) as exc:
        train.main(_args(root, tmp_path / "v", "videolstm"))
    assert exc.value.code == 2


def test_the_multilabel_benchmark_trains_and_its_validation_split_holds_out_whole_groups(tmp_path):
    """--dataset synthetic-multilabel reads the generated benchmark with its manifest's classes; its clip names
    carry no group, so the validation split takes the groups from the annotation files, and no group is on both
    sides."""
    from tinyalstm.data.pipeline import load_data
    from tinyalstm.data.synthetic import generate_multilabel
    root = tmp_path / "ml"
    generate_multilabel(root, classes=4, groups=6, clips=3, frames=12, size=32, distractors=1, clutter=2,
                        verbose=False)
    data = load_data("synthetic-multilabel", root, 1, ["flow", "rgb"], work=tmp_path / "work", size=32,
                     encoder_epochs=1, validation=0.5, log=lambda s: None)
    group = {p.stem: json.loads(p.read_text())["group"] for p in (root / "annotations").glob("*.json")}
    train_groups, val_groups = ({group[k] for k, _ in subset} for subset in (data.train, data.val))
    assert data.multilabel and data.classes == ["MoveLeft", "MoveRight", "MoveUp", "MoveDown"]
    assert len(train_groups) == 2 and len(val_groups) == 2 and not train_groups & val_groups   # 4 training groups
    assert all(isinstance(label, tuple) for _, label in data.train + data.val + data.test)
