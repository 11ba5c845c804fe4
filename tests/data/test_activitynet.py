"""ActivityNet in its official layout, written here in that format: activity_net.v1-3.min.json (taxonomy, database
-> id -> subset, duration, annotations with segments in seconds) and v_<id>.mp4 videos in sub-folders; segments
become samples, seconds become decoded frames, and what a hand-edited JSON gets wrong is named entry by entry."""
import json

import numpy as np
import pytest

from tinyalstm.data.activitynet import load_activitynet, read_segment
from tinyalstm.data.datasets import DatasetError
from tinyalstm.data.validation import carve_validation
from tinyalstm.data.video import read_video

from conftest import ANET_TAXONOMY, FPS, anet_entry, write_mp4      # the writers the training tests share


def write_activitynet(root, database=None, taxonomy=ANET_TAXONOMY):
    database = database if database is not None else {
        "aaa": anet_entry("training", 2.0, ((0.2, 1.0), "Surfing"), ((1.2, 1.9), "Archery")),
        "bbb": anet_entry("training", 2.0, ((0.0, 2.0), "Ironing clothes")),
        "ccc": anet_entry("validation", 1.6, ((0.4, 1.2), "Archery")),
        "ddd": anet_entry("testing", 2.0),
    }
    durations = {"aaa": 2.0, "bbb": 2.0, "ccc": 1.6, "ddd": 2.0}
    for i, vid in enumerate(sorted(durations)):
        write_mp4(root / ("videos" if i % 2 else "more/deeper") / f"v_{vid}.mp4", int(durations[vid] * FPS))
    (root / "activity_net.v1-3.min.json").write_text(json.dumps(
        {"version": "VERSION 1.3", "taxonomy": taxonomy, "database": database}))
    return root


def test_segments_are_the_samples_classes_the_taxonomy_leaves(tmp_path):
    root = write_activitynet(tmp_path)
    train = load_activitynet(root, "train")
    assert train.classes == ["Archery", "Ironing clothes", "Surfing"] and train.report.count == 0
    got = [(s.name, train.classes[s.label], s.segment[:2]) for s in train.samples]
    assert got == [("v_aaa/segment0", "Surfing", (0.2, 1.0)), ("v_aaa/segment1", "Archery", (1.2, 1.9)),
                   ("v_bbb/segment0", "Ironing clothes", (0.0, 2.0))]
    assert train.samples[0].path == str(root / "more" / "deeper" / "v_aaa.mp4")
    test = load_activitynet(root, "test")                 # the paper tests on the validation subset
    assert [(s.name, test.classes[s.label]) for s in test.samples] == [("v_ccc/segment0", "Archery")]
    # a validation split never splits one video's segments
    for seed in range(4):
        kept, held = carve_validation(train.samples, 0.5, key=lambda s: s.name, seed=seed)
        assert {s.name.split("/")[0] for s in kept}.isdisjoint({s.name.split("/")[0] for s in held})


def test_seconds_become_the_decoded_frames(tmp_path):
    root = write_activitynet(tmp_path)
    sample = load_activitynet(root, "test").samples[0]     # [0.4, 1.2] s of a 40-frame video at 25 fps
    frames = read_segment(sample, size=16)
    assert len(frames) == 20                               # frames 10 .. 29
    levels = frames.reshape(len(frames), -1).mean(axis=1)
    assert np.allclose(levels, 4 * np.arange(10, 30) + 20, atol=2)
    assert np.array_equal(frames, read_video(sample.path, 16)[10:30])


