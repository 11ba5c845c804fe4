"""tinyalstm.data.datasets: tiny UCF101 and HMDB51 trees in the official layouts, with real AVI files.

Every video's first frame has green level 30 + 50 * (its expected label), written from the tables below (not
from the loader), so decoding a sample shows whether the loader gave it the right label.
"""
import shutil

import imageio_ffmpeg
import numpy as np
import pytest

from tinyalstm.data import datasets, video
from tinyalstm.data.datasets import DatasetError, Sample, SkipReport, SplitLineError

# classInd.txt order (case-insensitive alphabetical, as the real file), which Python's sorted() does not follow:
# sorted() puts "HammerThrow" before "Hammering".
UCF_CLASSES = ["ApplyEyeMakeup", "Hammering", "HammerThrow", "HandstandPushups"]
# (folder on disk, file name prefix): the real archive's HandstandPushups folder holds v_HandStandPushups_* files
UCF_FILES = {"ApplyEyeMakeup": "ApplyEyeMakeup", "Hammering": "Hammering", "HammerThrow": "HammerThrow",
             "HandstandPushups": "HandStandPushups"}
HMDB_CLASSES = ["brush_hair", "climb", "climb_stairs", "kick_ball"]   # sorted by hand
# HMDB51 set ids per split for the three videos of each class: 1 train, 2 test, 0 neither
HMDB_IDS = {1: [1, 2, 0], 2: [2, 1, 1]}


def green_video(path, label, n=4):
    writer = imageio_ffmpeg.write_frames(str(path), (16, 16), fps=25, codec="mpeg4", macro_block_size=1,
                                         ffmpeg_log_level="error")
    writer.send(None)
    for _ in range(n):
        writer.send(np.full((16, 16, 3), (100, 30 + 50 * label, 100), np.uint8))
    writer.close()


def decoded_label(path):
    g = video.read_windows(path, np.array([0]))[0, ..., 1].mean()
    label = int(round((g - 30) / 50))
    assert abs(g - 30 - 50 * label) < 8, f"green level {g} is no label's"
    return label


def ucf_entry(cls, g):
    return f"{cls}/v_{UCF_FILES[cls]}_g{g:02d}_c01.avi"


@pytest.fixture(scope="session")
def ucf_pristine(tmp_path_factory):
    """root/UCF-101/<Class>/v_<Class>_gXX_c01.avi (g01 test, g08 + g09 train, g10 in no list) and
    root/ucfTrainTestlist/ with CRLF endings, blank lines and trailing spaces."""
    root = tmp_path_factory.mktemp("ucf")
    src = root / "src"
    src.mkdir()
    for label, cls in enumerate(UCF_CLASSES):
        green_video(src / f"{label}.avi", label)
        (root / "UCF-101" / cls).mkdir(parents=True)
        for g in (1, 8, 9, 10):
            shutil.copy(src / f"{label}.avi", root / "UCF-101" / ucf_entry(cls, g))
    shutil.rmtree(src)
    lists = root / "ucfTrainTestlist"
    lists.mkdir()
    crlf = lambda lines: "\r\n".join(lines) + "\r\n"   # noqa: E731 (the real lists end lines with CRLF)
    (lists / "classInd.txt").write_bytes(crlf(f"{i + 1} {c}" for i, c in enumerate(UCF_CLASSES)).encode())
    train = [f"{ucf_entry(c, g)} {i + 1}  " for i, c in enumerate(UCF_CLASSES) for g in (8, 9)]
    train.insert(3, "")                                   # a blank line
    (lists / "trainlist01.txt").write_bytes(crlf(train).encode())
    (lists / "testlist01.txt").write_bytes(crlf(ucf_entry(c, 1) for c in UCF_CLASSES).encode())
    # split 2 swaps roles, written with plain LF
    (lists / "trainlist02.txt").write_text("".join(f"{ucf_entry(c, 1)} {i + 1}\n" for i, c in enumerate(UCF_CLASSES)))
    (lists / "testlist02.txt").write_text("".join(f"{ucf_entry(c, 8)}\n" for c in UCF_CLASSES))
    return root


@pytest.fixture
def ucf(ucf_pristine, tmp_path):
    """A fresh copy that a test may damage."""
    return shutil.copytree(ucf_pristine, tmp_path / "ucf")


EXPECTED_UCF_TRAIN = [(ucf_entry(c, g), i) for i, c in enumerate(UCF_CLASSES) for g in (8, 9)]
EXPECTED_UCF_TEST = [(ucf_entry(c, 1), i) for i, c in enumerate(UCF_CLASSES)]


