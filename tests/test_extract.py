"""python -m tinyalstm.extract on small folders in the official layouts (real videos decoded by the project's
reader; randomly initialised networks, tiny frames, few rows): the features layout, shapes and dtypes, split
lists that --dataset features trains on, resume (nothing recomputed; an interrupted or truncated file redone; a
change of options recomputed), a corrupt video named and skipped, the multi-label Hollywood2 refused by name, and
the messages without PyTorch or without weights. Tests that need PyTorch skip where it is not installed."""
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinyalstm import extract, train
from tinyalstm.data import synthetic
from tinyalstm.data.datasets import Sample
from tinyalstm.data.extraction import flow_rows, read_cropped
from tinyalstm.data.hollywood2 import ACTIONS
from tinyalstm.data.pretrained import Encoder, ExtractionError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--random-weights", "--device", "cpu", "--size", "64", "--stride", "4"]
TRAIN = ["--frames", "2", "--hidden", "3", "--fc-dim", "6", "--epochs", "2", "--eval-windows", "1",
         "--batch-size", "4"]
BAD = "v_MoveLeft_g03_c01"


@pytest.fixture(scope="module")
def ucf101(tmp_path_factory):
    """UCF101's layout, 2 classes x 3 groups, 8-frame 32 px XVID videos, nothing of the generator left; one video
    corrupt (a damaged download)."""
    root = tmp_path_factory.mktemp("ucf") / "UCF101"
    synthetic.generate(root, classes=2, groups=3, clips=1, frames=8, size=32, distractors=1, clutter=2, context=0.75)
    (root / "synthetic.json").unlink()
    for p in (root / "annotations").iterdir():
        p.unlink()
    (root / "annotations").rmdir()
    (root / "UCF-101" / "MoveLeft" / f"{BAD}.avi").write_bytes(b"RIFF\x00\x00\x00\x00AVI junk" * 10)
    return root


def _torch():
    pytest.importorskip("torchvision")


def _stamps(folder):
    return {p: p.stat().st_mtime_ns for p in sorted(Path(folder).rglob("*.npy"))}


