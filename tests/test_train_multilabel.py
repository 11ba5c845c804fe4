"""Multi-label training end to end: ``--dataset hollywood2`` on real AVI clips written in Hollywood2's layout
(AVIClips/, ClipSets/<Action>_{train,test}.txt with "<clip>  1|-1" lines), through decoding, flow, frame encoders
with the sigmoid loss and the aLSTM models; the reported mAP is recomputed here from the saved scores and the
labels of the lists this test wrote."""
import json

import numpy as np
import pytest

from tinyalstm import train
from tinyalstm.data import synthetic
from tinyalstm.data.hollywood2 import ACTIONS
from tinyalstm.metrics import average_precision

# each motion class of the benchmark stands for four of the 12 actions, so every clip carries four labels and every
# action has positive clips in both lists
MOTIONS = {"MoveLeft": ACTIONS[0:4], "MoveRight": ACTIONS[4:8], "MoveUp": ACTIONS[8:12]}


def _hollywood2(root, train_groups=(1, 2), test_groups=(3,)):
    base = root / "Hollywood2"
    (base / "ClipSets").mkdir(parents=True)
    (base / "AVIClips").mkdir()
    labels = {}
    for subset, groups in (("train", train_groups), ("test", test_groups)):
        n = 0
        for motion, actions in MOTIONS.items():
            for g in groups:
                n += 1
                clip = f"actioncliptrain{n:05d}" if subset == "train" else f"actioncliptest{n:05d}"
                frames, _ = synthetic.render_video(motion, g, 1, frames=12, size=32, distractors=1, clutter=2,
                                                   classes=list(MOTIONS))
                synthetic.write_avi(base / "AVIClips" / f"{clip}.avi", frames)
                labels[clip] = set(actions)
        for action in ACTIONS:
            clips = [c for c in labels if subset in c]
            (base / "ClipSets" / f"{action}_{subset}.txt").write_text(
                "".join(f"{c}  {1 if action in labels[c] else -1}\n" for c in clips))
        (base / "ClipSets" / f"actions_{subset}.txt").write_text("not a class list\n")
    return labels


def _args(root, out, model, extra=()):
    return ["--dataset", "hollywood2", "--root", str(root), "--work", str(root.parent / "work"), "--model", model,
            "--out", str(out), "--epochs", "2",
            "--encoder-epochs", "1", "--size", "32", "--frames", "6", "--hidden", "4", "--fc-dim", "6",
            "--eval-windows", "1", "--batch-size", "3", *extra]


def test_hollywood2_trains_alstm_with_the_sigmoid_loss_and_reports_map(tmp_path):
    labels = _hollywood2(tmp_path / "hoha2")
    out = tmp_path / "alstm"
    res = train.main(_args(tmp_path / "hoha2", out, "alstm"))
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
        assert 0 < train.main(_args(tmp_path / "hoha2", out, model, extra))["test_map"] <= 1
    assert json.loads((out / "config.json").read_text())["input_chunk"] == 2
    with pytest.raises(SystemExit) as exc:
        train.main(_args(tmp_path / "hoha2", tmp_path / "v", "videolstm"))
    assert exc.value.code == 2