def pairs(split):
    return [(s.name, s.label) for s in split]


# ---------------------------------------------------------------------------------------------------------------
# UCF101
# ---------------------------------------------------------------------------------------------------------------

def test_ucf101_train_and_test_lists(ucf):
    train = datasets.load_ucf101(ucf, split=1, subset="train")
    test = datasets.load_ucf101(ucf, split=1, subset="test")
    assert train.classes == UCF_CLASSES and test.classes == UCF_CLASSES
    assert pairs(train) == EXPECTED_UCF_TRAIN and pairs(test) == EXPECTED_UCF_TEST
    assert train.report.count == 0 and test.report.count == 0
    for s in list(train) + list(test):
        assert isinstance(s, Sample)
        assert s.path == str(ucf / "UCF-101" / s.name)
        assert decoded_label(s.path) == s.label


def test_ucf101_label_order_is_classind_not_sorted(ucf):
    train = datasets.load_ucf101(ucf)
    hammer_throw = [s for s in train if s.name.startswith("HammerThrow/")]
    assert {s.label for s in hammer_throw} == {2}        # classInd.txt line 3; sorted() would say 1
    assert all(decoded_label(s.path) == 2 for s in hammer_throw)


def test_ucf101_second_split_plain_lf(ucf):
    train = datasets.load_ucf101(ucf, split=2, subset="train")
    test = datasets.load_ucf101(ucf, split=2, subset="test")
    assert pairs(train) == EXPECTED_UCF_TEST
    assert pairs(test) == [(ucf_entry(c, 8), i) for i, c in enumerate(UCF_CLASSES)]


def test_ucf101_handstand_folder_spelled_either_way(ucf):
    # the lists say HandstandPushups/v_HandStandPushups_...; a copy of the dataset names the folder HandStandPushups
    (ucf / "UCF-101" / "HandstandPushups").rename(ucf / "UCF-101" / "HandStandPushups")
    train = datasets.load_ucf101(ucf, on_error="raise")
    assert pairs(train) == EXPECTED_UCF_TRAIN
    hs = [s for s in train if s.label == 3]
    assert [s.path for s in hs] == [str(ucf / "UCF-101" / "HandStandPushups" / f"v_HandStandPushups_g{g:02d}_c01.avi")
                                    for g in (8, 9)]
    assert all(decoded_label(s.path) == 3 for s in hs)


def test_ucf101_list_spelling_the_folder_differently(ucf):
    with open(ucf / "ucfTrainTestlist" / "trainlist01.txt", "a") as f:
        f.write("HandStandPushups/v_HandStandPushups_g10_c01.avi 4\n")
    train = datasets.load_ucf101(ucf, on_error="raise")
    assert train[-1].label == 3 and train[-1].path == str(ucf / "UCF-101" / "HandstandPushups" /
                                                          "v_HandStandPushups_g10_c01.avi")


def test_ucf101_root_variants(ucf):
    inside = datasets.load_ucf101(ucf / "UCF-101")       # root = the video folder, lists beside it
    explicit = datasets.load_ucf101(videos_dir=ucf / "UCF-101", splits_dir=ucf / "ucfTrainTestlist")
    shutil.move(str(ucf / "ucfTrainTestlist"), str(ucf / "UCF-101" / "ucfTrainTestlist"))
    lists_inside = datasets.load_ucf101(ucf / "UCF-101")
    for split in (inside, explicit, lists_inside):
        assert pairs(split) == EXPECTED_UCF_TRAIN


def test_ucf101_missing_pieces_are_named(ucf):
    with pytest.raises(DatasetError, match="split list not found: .*trainlist03.txt"):
        datasets.load_ucf101(ucf, split=3)
    shutil.rmtree(ucf / "UCF-101")
    with pytest.raises(DatasetError, match=r"UCF101 videos \(UCF-101/.*not found; looked in: .*UCF-101"):
        datasets.load_ucf101(ucf)
    shutil.rmtree(ucf / "ucfTrainTestlist")
    with pytest.raises(DatasetError, match=r"ucfTrainTestlist/ with classInd.txt\) not found"):
        datasets.load_ucf101(ucf)
    with pytest.raises(DatasetError, match="pass root"):
        datasets.load_ucf101()


