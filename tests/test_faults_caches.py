"""Caches that know what they cache: a cached stage (a video's frames, the frame encoder, a video's maps) is reused
only while its inputs are unchanged, and a trained run read again (evaluate, localize) never regenerates a dataset
that is gone; ``--root`` gives a moved one again. Tiny data; real subprocess runs where the exit status and the
absence of a traceback matter."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tinyalstm import evaluate, localize, train
from tinyalstm.checks import RunError
from tinyalstm.data import pipeline, synthetic
from tinyalstm.data.datasets import DatasetError
from tinyalstm.data.features import extract_features

TINY = dict(classes=3, groups=3, clips=1, frames=12, size=32, distractors=1, clutter=2)
STAGES = dict(size=16, widths=(4, 4), enc_epochs=1, per_video=2)
RUN = ["--model", "convlstm", "--epochs", "1", "--encoder-epochs", "1", "--size", "16", "--frames", "4", "--hidden",
       "3", "--fc-dim", "6", "--eval-windows", "1", "--rgb-encoder", "scratch", "--workers", "1"]


def _cli(module, *argv, env=None):
    return subprocess.run([sys.executable, "-m", module, *map(str, argv)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory):
    """A tiny synthetic benchmark (UCF101's layout), generated once; tests copy it (mtimes kept)."""
    root = tmp_path_factory.mktemp("bench") / "syn"
    synthetic.generate(root, **TINY)
    return root


@pytest.fixture
def videos(benchmark, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = tmp_path / "ucf"
    shutil.copytree(benchmark, root)
    return root


class Decodes:
    """Counts the videos the pipeline decodes."""

    def __init__(self, monkeypatch):
        self.paths, real = [], pipeline.read_video
        monkeypatch.setattr(pipeline, "read_video", lambda path, **kw: (self.paths.append(path), real(path, **kw))[1])


def _prepare(root, work, lines, modalities=("rgb",)):
    return pipeline.prepare_video_features("ucf101", root, 1, list(modalities), work, log=lines.append, **STAGES)


def _video(root, key):
    return root / "UCF-101" / f"{key}.avi"


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("*.npy")}


# -- the frame cache, the encoder and the maps --------------------------------------------------------------

def test_a_rerun_with_nothing_changed_decodes_nothing_and_rewrites_nothing(videos, tmp_path, monkeypatch):
    lines = []
    first = _prepare(videos, tmp_path / "work", lines)
    before = _files(tmp_path / "work")
    decodes = Decodes(monkeypatch)
    again = _prepare(videos, tmp_path / "work", lines)
    assert decodes.paths == [] and _files(tmp_path / "work") == before
    assert again.train == first.train and again.test == first.test and again.convnet == first.convnet
    assert not any("changed" in ln for ln in lines)


def test_a_touched_or_copied_video_with_the_same_bytes_is_not_decoded_again(videos, tmp_path, monkeypatch):
    _prepare(videos, tmp_path / "work", [])
    before = _files(tmp_path / "work")
    for p in (videos / "UCF-101").rglob("*.avi"):              # a copy without -p: every time moves, no byte does
        os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 10 ** 9))
    decodes, lines = Decodes(monkeypatch), []
    _prepare(videos, tmp_path / "work", lines)
    assert decodes.paths == [] and _files(tmp_path / "work") == before
    assert not any("changed" in ln for ln in lines)