def test_bad_entries_are_named_and_skipped(tmp_path):
    database = {
        "aaa": anet_entry("training", 2.0, ((1.0, 0.5), "Surfing"), ((0.5, 1.0), "Skydiving"), ((2.5, 3.0), "Archery"),
                      ((0.5, 2.4), "Archery"), ((0.1, 0.9), "Surfing")),
        "bbb": anet_entry("training", 2.0, (("x", 1), "Surfing")),
        "zzz": anet_entry("training", 2.0, ((0.0, 1.0), "Surfing")),
        "yyy": {"duration": 2.0},
        "ccc": anet_entry("validation", 1.6, ((0.4, 1.2), "Archery")),
    }
    root = write_activitynet(tmp_path, database)
    split = load_activitynet(root, "train")
    reasons = dict(split.report.skipped)
    where = "activity_net.v1-3.min.json: database.aaa.annotations"
    assert reasons["v_aaa/segment0"] == f"{where}[0]: segment [1, 0.5]: the end is not after the start"
    assert reasons["v_aaa/segment1"] == f"{where}[1]: unknown label 'Skydiving' (not a class of the taxonomy)"
    assert reasons["v_aaa/segment2"] == f"{where}[2]: segment [2.5, 3] lies outside the video (duration 2 s)"
    assert "expected 'segment': [start, end]" in reasons["v_bbb/segment0"]
    assert reasons["v_zzz/segment0"].startswith("activity_net.v1-3.min.json: database.zzz.annotations[0]: video "
                                                "not found: no v_zzz.<mp4|")
    assert "'subset'" in reasons["v_yyy"]
    assert [(s.name, s.segment[:2]) for s in split.samples] == [("v_aaa/segment3", (0.5, 2.0)),   # end clipped
                                                                ("v_aaa/segment4", (0.1, 0.9))]


def test_a_video_longer_than_its_annotations_say_is_refused_when_decoded(tmp_path):
    root = write_activitynet(tmp_path, {"ccc": anet_entry("validation", 4.0, ((0.4, 1.2), "Archery")),
                                        "aaa": anet_entry("training", 2.0, ((0.2, 1.0), "Surfing"))})
    sample = load_activitynet(root, "test").samples[0]
    with pytest.raises(ValueError, match=r"v_ccc.mp4: the video lasts 1.60 s, the annotations say 4 s"):
        read_segment(sample)


@pytest.mark.parametrize("text, message", [(None, "no annotation file"), ("{not json", "not valid JSON"),
                                           ('{"version": 1}', "no 'database' object")])
def test_unusable_annotation_files_name_the_file(tmp_path, text, message):
    if text is not None:
        (tmp_path / "activity_net.v1-3.min.json").write_text(text)
    with pytest.raises(DatasetError, match=message):
        load_activitynet(tmp_path, "train")


def test_activitynet_trains_and_evaluates_alstm_on_its_segments(activitynet_folder, tmp_path, capsys):
    """python -m tinyalstm.train --dataset activitynet: the segments are decoded, given flow and frame encoders,
    and aLSTM is trained on the training segments and tested on the validation subset's, reporting mAP."""
    from tinyalstm import train
    out = tmp_path / "run"
    res = train.main(["--dataset", "activitynet", "--root", str(activitynet_folder), "--work", str(tmp_path / "work"),
                      "--model", "alstm", "--out", str(out), "--epochs", "2", "--encoder-epochs", "1", "--size", "16",
                      "--frames", "4", "--hidden", "4", "--fc-dim", "6", "--eval-windows", "1"])
    said = capsys.readouterr().out
    assert "v_gone/segment0" in said and "video not found" in said                  # named in the skip report
    labels = np.load(out / "test_labels.npy")
    assert labels.tolist() == [2, 0, 1]            # v0 Surfing, v1 Archery, v2 Ironing clothes (sorted classes)
    scores = np.load(out / "test_scores.npy")
    assert scores.shape == (3, 3) and np.allclose(scores.sum(axis=1), 1.0)        # single-label: a softmax
    from tinyalstm.metrics import average_precision
    assert res["test_map"] == pytest.approx(np.mean([average_precision(scores[:, c], labels == c)
                                                     for c in range(3)]), abs=1e-12)
    assert res["test_accuracy"] == pytest.approx(float((scores.argmax(axis=1) == labels).mean()))
    frames = sorted(p.relative_to(tmp_path / "work" / "frames" / "rgb" / "16px").as_posix()
                    for p in (tmp_path / "work" / "frames" / "rgb" / "16px").rglob("*.npy"))
    assert frames[:3] == ["v_t0/segment0.npy", "v_t0/segment1.npy", "v_t1/segment0.npy"] and len(frames) == 10
    assert len(np.load(tmp_path / "work" / "frames" / "rgb" / "16px" / "v_v0" / "segment0.npy")) == 35  # 0.2-1.6 s
