"""Attention measured against ground truth: box rasterisation on the map grid, mass and pointing on hand-made maps,
the trivial tubes, and ``python -m tinyalstm.localize`` on a tiny trained benchmark run, whose recall is recomputed
here from tubes.json and the annotation files with a tube IoU written in this file."""
import json

import numpy as np
import pytest

from tinyalstm import localize, train
from tinyalstm.checks import RunError
from tinyalstm.data import synthetic
from tinyalstm.experiment.localization import attention_in_box, box_coverage, trivial_tubes
from tinyalstm.localization.tubes import Tube


def test_box_coverage_by_hand():
    cov = box_coverage([[0, 0, 16, 8], [4, 4, 12, 12]], (16, 16), 2)     # 2 x 2 cells of 8 x 8 pixels
    np.testing.assert_allclose(cov[0], [[1, 1], [0, 0]])                  # the whole top row
    np.testing.assert_allclose(cov[1], [[0.25, 0.25], [0.25, 0.25]])      # a centred 8 x 8 box: a quarter of each


def test_attention_in_box_uniform_and_peaked():
    boxes = np.array([[4, 4, 12, 12]] * 2, dtype=float)
    uniform = np.full((2, 4, 4), 1 / 16)
    mass, share, hit = attention_in_box(uniform, boxes, (16, 16))
    np.testing.assert_allclose(mass, share)                               # a uniform map puts the box's share in it
    np.testing.assert_allclose(share, 64 / 256)
    peaked = np.zeros((2, 4, 4))
    peaked[0, 1, 1] = 1.0                                                  # cell centre (6, 6): inside
    peaked[1, 0, 3] = 1.0                                                  # cell centre (14, 2): outside
    mass, _, hit = attention_in_box(peaked, boxes, (16, 16))
    np.testing.assert_allclose(mass, [1.0, 0.0])
    assert hit.tolist() == [True, False]


def test_trivial_tubes():
    gt = {"v": [Tube([2, 3], [[0, 0, 10, 20], [0, 0, 10, 20]])]}
    t = trivial_tubes(gt, {"v": 5}, {"v": (40, 20)})
    assert t["whole"]["v"].frames.tolist() == list(range(5))
    np.testing.assert_allclose(t["whole"]["v"].boxes[0], [0, 0, 20, 40])
    np.testing.assert_allclose(t["centre"]["v"].boxes[0], [5, 10, 15, 30])   # half the width and height, centred


def _iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def test_localize_cli_on_a_tiny_trained_run(tmp_path, capsys):
    root = tmp_path / "syn"
    synthetic.generate(root, classes=3, groups=3, clips=1, frames=12, size=32, distractors=1, clutter=2)
    out = tmp_path / "run"
    train.main(["--root", str(root), "--out", str(out), "--epochs", "1", "--encoder-epochs", "1", "--size", "32",
                "--frames", "6", "--hidden", "3", "--fc-dim", "6", "--eval-windows", "1", "--rgb-encoder", "scratch"])
    figures = localize.main(["--checkpoint", str(out / "checkpoint.npz"), "--theta", "33"])
    assert "R@0.1" in capsys.readouterr().out
    tubes = json.loads((out / "tubes.json").read_text())
    saved = json.loads((out / "localization.json").read_text())
    assert saved["recall"] == figures["recall"] and len(tubes) == figures["videos"] > 0
    assert sum(len(e["frames"]) for e in tubes) > 0, "no box at all: the recomputation below would test nothing"
    overlays = sorted(out.glob("localization_*.png"))
    assert 1 <= len(overlays) <= 3 and all(p.stat().st_size > 1000 for p in overlays)   # one per class shown
    # recompute recall from the files alone: tubes.json and the benchmark's annotations
    ious = []
    for entry in tubes:
        gt = json.loads((root / "annotations" / f"{entry['video'].split('/')[1]}.json").read_text())
        start, end = gt["action"]
        mine = dict(zip(entry["frames"], entry["boxes"]))
        truth = {f: gt["actor"]["boxes"][f] for f in range(start, end)}
        union = set(mine) | set(truth)
        ious.append(sum(_iou(mine[f], truth[f]) for f in set(mine) & set(truth)) / len(union))
        assert set(entry["scores"]) == set(gt_classes(root)) and all(0 <= f < gt["num_frames"] for f in mine)
    for t, r in figures["recall"].items():
        assert r == pytest.approx(float(np.mean(np.array(ious) >= float(t))))
    # the box's share outside the action, from the annotation files: its area inside the 32 x 32 frame
    shares = []
    for entry in tubes:
        gt = json.loads((root / "annotations" / f"{entry['video'].split('/')[1]}.json").read_text())
        start, end = gt["action"]
        for f, (x1, y1, x2, y2) in enumerate(gt["actor"]["boxes"]):
            if not start <= f < end:
                shares.append(max(0, min(x2, 32) - max(x1, 0)) * max(0, min(y2, 32) - max(y1, 0)) / 32 ** 2)
    assert figures["box_share_outside"] == pytest.approx(float(np.mean(shares)))
    assert 0 <= figures["attention_in_box_outside"] <= 1 and 0 <= figures["pointing_outside"] <= 1