def test_a_video_replaced_by_another_recomputes_its_frames_the_encoder_and_the_maps(videos, tmp_path, monkeypatch,
                                                                                     benchmark):
    lines = []
    first = _prepare(videos, tmp_path / "work", lines)
    key = "MoveLeft/v_MoveLeft_g02_c01"                              # a training video
    frames_file = tmp_path / "work" / "frames" / "rgb" / "16px" / f"{key}.npy"
    old_frames = np.load(frames_file)
    shutil.copyfile(_video(videos, "MoveRight/v_MoveRight_g03_c01"), _video(videos, key))
    decodes, lines = Decodes(monkeypatch), []
    again = _prepare(videos, tmp_path / "work", lines)
    assert [os.path.basename(p) for p in decodes.paths] == ["v_MoveLeft_g02_c01.avi"]          # that one only
    assert not np.array_equal(np.load(frames_file), old_frames)
    np.testing.assert_array_equal(np.load(frames_file),
                                  np.load(frames_file.parents[1] / "MoveRight/v_MoveRight_g03_c01.npy"))
    assert any("1 videos changed since they were cached: recomputed (MoveLeft/v_MoveLeft_g02_c01)" in ln
               for ln in lines), lines
    assert any("of the frame encoder's training videos changed" in ln and "retraining it" in ln for ln in lines)
    maps = np.load(again.roots["rgb"] / f"{key}.npy")                 # its frames through the new encoder
    np.testing.assert_array_equal(maps, np.load(again.roots["rgb"] / "MoveRight/v_MoveRight_g03_c01.npy"))
    assert first.roots == again.roots
    assert any("feature maps: 9 cached videos were made with other frame encoder weights" in ln for ln in lines)


def test_a_changed_test_video_rescores_the_baseline_and_keeps_the_encoder(videos, tmp_path, monkeypatch):
    _prepare(videos, tmp_path / "work", [])
    encoder = next((tmp_path / "work" / "encoders").glob("*.npz"))
    with np.load(encoder) as z:
        weights = {k: z[k] for k in z.files if k != "__test_acc"}
    shutil.copyfile(_video(videos, "MoveLeft/v_MoveLeft_g02_c01"), _video(videos, "MoveUp/v_MoveUp_g01_c01"))
    lines = []
    _prepare(videos, tmp_path / "work", lines)
    assert any("1 test videos changed since the ConvNet baseline was scored: rescored" in ln for ln in lines), lines
    assert not any("retraining" in ln for ln in lines)
    with np.load(encoder) as z:
        assert all(np.array_equal(z[k], v) for k, v in weights.items())


def test_a_video_that_changed_into_something_unreadable_is_skipped_not_read_from_stale_frames(videos, tmp_path):
    _prepare(videos, tmp_path / "work", [], ("rgb", "flow"))
    key = "MoveLeft/v_MoveLeft_g03_c01"
    _video(videos, key).write_bytes(b"not a video")
    lines = []
    data = _prepare(videos, tmp_path / "work", lines, ("rgb", "flow"))
    assert key not in [k for k, _ in data.train + data.test]
    assert data.report.names == [key] and "ffmpeg cannot open it" in dict(data.report.skipped)[key]
    for m in ("rgb", "flow"):                         # the flow pass does not read it again, nor its old flow
        assert not (tmp_path / "work" / "frames" / m / "16px" / f"{key}.npy").exists()
    assert any("1 videos changed since they were cached: recomputed" in ln for ln in lines)


def test_a_class_whose_videos_all_became_unreadable_is_refused_by_name(videos, tmp_path):
    argv = ["--dataset", "ucf101", "--root", videos, *RUN]
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert _cli("tinyalstm.train", *argv, "--out", tmp_path / "a", env=env).returncode == 0
    for p in (videos / "UCF-101" / "MoveUp").glob("*.avi"):
        p.write_text("not a video\n")
    res = _cli("tinyalstm.train", *argv, "--out", tmp_path / "b", env=env)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert "3 videos changed since they were cached: recomputed" in res.stdout
    assert "(the videos that could be decoded): 1 of 3 classes have no training videos (MoveUp)" in res.stderr
    assert "MoveUp/v_MoveUp_g02_c01: VideoError" in res.stderr          # the skip report names each video
    assert not (tmp_path / "b" / "result.json").exists()


# -- the record beside a cache ------------------------------------------------------------------------------

def _sources(folder, n=3):
    folder.mkdir()
    for i in range(n):
        np.save(folder / f"v{i}.npy", np.full((2, 4, 4, 1), i, np.uint8))
    return [(f"c/v{i}", str(folder / f"v{i}.npy")) for i in range(n)]


