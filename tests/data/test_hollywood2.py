"""Hollywood2 in its distributed layout, written here in that format: ClipSets/<Action>_{train,test}.txt with
"<clip>  1|-1" lines beside scene sets and combined lists that are not classes, AVIClips/*.avi; multi-label
samples, and what hand-made lists get wrong, named by file and line."""
import numpy as np
import pytest

from tinyalstm.data.datasets import DatasetError, is_multilabel
from tinyalstm.data.hollywood2 import ACTIONS, load_hollywood2
from tinyalstm.metrics import label_array

TRAIN = {"actioncliptrain00001": {"Kiss", "HugPerson"}, "actioncliptrain00002": {"Run"},
         "actioncliptrain00003": {"DriveCar", "GetOutCar"}}
TEST = {"actioncliptest00001": {"AnswerPhone"}, "actioncliptest00002": {"SitDown", "StandUp"}}


def _write(root, inner=True):
    base = root / "Hollywood2" if inner else root
    (base / "ClipSets").mkdir(parents=True)
    (base / "AVIClips").mkdir()
    for subset, clips in (("train", TRAIN), ("test", TEST)):
        for action in ACTIONS:
            lines = [f"{c}  {'1' if action in acts else '-1'}" for c, acts in clips.items()]
            (base / "ClipSets" / f"{action}_{subset}.txt").write_text("\n".join(lines) + "\n")
        (base / "ClipSets" / f"actions_{subset}.txt").write_text("".join(f"{c}  1\n" for c in clips))
        (base / "ClipSets" / f"EXT-House_{subset}.txt").write_text("".join(f"{c}  -1\n" for c in clips))
        for c in clips:
            (base / "AVIClips" / f"{c}.avi").write_bytes(b"RIFF")
    return base


@pytest.mark.parametrize("inner", [True, False])
def test_the_12_actions_and_multi_label_clips(tmp_path, inner):
    _write(tmp_path, inner)
    train = load_hollywood2(tmp_path if inner else tmp_path, "train")
    assert train.classes == list(ACTIONS) and len(ACTIONS) == 12 and train.report.count == 0
    got = {s.name: {ACTIONS[a] for a in s.label} for s in train.samples}
    assert got == TRAIN                                   # scene sets and combined lists did not add classes
    test = load_hollywood2(tmp_path, "test")
    assert is_multilabel([s.label for s in test.samples])
    Y = label_array([s.label for s in test.samples], 12)
    assert Y.shape == (2, 12) and Y.sum() == 3
    assert Y[1, ACTIONS.index("SitDown")] == 1 and Y[1, ACTIONS.index("StandUp")] == 1


def test_bad_lists_are_named_by_file_and_line(tmp_path):
    base = _write(tmp_path)
    kiss = base / "ClipSets" / "Kiss_train.txt"
    kiss.write_text(kiss.read_text() + "actioncliptest00001  1\nactioncliptrain00002  2\n"
                    "actioncliptrain00001  -1\nsomething\n")
    run = base / "ClipSets" / "Run_train.txt"                # one clip left out of one action's list
    run.write_text("".join(ln + "\n" for ln in run.read_text().splitlines() if "00003" not in ln))
    (base / "AVIClips" / "actioncliptrain00002.avi").unlink()
    split = load_hollywood2(tmp_path, "train")

    def named(name, text):
        return any(text in reason for n, reason in split.report.skipped if n == name)
    assert named("actioncliptest00001", "Kiss_train.txt, line 4: 'actioncliptest00001': a test clip in a train list")
    assert named("actioncliptrain00002", "line 5: expected 1 (the action happens) or -1")
    assert named("actioncliptrain00001", "line 6: actioncliptrain00001 is listed twice (first at line 1)")
    assert named("something", "line 7: expected '<clip> 1' or '<clip> -1'")
    assert named("actioncliptrain00003", "not in the lists of Run")
    assert named("actioncliptrain00002", "video not found")
    assert [s.name for s in split.samples] == ["actioncliptrain00001"]
    (base / "ClipSets" / "Eat_test.txt").unlink()
    with pytest.raises(DatasetError, match="Eat_test.txt not found"):
        load_hollywood2(tmp_path, "test")
    with pytest.raises(DatasetError, match="no ClipSets/ folder"):
        load_hollywood2(tmp_path / "Hollywood2" / "AVIClips")
    assert np.array_equal(label_array([(), (0, 11)], 12).sum(axis=1), [0, 2])
    assert label_array([3, 1], 12).tolist() == [3, 1] and not is_multilabel([3, 1])