def gt_classes(root):
    return [line.split()[1] for line in (root / "ucfTrainTestlist" / "classInd.txt").read_text().split("\n")
            if line.strip()]


def test_localize_names_a_missing_checkpoint_and_a_bad_threshold(tmp_path):
    with pytest.raises(RunError, match="file not found"):
        localize.main(["--checkpoint", str(tmp_path / "none.npz")])
    with pytest.raises(SystemExit):
        localize.main(["--checkpoint", str(tmp_path / "none.npz"), "--theta", "300"])


def test_localize_measures_alstm_temporal_attention(tmp_path, capsys):
    root = tmp_path / "syn"
    synthetic.generate(root, classes=3, groups=3, clips=1, frames=12, size=32, distractors=1, clutter=2)
    out = tmp_path / "alstm"
    train.main(["--root", str(root), "--model", "alstm", "--out", str(out), "--epochs", "1", "--encoder-epochs",
                "1", "--size", "32", "--frames", "6", "--hidden", "3", "--eval-windows", "1", "--rgb-encoder",
                "scratch"])
    figures = localize.main(["--checkpoint", str(out / "checkpoint.npz")])
    assert "temporal attention on the action interval" in capsys.readouterr().out
    assert 0 <= figures["temporal_mass_in_interval"] <= 1 and 0 < figures["interval_share"] <= 1
    assert figures["temporal_mass_over_share"] <= figures["temporal_mass_over_share_upper"] + 1e-9
    # 12-frame videos in 6-frame windows: 2 windows per test video
    assert figures["windows"] == 2 * json.loads((out / "config.json").read_text())["test_videos"]
    shown = sorted(out.glob("highlight_*.png"))                           # aLSTM Fig. 2, one per class shown
    assert 1 <= len(shown) <= 3 and all(p.stat().st_size > 1000 for p in shown)


def test_oracle_maps_attend_to_the_box_alone():
    from tinyalstm.experiment.localization import oracle_maps
    maps = oracle_maps([[0, 0, 8, 8], [4, 4, 12, 12]], (16, 16), 2)
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), 1.0)
    np.testing.assert_allclose(maps[0], [[1, 0], [0, 0]])
    mass, share, _ = attention_in_box(maps, np.array([[0, 0, 8, 8], [4, 4, 12, 12]], float), (16, 16))
    np.testing.assert_allclose(mass, [1.0, 0.25])         # a box on a quarter of 4 cells keeps a quarter of them


def test_ground_truth_is_clipped_to_the_frame_and_boxes_outside_it_dropped():
    from tinyalstm.experiment.localization import clip_to_frame
    tube = Tube([0, 1, 2], [[-4, 2, 10, 10], [2, 2, 8, 8], [40, 40, 50, 50]], label=1)
    (clipped,), notes = clip_to_frame([tube], (32, 32))
    assert clipped.frames.tolist() == [0, 1] and clipped.label == 1
    np.testing.assert_allclose(clipped.boxes, [[0, 2, 10, 10], [2, 2, 8, 8]])
    assert notes == ["1 ground-truth boxes clipped to the 32x32 frame",
                     "1 ground-truth boxes outside the 32x32 frame dropped"]
    assert clip_to_frame([Tube([0], [[40, 40, 50, 50]])], (32, 32))[0] == []       # nothing left: a named skip
    assert clip_to_frame([Tube([0], [[1, 1, 5, 5]])], (32, 32))[1] == []           # inside: untouched, no note