def _pass(items, root, calls, depends=None, lines=None):
    def read(path):
        calls.append(os.path.basename(path))
        return np.load(path)
    return extract_features(items, read, np.asarray, root, (4, 4, 1), dtype=np.uint8, progress=False,
                            source_of=str, hash_sources=True, depends=depends,
                            log=(lines if lines is not None else []).append)


def test_a_cache_from_before_the_records_is_kept_where_newer_than_its_video(tmp_path):
    items = _sources(tmp_path / "src")
    calls = []
    extract_features(items, np.load, np.asarray, tmp_path / "cache", (4, 4, 1), dtype=np.uint8, progress=False)
    assert not (tmp_path / "cache" / "inputs.json").exists()                    # no record: an older cache
    later = os.stat(items[1][1]).st_mtime_ns + 10 ** 9                          # v1 changed after it was cached
    np.save(items[1][1], np.full((2, 4, 4, 1), 7, np.uint8))
    os.utime(items[1][1], ns=(later, later))
    _pass(items, tmp_path / "cache", calls)
    assert calls == ["v1.npy"] and np.load(tmp_path / "cache" / "c" / "v1.npy")[0, 0, 0, 0] == 7
    recorded = json.loads((tmp_path / "cache" / "inputs.json").read_text())["entries"]
    assert sorted(recorded) == ["c/v0", "c/v1", "c/v2"]
    calls.clear()
    _pass(items, tmp_path / "cache", calls)
    assert calls == []


def test_a_video_of_the_same_size_and_other_bytes_is_recomputed(tmp_path):
    items = _sources(tmp_path / "src")
    calls, lines = [], []
    _pass(items, tmp_path / "cache", calls)
    stat = os.stat(items[0][1])
    np.save(items[0][1], np.full((2, 4, 4, 1), 9, np.uint8))                   # same size, other content
    os.utime(items[0][1], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10 ** 9))
    calls.clear()
    _pass(items, tmp_path / "cache", calls, lines=lines)
    assert calls == ["v0.npy"] and np.load(tmp_path / "cache" / "c" / "v0.npy")[0, 0, 0, 0] == 9
    assert lines == ["features: 1 videos changed since they were cached: recomputed (c/v0)"]


def test_entries_made_with_other_weights_are_all_recomputed(tmp_path):
    items = _sources(tmp_path / "src")
    calls, lines = [], []
    _pass(items, tmp_path / "cache", calls, depends={"frame encoder weights": "a"})
    calls.clear()
    _pass(items, tmp_path / "cache", calls, depends={"frame encoder weights": "a"})
    assert calls == []
    _pass(items, tmp_path / "cache", calls, depends={"frame encoder weights": "b"}, lines=lines)
    assert calls == ["v0.npy", "v1.npy", "v2.npy"]
    assert lines == ["features: 3 cached videos were made with other frame encoder weights: recomputed (c/v0, "
                     "c/v1, c/v2)"]


# -- a trained run whose dataset was moved ------------------------------------------------------------------

@pytest.fixture(scope="module")
def moved(benchmark, tmp_path_factory):
    """A run trained on a synthetic --root that was then moved: (run folder, old root, new root)."""
    base = tmp_path_factory.mktemp("moved")
    old = base / "syn"
    shutil.copytree(benchmark, old)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(base / "xdg"))
        train.main(["--root", str(old), "--out", str(base / "run"), *RUN])
    new = base / "elsewhere" / "syn"
    new.parent.mkdir()
    old.rename(new)
    return base / "run", old, new


@pytest.mark.parametrize("module", ["tinyalstm.evaluate", "tinyalstm.localize"])
def test_a_run_whose_dataset_is_gone_is_refused_by_name_and_nothing_is_generated(moved, module):
    run, old, _ = moved
    res = _cli(module, "--checkpoint", run / "checkpoint.npz", "--out" if "localize" in module else "--json",
               run.parent / f"{module}.out")
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert f"the run's dataset (synthetic, --root {old}) is gone; give the folder it was moved to with --root DIR" \
        in res.stderr
    assert not old.exists() and "generating" not in res.stdout + res.stderr