def test_ucf101_maps_resume_and_train(ucf101, tmp_path, capsys):
    _torch()
    out = tmp_path / "feats"
    argv = ["--dataset", "ucf101", "--root", str(ucf101), "--out", str(out)] + TINY
    assert extract.main(argv) == 0
    printed = capsys.readouterr()
    assert BAD in printed.out and "1 skipped" in printed.out and "ETA" in printed.err
    good = sorted(p.stem for p in (ucf101 / "UCF-101").rglob("*.avi") if p.stem != BAD)
    for stream in ("rgb", "flow"):
        files = sorted((out / stream).rglob("*.npy"))
        assert [p.stem for p in files] == good and all(p.parent.name == p.stem.split("_")[1] for p in files)
        for p in files:
            x = np.load(p)
            assert x.shape == (2, 512, 2, 2) and x.dtype == np.float16 and np.isfinite(x).all()   # 8 frames / 4
    # the wiring: decode, centre crop, every 4th frame, the network; computed here step by step
    video = ucf101 / "UCF-101" / "MoveRight" / "v_MoveRight_g02_c01.avi"
    frames = read_cropped(Sample(str(video), 1, "MoveRight/v_MoveRight_g02_c01.avi"), 64)
    for stream, want in (("rgb", Encoder("pool5")(frames[::4])), ("flow", Encoder("flow-pool5")(flow_rows(frames, 4)))):
        got = np.load(out / stream / "MoveRight" / "v_MoveRight_g02_c01.npy").astype(np.float32)
        np.testing.assert_allclose(got, want, rtol=2e-3, atol=1e-3 * np.abs(want).max())
    lists = out / "ucfTrainTestlist"
    assert (lists / "classInd.txt").read_text() == "1 MoveLeft\n2 MoveRight\n"
    assert (lists / "trainlist01.txt").read_text() == ("MoveLeft/v_MoveLeft_g02_c01.avi 1\n"
                                                        "MoveRight/v_MoveRight_g02_c01.avi 2\n"
                                                        "MoveRight/v_MoveRight_g03_c01.avi 2\n")
    assert (lists / "testlist03.txt").read_text() == "MoveRight/v_MoveRight_g03_c01.avi\n"      # g03 is bad
    described = json.loads((out / "features.json").read_text())
    assert described["streams"]["flow"]["feature"] == "flow-pool5" and described["dataset"] == "ucf101"

    before = _stamps(out)
    assert extract.main(argv) == 0                               # resume: nothing recomputed
    printed = capsys.readouterr()
    assert _stamps(out) == before and BAD in printed.out          # the corrupt video is tried again, and named
    assert [ln.split(" (")[0] for ln in printed.err.splitlines() if "ETA" in ln] == ["rgb pool5: 1/1 videos"]
    killed = out / "rgb" / "MoveLeft" / "v_MoveLeft_g01_c01.npy"
    kept = np.load(killed)
    killed.unlink()
    killed.with_name(killed.name + ".partial").write_bytes(b"\x93NUMPY half-written")   # a pass killed mid-write
    truncated = out / "flow" / "MoveRight" / "v_MoveRight_g01_c01.npy"
    whole = np.load(truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    assert extract.main(argv) == 0
    assert np.array_equal(np.load(killed), kept) and np.array_equal(np.load(truncated), whole)
    assert not list(out.rglob("*.partial"))
    after = _stamps(out)
    assert {p for p in after if after[p] != before[p]} == {killed, truncated}

    run = tmp_path / "run"
    train.main(["--dataset", "features", "--root", str(out), "--model", "videolstm", "--out", str(run)] + TRAIN)
    assert 0 <= json.loads((run / "result.json").read_text())["test_accuracy"] <= 1
    assert "3 train / 2 test videos, maps (512, 2, 2)" in capsys.readouterr().out


def test_alstm_vectors_resume_recompute_on_a_change_and_train(ucf101, tmp_path, capsys):
    """aLSTM's features: R3D clip vectors in flow/ (input-data), VGG fc8 per frame in rgb/ (attended-data)."""
    _torch()
    out = tmp_path / "alstm"
    argv = ["--dataset", "ucf101", "--root", str(ucf101), "--out", str(out), "--rgb", "fc8", "--flow", "r3d",
            "--clip-size", "16", "--clip-length", "4", "--random-weights", "--size", "32", "--stride", "4"]
    extract.main(argv)
    for stream, shape in (("rgb", (2, 1000)), ("flow", (2, 512))):      # 8 frames: 2 rows at stride 4, 2 clips
        files = sorted((out / stream).rglob("*.npy"))
        assert len(files) == 5 and all(np.load(p).shape == shape and np.load(p).dtype == np.float16 for p in files)
    before = _stamps(out)
    extract.main(argv)
    assert _stamps(out) == before                                # vectors are resumed too
    truncated = out / "flow" / "MoveLeft" / "v_MoveLeft_g02_c01.npy"
    whole = np.load(truncated)
    truncated.write_bytes(truncated.read_bytes()[:100])
    extract.main(argv[:-1] + ["8"])                              # --stride 8: every rgb file recomputed
    after = _stamps(out)
    assert all(np.load(p).shape == (1, 1000) for p in (out / "rgb").rglob("*.npy"))
    assert [p for p in after if p.parts[-3] == "flow" and after[p] != before[p]] == [truncated]
    assert np.array_equal(np.load(truncated), whole)
    assert "rgb fc8: 5 cached videos were made with other feature and weights: recomputed" in capsys.readouterr().out
    run = tmp_path / "run"
    train.main(["--dataset", "features", "--root", str(out), "--model", "alstm", "--out", str(run)] + TRAIN)
    assert json.loads((run / "config.json").read_text())["model"] == "alstm"
    assert (run / "result.json").is_file()


HMDB = {"brush_hair": 3, "climb": 3}
HMDB_IDS = [1, 1, 2]                      # per split: two training videos and one test video per class


def _hmdb51(root):
    for c, cls in enumerate(HMDB):
        (root / "hmdb51_org" / cls).mkdir(parents=True)
        for k in range(HMDB[cls]):
            frames, _ = synthetic.render_video("MoveLeft" if c == 0 else "MoveRight", k + 1, 1, frames=8, size=32,
                                               distractors=1, clutter=2)
            synthetic.write_avi(root / "hmdb51_org" / cls / f"{cls}_video_{k}.avi", frames)
    (root / "testTrainMulti_7030_splits").mkdir()
    for cls in HMDB:
        for split in (1, 2, 3):
            ids = HMDB_IDS[-split:] + HMDB_IDS[:-split]
            (root / "testTrainMulti_7030_splits" / f"{cls}_test_split{split}.txt").write_text(
                "".join(f"{cls}_video_{k}.avi {i} \n" for k, i in enumerate(ids)))
    return root


ONE_ROW = ["--rgb", "pool5", "--flow", "none", "--random-weights", "--size", "32", "--stride", "100"]
TRAIN_MAPS = ["--model", "convlstm", "--frames", "1", "--hidden", "3", "--fc-dim", "6", "--epochs", "1",
              "--eval-windows", "1", "--batch-size", "4"]


def test_hmdb51_activitynet_and_hollywood2_layouts(tmp_path, activitynet_folder, hollywood2_folder, capsys):
    _torch()
    hmdb = _hmdb51(tmp_path / "hmdb")
    out = tmp_path / "hmdb-feats"
    extract.main(["--dataset", "hmdb51", "--root", str(hmdb), "--out", str(out)] + ONE_ROW)
    assert sorted(p.relative_to(out / "rgb").as_posix() for p in (out / "rgb").rglob("*.npy")) == [
        f"{cls}/{cls}_video_{k}.npy" for cls in HMDB for k in range(3)]
    lists = out / "ucfTrainTestlist"
    assert (lists / "classInd.txt").read_text() == "1 brush_hair\n2 climb\n"
    assert (lists / "testlist02.txt").read_text() == "brush_hair/brush_hair_video_1.avi\nclimb/climb_video_1.avi\n"
    capsys.readouterr()
    train.main(["--dataset", "features", "--root", str(out), "--split", "3", "--out", str(tmp_path / "r1")]
               + TRAIN_MAPS)
    assert "4 train / 2 test videos" in capsys.readouterr().out and (tmp_path / "r1" / "result.json").is_file()

    out = tmp_path / "anet-feats"
    extract.main(["--dataset", "activitynet", "--root", str(activitynet_folder), "--out", str(out)] + ONE_ROW)
    assert "v_gone/segment0" in capsys.readouterr().out                  # its video is missing: named
    assert (out / "ucfTrainTestlist" / "classInd.txt").read_text() == "1 Archery\n2 Ironing_clothes\n3 Surfing\n"
    assert np.load(out / "rgb" / "Ironing_clothes" / "v_t3_segment0.npy").shape == (1, 512, 1, 1)
    assert len(list((out / "rgb").rglob("*.npy"))) == 10                 # 7 training and 3 validation segments
    train.main(["--dataset", "features", "--root", str(out), "--out", str(tmp_path / "r2")] + TRAIN_MAPS)
    assert "7 train / 3 test videos" in capsys.readouterr().out and (tmp_path / "r2" / "result.json").is_file()

    root, labels = hollywood2_folder
    with pytest.raises(ExtractionError, match="holds features of --dataset activitynet"):
        extract.main(["--dataset", "hollywood2", "--root", str(root), "--out", str(out)] + ONE_ROW)
    out = tmp_path / "hoha2-feats"
    extract.main(["--dataset", "hollywood2", "--root", str(root), "--out", str(out)] + ONE_ROW)
    assert "multi-label" in capsys.readouterr().out
    assert sorted(p.stem for p in (out / "rgb" / "AVIClips").glob("*.npy")) == sorted(labels)
    for action in ACTIONS:
        lines = (out / "ClipSets" / f"{action}_train.txt").read_text().splitlines()
        assert {ln.split()[0]: ln.split()[1] for ln in lines} == {
            c: "1" if action in labels[c] else "-1" for c in labels if "train" in c}
    with pytest.raises(FileNotFoundError, match="ucfTrainTestlist"):     # the layout's lists are single-label
        train.main(["--dataset", "features", "--root", str(out), "--out", str(tmp_path / "r3")] + TRAIN_MAPS)


def test_weights_missing_from_the_cache_are_named_before_any_work(ucf101, tmp_path, monkeypatch):
    _torch()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    out = tmp_path / "out"
    with pytest.raises(ExtractionError) as err:
        extract.main(["--dataset", "ucf101", "--root", str(ucf101), "--out", str(out), "--device", "cpu"])
    message = str(err.value)
    assert "vgg16-397923af.pth" in message and "--vgg-weights FILE" in message and "nothing here downloads" in message
    assert not out.exists()


@pytest.mark.parametrize("args,message", [
    (["--rgb", "none", "--flow", "none"], "nothing to extract"),
    (["--stride", "0"], "--stride: expected an integer >= 1"),
    (["--size", "16"], "--size: expected an integer >= 32"),
    (["--random-weights", "--vgg-weights", "x.pth"], "--random-weights and --vgg-weights: give one"),
    (["--r3d-weights", "missing.pth"], "--r3d-weights missing.pth: file not found"),
    (["--rgb", "conv5"], "invalid choice: 'conv5'"),
])
def test_usage_errors_exit_2_naming_the_option(ucf101, tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as err:
        extract.main(["--dataset", "ucf101", "--root", str(ucf101), "--out", str(tmp_path / "o")] + args)
    assert err.value.code == 2 and message in capsys.readouterr().err


def test_usage_error_for_a_dataset_that_is_not_videos(tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        extract.main(["--dataset", "features", "--root", str(tmp_path), "--out", str(tmp_path / "o")])
    assert err.value.code == 2 and "invalid choice: 'features'" in capsys.readouterr().err


def test_help_names_every_feature_and_where_the_weights_come_from(capsys):
    with pytest.raises(SystemExit) as err:
        extract.main(["--help"])
    text = capsys.readouterr().out
    assert err.value.code == 0
    for name in ("pool5", "fc6", "fc7", "fc8", "flow-pool5", "flow-fc7", "r3d", "r3d-fc", "--random-weights"):
        assert name in text
    assert "never downloaded" in text and "C3D is not in torchvision" in text and "fine-tunes" in text


def test_without_pytorch_the_command_says_how_to_install_it(ucf101, tmp_path):
    """A fresh interpreter where torch cannot be imported: tinyalstm imports, the command ends in one paragraph
    naming the extra (exit 1), and writes nothing."""
    code = ("import sys; sys.modules['torch'] = sys.modules['torchvision'] = None\n"
            "import tinyalstm, tinyalstm.data.pretrained, tinyalstm.data.extraction\n"
            "from tinyalstm.extract import main\nfrom tinyalstm.run.cli import run\nrun(main)\n")
    proc = _command(code, ucf101, tmp_path)
    assert "pip install -e '.[features]'" in proc.stderr


def test_a_torchvision_that_does_not_import_beside_torch_is_named(ucf101, tmp_path):
    """A torchvision built for another torch (a CUDA build beside a CPU-only torch) fails at import with a
    RuntimeError, not an ImportError: the message says so rather than reporting a bug. Stand-in packages on
    PYTHONPATH play the pair."""
    fake = tmp_path / "fake"
    (fake / "torch").mkdir(parents=True)
    (fake / "torch" / "__init__.py").write_text("")
    (fake / "torchvision").mkdir()
    (fake / "torchvision" / "__init__.py").write_text(
        "raise RuntimeError('operator torchvision::nms does not exist')\n")
    code = "from tinyalstm.extract import main\nfrom tinyalstm.run.cli import run\nrun(main)\n"
    proc = _command(code, ucf101, tmp_path, {"PYTHONPATH": os.pathsep.join([str(fake), str(ROOT)])})
    assert "does not import beside torch" in proc.stderr and "torchvision::nms does not exist" in proc.stderr


def _command(code, root, tmp_path, env=()):
    out = tmp_path / "o"
    proc = subprocess.run([sys.executable, "-c", code, "--dataset", "ucf101", "--root", str(root), "--out",
                           str(out), "--random-weights"], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "TINYALSTM_DEBUG": "0", **dict(env)})
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr and not out.exists()
    return proc


def test_the_readme_extract_commands_parse(tmp_path):
    """The README's extraction block: every command's options exist (parsed, with its folders made here)."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"python -m tinyalstm\.extract`\*\*.*?```bash\n(.*?)```", text, re.S)
    assert block, "README.md: the extraction commands' block is missing"
    lines = [ln for ln in block.group(1).splitlines() if ln.startswith("python -m ")]
    assert {ln.split()[2] for ln in lines} == {"tinyalstm.extract", "tinyalstm.train"}
    for line in lines:
        argv = shlex.split(line)[3:]
        for i, a in enumerate(argv):
            if a.startswith("/path/to/"):
                argv[i] = str(tmp_path / a[len("/path/to/"):])
                Path(argv[i]).mkdir(exist_ok=True)
        if line.split()[2] == "tinyalstm.extract":
            args = extract.parse_args(argv)
            assert args.dataset in ("ucf101", "activitynet") and args.stride >= 1
        else:
            assert train.parse_args(argv).dataset == "features"


def test_on_a_dask_cluster_the_files_are_those_of_one_worker(ucf101, tmp_path, capsys):
    """--scheduler: a local cluster of two worker processes writes the same bytes, and names the same bad video,
    as one process (the per-video passes go through the same ordered map)."""
    _torch()
    distributed = pytest.importorskip("distributed")
    argv = ["--dataset", "ucf101", "--root", str(ucf101)] + TINY + ["--rgb", "pool5", "--flow", "r3d"]
    assert extract.main(argv + ["--out", str(tmp_path / "one")]) == 0
    alone = capsys.readouterr().out
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c:
        assert extract.main(argv + ["--out", str(tmp_path / "two"), "--scheduler", c.scheduler_address]) == 0
    on_cluster = capsys.readouterr().out
    tree = lambda root: {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))  # noqa: E731
                         if p.is_file() and p.suffix in (".npy", ".txt")}
    one, two = tree(tmp_path / "one"), tree(tmp_path / "two")
    assert len(one) > 10 and one == two
    report = lambda text: [line for line in text.splitlines() if BAD in line]  # noqa: E731
    assert report(alone) and [r.replace(str(tmp_path / "one"), "") for r in report(alone)] == \
        [r.replace(str(tmp_path / "two"), "") for r in report(on_cluster)]
