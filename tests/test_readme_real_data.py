"""The README's real-data commands, run exactly as written on a tiny generated folder in UCF101's layout (and the
aLSTM datasets' commands on folders in Hollywood2's and ActivityNet's layouts).

Only three things change: /path/to/UCF101 becomes the tiny folder, runs/ a temporary folder, ``--device cuda``
becomes ``--device cpu`` (no GPU here), and tiny sizes are appended to the training commands (argparse keeps the
last value of an option). The folder holds real XVID videos and official-format split files, one of them a corrupt
video that must be skipped and reported, not fatal."""
import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from tinyalstm import evaluate, train
from tinyalstm.data import synthetic

README = Path(__file__).resolve().parents[1] / "README.md"
TINY = ["--size", "32", "--frames", "6", "--hidden", "3", "--fc-dim", "6", "--epochs", "1", "--encoder-epochs", "1",
        "--eval-windows", "1", "--batch-size", "4"]


def readme_commands():
    text = README.read_text()
    block = re.search(r"<!-- real-data-commands -->\s*```bash\n(.*?)```", text, re.S)
    assert block, "README.md: the block after <!-- real-data-commands --> is missing"
    lines = [ln.split("  #")[0].strip() for ln in block.group(1).splitlines()]
    return [ln for ln in lines if ln.startswith("python -m ")]


@pytest.fixture
def ucf101_folder(tmp_path):
    """A UCF101-layout folder (UCF-101/<Class>/v_*.avi, ucfTrainTestlist/) with nothing of the generator left."""
    root = tmp_path / "UCF101"
    synthetic.generate(root, classes=3, groups=3, clips=2, frames=12, size=32, distractors=1, clutter=2, context=0.75)
    (root / "synthetic.json").unlink()
    shutil.rmtree(root / "annotations")
    bad = root / "UCF-101" / "MoveLeft" / "v_MoveLeft_g02_c01.avi"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00AVI junk" * 10)     # a damaged download
    return root


def test_the_readme_real_data_commands_run_on_a_ucf101_layout_folder(ucf101_folder, tmp_path, capsys):
    commands = readme_commands()
    assert len(commands) >= 3
    assert any("--device cuda" in c for c in commands), "the README should show the GPU command"
    assert any(c.startswith("python -m tinyalstm.evaluate") and "--fuse" in c for c in commands)
    for cmd in commands:
        cmd = cmd.replace("/path/to/UCF101", str(ucf101_folder)).replace("--device cuda", "--device cpu")
        argv = [a.replace("runs/", f"{tmp_path}/runs/", 1) if a.startswith("runs/") else a
                for a in shlex.split(cmd)[3:]]
        module = shlex.split(cmd)[2]
        if module == "tinyalstm.train":
            assert "--dataset" in argv and argv[argv.index("--dataset") + 1] == "ucf101"
            train.main(argv + TINY + ["--work", str(tmp_path / "work")])     # not the user's cache folder
        else:
            assert module == "tinyalstm.evaluate"
            evaluate.main(argv)
    out = capsys.readouterr().out
    assert "v_MoveLeft_g02_c01" in out and "skipped" in out       # the corrupt video, reported by name
    results = sorted((tmp_path / "runs").glob("*/result.json"))
    assert len(results) >= 2
    for r in results:
        res = json.loads(r.read_text())
        assert 0.0 <= res["test_accuracy"] <= 1.0
        assert json.loads((r.parent / "config.json").read_text())["dataset"] == "ucf101"


def test_the_readme_hollywood2_and_activitynet_commands_run_on_folders_in_their_layouts(hollywood2_folder,
                                                                                       activitynet_folder, tmp_path):
    text = README.read_text()
    block = re.search(r"<!-- aLSTM-data-commands -->\s*```bash\n(.*?)```", text, re.S)
    assert block, "README.md: the block after <!-- aLSTM-data-commands --> is missing"
    commands = [ln.strip() for ln in block.group(1).splitlines() if ln.startswith("python -m ")]
    assert {c.split("--dataset ")[1].split()[0] for c in commands if "--dataset" in c} == {"hollywood2",
                                                                                           "activitynet"}
    roots = {"/path/to/Hollywood2": str(hollywood2_folder[0]), "/path/to/ActivityNet": str(activitynet_folder)}
    for cmd in commands:
        for placeholder, root in roots.items():
            cmd = cmd.replace(placeholder, root)
        argv = [a.replace("runs/", f"{tmp_path}/runs/", 1) if a.startswith("runs/") else a
                for a in shlex.split(cmd)[3:]]
        if shlex.split(cmd)[2] == "tinyalstm.train":
            train.main(argv + TINY + ["--work", str(tmp_path / "work" / argv[argv.index("--dataset") + 1])])
        else:
            rows = evaluate.main(argv)
            assert set(next(iter(rows.values()))) == {"map"}                  # Hollywood2: mAP, no accuracy
    hoha2 = json.loads((tmp_path / "runs" / "hollywood2-alstm" / "result.json").read_text())
    anet = json.loads((tmp_path / "runs" / "activitynet-alstm" / "result.json").read_text())
    assert "test_accuracy" not in hoha2 and 0 < hoha2["test_map"] <= 1
    assert 0 <= anet["test_accuracy"] <= 1 and 0 < anet["test_map"] <= 1
    config = json.loads((tmp_path / "runs" / "activitynet-alstm" / "config.json").read_text())
    assert anet["test_protocol"].startswith("40 random chunks")
    assert config["validation_videos"] in (1, 2)       # one video held out: its two segments, or t3's one
