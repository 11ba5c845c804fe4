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


# The README is the guide; the full measurement tables live in docs/*.md, one page per area. Every link between
# them must land on a file (and, with a #fragment, on a heading of that file), and every page must be reachable.
DOCS = ROOT / "docs"
README_MAX_LINES = 460


def _prose(text):
    """Markdown without fenced code blocks and inline code spans, where brackets are code, not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def _links(path):
    """The relative link targets of a Markdown file: (file or None for the same file, fragment or None)."""
    out = []
    for target in re.findall(r"\]\(([^)\s]+)\)", _prose(path.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):                  # https:, mailto: ...
            continue
        file, _, fragment = target.partition("#")
        out.append((file or None, fragment or None))
    return out


def _slug(heading):
    """GitHub's anchor for a heading: lower case, code ticks and punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path):
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", _prose(path.read_text()), re.M)}


def _broken_links(path):
    broken = []
    for file, fragment in _links(path):
        target = (path.parent / file).resolve() if file else path
        if not target.is_file():
            broken.append(f"{file} (no such file)")
        elif fragment and target.suffix == ".md" and fragment not in _anchors(target):
            broken.append(f"{file or ''}#{fragment} (no such heading in {target.name})")
    return broken


def _pages():
    return sorted(DOCS.glob("*.md"))


def test_the_docs_pages_exist_and_the_readme_links_to_them():
    assert len(_pages()) >= 5
    readme_docs = {f for f, _ in _links(ROOT / "README.md") if f and f.startswith("docs/")}
    assert readme_docs, "README.md links to no docs page"
    unlinked = [p.name for p in _pages() if f"docs/{p.name}" not in readme_docs]
    assert not unlinked, f"docs pages README.md does not link to: {unlinked}"


@pytest.mark.parametrize("path", [ROOT / "README.md"] + _pages(), ids=lambda p: p.name)
def test_every_relative_link_resolves(path):
    assert not _broken_links(path), f"{path.relative_to(ROOT)}: broken links {_broken_links(path)}"


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name)
def test_every_docs_page_has_a_title_and_a_link_back_to_the_readme(page):
    lines = page.read_text().splitlines()
    assert lines[0].startswith("# ") and len(lines[0]) > 2, f"{page.name}: the first line is not a title"
    first_paragraph = next(ln for ln in lines[1:] if ln.strip())
    assert "](../README.md" in first_paragraph, f"{page.name}: no link back to the README under the title"


def test_the_readme_stays_short():
    n = len((ROOT / "README.md").read_text().splitlines())
    assert n <= README_MAX_LINES, f"README.md has {n} lines; move detail into docs/ (at most {README_MAX_LINES})"


def test_the_link_checks_catch_what_they_should(tmp_path):
    """The checks above can fail: a missing file, a missing heading and an unlinked page are all found."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\n[back](../README.md#intro)\n")
    (tmp_path / "docs" / "orphan.md").write_text("# Orphan\n\n[back](../README.md)\n")
    readme = tmp_path / "README.md"
    readme.write_text("# T\n\n## Intro\n\n[a](docs/a.md) [gone](docs/gone.md) [here](#nowhere) `[x](docs/x.md)`\n"
                      "```\n[y](docs/y.md)\n```\n[web](https://example.org)\n")
    assert _broken_links(tmp_path / "docs" / "a.md") == []
    assert _broken_links(readme) == ["docs/gone.md (no such file)", "#nowhere (no such heading in README.md)"]
    linked = {f for f, _ in _links(readme) if f}
    assert linked == {"docs/a.md", "docs/gone.md"}
    assert "docs/orphan.md" not in linked
    assert _slug("Real data: UCF101, HMDB51") == "real-data-ucf101-hmdb51"
    assert _slug("Training: `python -m tinyalstm.train`") == "training-python--m-tinyalstmtrain"
