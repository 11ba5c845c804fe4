"""The README says what the code is: its Python example runs, every equation-index row points at functions that
exist (with their backward passes) and at test files that exist, and its Layout section names every module."""
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _section(title):
    start = README.index(f"\n## {title}")
    end = README.find("\n## ", start + 1)
    return README[start:end if end > 0 else None]


def test_the_python_example_runs():
    code = re.search(r"```python\n(.*?)```", _section("Python"), re.S).group(1)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(r"loss \d\.\d{3}; 22 parameter arrays; dX \(2, 8, 32, 7, 7\); attention \(2, 8, 7, 7\), "
                        r"each map sums to 1\.000\n", out.stdout), out.stdout


def _index_rows():
    rows = []
    for title in ("Equation index (aLSTM)", "Equation index (VideoLSTM)"):
        for line in _section(title).splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if line.startswith("|") and len(cells) == 4 and cells[0] not in ("paper", "---"):
                rows.append(cells)
    return rows


def test_the_equation_index_has_its_rows():
    assert len(_index_rows()) >= 20


@pytest.mark.parametrize("row", _index_rows(), ids=lambda r: r[0][:30])
def test_every_equation_index_row_points_at_code_that_exists(row):
    names = re.findall(r"`([a-z_]+(?:\.[A-Za-z_0-9]+)+)`", row[2])
    assert names, f"no code path in {row}"
    for name in names:
        module, attr = name.rsplit(".", 1)
        obj = getattr(importlib.import_module(f"tinyalstm.{module}"), attr)
        if attr.endswith("_forward"):            # each forward has its backward beside it
            getattr(importlib.import_module(f"tinyalstm.{module}"), attr[:-len("forward")] + "backward")
        assert callable(obj), name
    tests = re.findall(r"`(tests/[\w/]+\.py)`", row[3])
    assert all((ROOT / t).is_file() for t in tests), tests


def test_the_layout_section_names_every_module():
    layout = re.search(r"```\n(.*?)```", _section("Layout"), re.S).group(1)
    words = set(re.findall(r"[a-z_0-9]+", layout))
    package = ROOT / "tinyalstm"
    modules = [p for p in package.rglob("*.py") if p.name != "__init__.py"]
    missing = [str(p.relative_to(ROOT)) for p in modules if p.stem not in words]
    assert not missing, f"modules the README's Layout does not name: {missing}"
    for folder in ("layers", "models", "data", "perf"):
        assert f"{folder}/" in layout and (package / folder / "__init__.py").is_file()
    for kernel in ("conv2d", "lstm_pointwise", "spatial_softmax", "launch"):
        assert kernel in words and (ROOT / "kernels" / f"{kernel}.py").is_file()
