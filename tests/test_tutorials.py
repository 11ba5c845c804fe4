"""Every tutorial notebook runs top to bottom without an error.

Each ``tutorials/*.ipynb`` (found by glob, so a new notebook is picked up without editing this file) is executed in
memory with nbclient on the "python3" kernel, from the tutorials folder, with the Agg matplotlib backend. The
executed notebook is never written back to disk. The notebooks assert their own gradient and reference checks, so
a broken backward pass fails here as well as in the unit tests.
"""
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (pip install -e '.[test]')")
nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (pip install -e '.[test]')")
from nbclient.exceptions import CellExecutionError  # noqa: E402 -- only once nbclient is known to import

TUTORIALS = Path(__file__).resolve().parent.parent / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_tutorial_runs_top_to_bottom(path, monkeypatch):
    # The kernel inherits this process's environment: no GUI backend, and no writes of plots anywhere.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", record_timing=False,
                                     resources={"metadata": {"path": str(TUTORIALS)}})
    try:
        client.execute()
    except CellExecutionError as err:
        pytest.fail(f"{path.name}: a cell raised\n{err}", pytrace=False)

    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert code_cells, f"{path.name}: no code cells"
    unrun = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("execution_count") is None]
    assert not unrun, f"{path.name}: code cells {unrun} were not executed"
    errors = [i for i, c in enumerate(code_cells) for out in c.get("outputs", []) if out.output_type == "error"]
    assert not errors, f"{path.name}: error outputs in code cells {errors}"
