"""Every notebook under notebooks/ runs top to bottom in a real Jupyter kernel (nbclient, ipykernel).

The kernel runs in a temporary folder, so a notebook that writes files leaves the checkout clean;
it inherits this process's environment (``UNIGEN_DATA_DIR``, ``OMP_NUM_THREADS``).
"""

from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


def printed_text(notebook) -> str:
    """What the code cells printed (stream outputs) and returned (text/plain results)."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output.get("text", ""))
            elif "data" in output:
                parts.append(output["data"].get("text/plain", ""))
    return "".join(parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="the notebook extra: pip install -e '.[notebooks]'")
    nbclient = pytest.importorskip("nbclient", reason="the notebook extra: pip install -e '.[notebooks]'")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as err:  # name the failing cell, then fail
        pytest.fail(f"{path.name}: {err.ename}: {err.evalue}")
    assert printed_text(notebook).strip(), "the notebook printed nothing"