def test_evaluate_with_root_reads_the_moved_dataset_and_its_caches(moved, monkeypatch, capsys):
    run, old, new = moved
    decodes = Decodes(monkeypatch)
    res = evaluate.main(["--checkpoint", str(run / "checkpoint.npz"), "--root", str(new)])
    assert decodes.paths == []                                                # the caches moved with it
    assert res["convlstm (rgb)"]["accuracy"] == json.loads((run / "result.json").read_text())["test_accuracy"]
    assert "frame encoder loaded" in capsys.readouterr().out and not old.exists()


def test_localize_with_root_reads_the_moved_dataset(moved, tmp_path, monkeypatch):
    run, old, new = moved
    decodes = Decodes(monkeypatch)
    figures = localize.main(["--checkpoint", str(run / "checkpoint.npz"), "--root", str(new), "--out",
                             str(tmp_path / "loc")])
    assert decodes.paths == [] and figures["videos"] == 3 and not old.exists()


def test_root_of_another_benchmark_is_refused_naming_the_option(moved, tmp_path):
    run, _, _ = moved
    synthetic.generate(tmp_path / "other", **{**TINY, "seed": 4})
    with pytest.raises(RunError, match=r"generated with other options than the run's \(seed: 0 there, 4 here\)"):
        evaluate.main(["--checkpoint", str(run / "checkpoint.npz"), "--root", str(tmp_path / "other")])
    with pytest.raises(RunError, match="no readable synthetic.json"):
        evaluate.main(["--checkpoint", str(run / "checkpoint.npz"), "--root", str(tmp_path)])
    res = _cli("tinyalstm.localize", "--checkpoint", run / "checkpoint.npz", "--root", tmp_path / "nowhere")
    assert res.returncode == 2 and "--root " in res.stderr and "nowhere: not a folder" in res.stderr


def test_a_moved_real_dataset_keeps_the_runs_cache_and_another_class_list_is_refused(videos, tmp_path,
                                                                                       monkeypatch):
    train.main(["--dataset", "ucf101", "--root", str(videos), "--out", str(tmp_path / "run"), *RUN])
    moved_root = tmp_path / "disk2" / "ucf"
    moved_root.parent.mkdir()
    shutil.copytree(videos, moved_root)                    # a copy: times kept (copy2), the old one still there
    shutil.rmtree(videos)
    ckpt = str(tmp_path / "run" / "checkpoint.npz")
    with pytest.raises(RunError, match="is gone; give the folder it was moved to with --root DIR"):
        evaluate.main(["--checkpoint", ckpt])
    decodes = Decodes(monkeypatch)
    res = evaluate.main(["--checkpoint", ckpt, "--root", str(moved_root)])
    assert decodes.paths == []                             # the run's frames and encoder, checked video by video
    assert res["convlstm (rgb)"]["accuracy"] == json.loads((tmp_path / "run" / "result.json").read_text())[
        "test_accuracy"]
    class_list = moved_root / "ucfTrainTestlist" / "classInd.txt"         # the same classes, numbered otherwise
    names = [ln.split()[1] for ln in class_list.read_text().splitlines()]
    names = names[::-1]
    class_list.write_text("".join(f"{i + 1} {c}\r\n" for i, c in enumerate(names)))
    train_list = moved_root / "ucfTrainTestlist" / "trainlist01.txt"
    train_list.write_text("".join(f"{ln.split()[0]} {names.index(ln.split('/')[0]) + 1}\r\n"
                                  for ln in train_list.read_text().splitlines()))
    with pytest.raises(DatasetError, match=r"not the dataset the run was trained on: its 3 classes differ from the "
                                           r"run's 3 \(the same classes in another order\)"):
        evaluate.main(["--checkpoint", ckpt, "--root", str(moved_root)])