@pytest.mark.parametrize("bad", [dict(split=4), dict(subset="val"), dict(on_error="ignore")])
def test_ucf101_bad_arguments(ucf, bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        datasets.load_ucf101(ucf, **bad)


# (list, line appended, words the error must contain); the appended line becomes line 10 of trainlist01.txt
# (8 entries + 1 blank line before it) and line 5 of testlist01.txt
UCF_BAD_LINES = [
    ("train", "ApplyEyeMakeup/v_ApplyEyeMakeup_g99_c01.avi 1", "file not found"),
    ("train", "Zumba/v_Zumba_g01_c01.avi 1", "unknown class 'Zumba'"),
    ("train", "ApplyEyeMakeup/v_ApplyEyeMakeup_g10_c01.avi 5", "label 5 out of range 1..4"),
    ("train", "ApplyEyeMakeup/v_ApplyEyeMakeup_g10_c01.avi 0", "label 0 out of range"),
    ("train", "Hammering/v_Hammering_g10_c01.avi 3", "label 3 is 'HammerThrow' in classInd.txt, but the file is in "
                                                     "folder 'Hammering'"),
    ("train", "ApplyEyeMakeup/v_ApplyEyeMakeup_g10_c01.avi", "expected '<Class>/<file>.avi <label>'"),
    ("train", "ApplyEyeMakeup/v_ApplyEyeMakeup_g10_c01.avi one", "label 'one' is not an integer"),
    ("train", "v_ApplyEyeMakeup_g10_c01.avi 1", "expected '<Class>/<file>.avi <label>'"),
    ("train", "a b c", "expected"),
    ("test", "Hammering/v_Hammering_g10_c01.avi 1", "label 1 is 'ApplyEyeMakeup'"),
    ("test", "Hammering/v_Hammering_g10_c01.avi 2 x", "expected '<Class>/<file>.avi'"),
    ("test", "Missing/v_Missing_g01_c01.avi", "unknown class"),
]


@pytest.mark.parametrize("subset, line, problem", UCF_BAD_LINES)
def test_ucf101_bad_line_raises_with_file_and_line(ucf, subset, line, problem):
    list_file = ucf / "ucfTrainTestlist" / f"{subset}list01.txt"
    with open(list_file, "a", newline="") as f:
        f.write(line + "\r\n")
    lineno = 10 if subset == "train" else 5
    with pytest.raises(SplitLineError) as e:
        datasets.load_ucf101(ucf, subset=subset, on_error="raise")
    assert str(e.value).startswith(f"{list_file}, line {lineno}: ")
    assert problem in str(e.value) and e.value.line == lineno


@pytest.mark.parametrize("subset, line, problem", UCF_BAD_LINES)
def test_ucf101_bad_line_skipped_into_the_report(ucf, subset, line, problem):
    list_file = ucf / "ucfTrainTestlist" / f"{subset}list01.txt"
    with open(list_file, "a") as f:
        f.write(line + "\n")
    got = datasets.load_ucf101(ucf, subset=subset)        # on_error="skip" is the default
    assert pairs(got) == (EXPECTED_UCF_TRAIN if subset == "train" else EXPECTED_UCF_TEST)
    assert got.report.count == 1 and got.report.names == [line.split()[0]]
    assert problem in got.report.reasons[0] and f"{subset}list01.txt, line" in got.report.reasons[0]
    assert line.split()[0] in got.report.summary() and "1 skipped" in got.report.summary()


def test_ucf101_many_bad_lines_collected(ucf):
    bad = [line for subset, line, _ in UCF_BAD_LINES if subset == "train"]
    with open(ucf / "ucfTrainTestlist" / "trainlist01.txt", "a") as f:
        f.write("\n".join(bad) + "\n")
    got = datasets.load_ucf101(ucf)
    assert pairs(got) == EXPECTED_UCF_TRAIN
    assert got.report.count == len(bad) and got.report.names == [b.split()[0] for b in bad]
    lines = [int(r.split(", line ")[1].split(":")[0]) for r in got.report.reasons]
    assert lines == list(range(10, 10 + len(bad)))


@pytest.mark.parametrize("content, lineno, problem", [
    ("1 ApplyEyeMakeup\nx Hammering\n", 2, "expected '<index> <ClassName>'"),
    ("1 ApplyEyeMakeup\n\n2 ApplyEyeMakeup\n", 3, "duplicate"),
    ("1 ApplyEyeMakeup Extra\n", 1, "expected"),
])
def test_ucf101_bad_classind_always_raises(ucf, content, lineno, problem):
    path = ucf / "ucfTrainTestlist" / "classInd.txt"
    path.write_text(content)
    with pytest.raises(SplitLineError, match=problem) as e:
        datasets.load_ucf101(ucf, on_error="skip")        # a wrong class list would mislabel everything
    assert str(e.value).startswith(f"{path}, line {lineno}:")


def test_ucf101_classind_gap_raises(ucf):
    path = ucf / "ucfTrainTestlist" / "classInd.txt"
    path.write_text("1 ApplyEyeMakeup\n3 Hammering\n")
    with pytest.raises(DatasetError, match=r"classInd.txt: class indices must be 1..N"):
        datasets.load_ucf101(ucf)


def test_ucf101_byte_order_mark(ucf):
    path = ucf / "ucfTrainTestlist" / "classInd.txt"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert datasets.load_ucf101(ucf, on_error="raise").classes == UCF_CLASSES


# ---------------------------------------------------------------------------------------------------------------
# HMDB51
# ---------------------------------------------------------------------------------------------------------------

def hmdb_name(cls, k):
    return f"Some_Movie_{cls}_f_cm_np1_fr_med_{k}.avi"


@pytest.fixture(scope="session")
def hmdb_pristine(tmp_path_factory):
    """root/hmdb51_org/<class>/<name>.avi, root/testTrainMulti_7030_splits/<class>_test_split{1,2}.txt."""
    root = tmp_path_factory.mktemp("hmdb")
    splits = root / "testTrainMulti_7030_splits"
    splits.mkdir()
    for label, cls in reversed(list(enumerate(HMDB_CLASSES))):    # creation order must not matter
        folder = root / "hmdb51_org" / cls
        folder.mkdir(parents=True)
        green_video(folder / hmdb_name(cls, 0), label)
        for k in (1, 2):
            shutil.copy(folder / hmdb_name(cls, 0), folder / hmdb_name(cls, k))
        for split, ids in HMDB_IDS.items():
            text = "".join(f"{hmdb_name(cls, k)} {i} \r\n" for k, i in enumerate(ids))  # the real files' spacing
            (splits / f"{cls}_test_split{split}.txt").write_bytes(text.encode())
    return root


@pytest.fixture
def hmdb(hmdb_pristine, tmp_path):
    return shutil.copytree(hmdb_pristine, tmp_path / "hmdb")


def expected_hmdb(split, set_id):
    return [(hmdb_name(c, k), label) for label, c in enumerate(HMDB_CLASSES)
            for k, i in enumerate(HMDB_IDS[split]) if i == set_id]


@pytest.mark.parametrize("split", [1, 2])
def test_hmdb51_splits(hmdb, split):
    train = datasets.load_hmdb51(hmdb, split=split, subset="train")
    test = datasets.load_hmdb51(hmdb, split=split, subset="test")
    assert train.classes == HMDB_CLASSES
    assert pairs(train) == expected_hmdb(split, 1) and pairs(test) == expected_hmdb(split, 2)
    for s in list(train) + list(test):
        assert s.path == str(hmdb / "hmdb51_org" / HMDB_CLASSES[s.label] / s.name)
        assert decoded_label(s.path) == s.label


def test_hmdb51_root_variants(hmdb):
    explicit = datasets.load_hmdb51(videos_dir=hmdb / "hmdb51_org", splits_dir=hmdb / "testTrainMulti_7030_splits")
    for cls in HMDB_CLASSES:                              # class folders straight under root
        shutil.move(str(hmdb / "hmdb51_org" / cls), str(hmdb / cls))
    (hmdb / "hmdb51_org").rmdir()
    flat = datasets.load_hmdb51(hmdb)
    assert pairs(explicit) == pairs(flat) == expected_hmdb(1, 1)
    assert flat[0].path == str(hmdb / "brush_hair" / hmdb_name("brush_hair", 0))


def test_hmdb51_missing_pieces_are_named(hmdb):
    with pytest.raises(DatasetError, match=r"_test_split3.txt\) not found"):
        datasets.load_hmdb51(hmdb, split=3)
    shutil.rmtree(hmdb / "hmdb51_org")
    with pytest.raises(DatasetError, match=r"HMDB51 videos \(hmdb51_org/.*not found; looked in: .*hmdb51_org"):
        datasets.load_hmdb51(hmdb)
    shutil.rmtree(hmdb / "testTrainMulti_7030_splits")
    with pytest.raises(DatasetError, match="testTrainMulti_7030_splits"):
        datasets.load_hmdb51(hmdb)


# lines appended to climb_test_split1.txt (3 good lines before: the new one is line 4)
HMDB_BAD_LINES = [
    ("not_there.avi 1", "file not found"),
    (f"{hmdb_name('climb', 0)} 3", "set id 3 out of range"),
    (f"{hmdb_name('climb', 0)} -1", "set id -1 out of range"),
    (f"{hmdb_name('climb', 0)}", "expected '<name>.avi <0|1|2>'"),
    (f"{hmdb_name('climb', 0)} 1 2", "expected"),
    (f"{hmdb_name('climb', 0)} one", "expected"),
    ("climb/x.avi 1", "expected"),
]


@pytest.mark.parametrize("line, problem", HMDB_BAD_LINES)
def test_hmdb51_bad_line(hmdb, line, problem):
    split_file = hmdb / "testTrainMulti_7030_splits" / "climb_test_split1.txt"
    with open(split_file, "a") as f:
        f.write(line + "\n")
    with pytest.raises(SplitLineError) as e:
        datasets.load_hmdb51(hmdb, on_error="raise")
    assert str(e.value).startswith(f"{split_file}, line 4: ") and problem in str(e.value)
    got = datasets.load_hmdb51(hmdb)
    assert pairs(got) == expected_hmdb(1, 1)
    assert got.report.names == [line.split()[0]] and problem in got.report.reasons[0]
    assert "climb_test_split1.txt, line 4" in got.report.reasons[0]


def test_hmdb51_unknown_class(hmdb):
    # a split file for a class that has no video folder: each of its train videos is skipped, saying why
    split_file = hmdb / "testTrainMulti_7030_splits" / "zumba_test_split1.txt"
    split_file.write_text("a.avi 1\nb.avi 2\nc.avi 1\n")
    got = datasets.load_hmdb51(hmdb)
    assert got.classes == HMDB_CLASSES + ["zumba"]
    assert pairs(got) == expected_hmdb(1, 1)
    assert got.report.names == ["a.avi", "c.avi"]
    assert all("class folder not found" in r and "zumba" in r for r in got.report.reasons)
    assert "line 3" in got.report.reasons[1]
    with pytest.raises(SplitLineError, match=r"zumba_test_split1.txt, line 1: class folder not found"):
        datasets.load_hmdb51(hmdb, on_error="raise")


def test_hmdb51_unused_videos_are_not_required(hmdb):
    # set id 0 videos belong to neither subset: deleting one must not produce a skip
    (hmdb / "hmdb51_org" / "climb" / hmdb_name("climb", 2)).unlink()
    assert datasets.load_hmdb51(hmdb, split=1).report.count == 0


# ---------------------------------------------------------------------------------------------------------------
# a decoding pass over a split that meets damaged videos
# ---------------------------------------------------------------------------------------------------------------

def test_iter_decoded_skips_bad_videos_and_reports(ucf, tmp_path):
    train = datasets.load_ucf101(ucf)
    good = train.samples
    rng = np.random.default_rng(0)
    noisy = tmp_path / "noisy.avi"
    writer = imageio_ffmpeg.write_frames(str(noisy), (64, 48), fps=25, codec="mpeg4", macro_block_size=1,
                                         ffmpeg_log_level="error")
    writer.send(None)
    for _ in range(30):
        writer.send(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    writer.close()
    data = noisy.read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])
    (tmp_path / "random.avi").write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    (tmp_path / "empty.avi").write_bytes(b"")
    bad = [Sample(str(tmp_path / n), 0, n) for n in ["random.avi", "empty.avi", "gone.avi"]]
    damaged = Sample(str(tmp_path / "cut.avi"), 1, "cut.avi")
    samples = [good[0], bad[0], good[1], bad[1], damaged, bad[2], good[2]]
    logged = []
    out = list(datasets.iter_decoded(samples, size=(8, 8), log=logged.append))
    assert [s.name for s, _ in out] == [good[0].name, good[1].name, "cut.avi", good[2].name]
    assert [f.shape[1:] for _, f in out] == [(8, 8, 3)] * 4 and out[0][1].shape[0] == 4
    assert len(logged) == 1
    summary = logged[0]
    assert "3 skipped, 1 used despite decoding errors" in summary
    for name, problem in [("random.avi", "cannot open it"), ("empty.avi", "empty file"), ("gone.avi", "not found"),
                          ("cut.avi", "decoding errors")]:
        assert any(name in line and problem in line for line in summary.splitlines())
    report = SkipReport()
    counts = dict((s.name, n) for s, n in datasets.iter_decoded(samples, decode=video.count_frames, report=report,
                                                                log=None))
    assert report.names == ["random.avi", "empty.avi", "gone.avi"] and len(report.damaged) == 1
    assert counts[good[0].name] == 4 and 1 <= counts["cut.avi"] < 30


def test_skip_report_summary_limits_entries():
    r = SkipReport()
    for i in range(30):
        r.add(f"v{i}.avi", "file not found")
    text = r.summary(limit=5)
    assert r.count == 30 and "30 skipped" in text and "v4.avi" in text and "v5.avi" not in text
    assert "... and 25 more" in text
