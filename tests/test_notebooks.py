"""Every notebook under notebooks/ runs top to bottom (code cells executed in one namespace)."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, capsys):
    cells = json.loads(path.read_text())["cells"]
    namespace = {"__name__": "__notebook__"}
    for index, cell in enumerate(c for c in cells if c["cell_type"] == "code"):
        source = "".join(cell["source"])
        try:
            exec(compile(source, f"{path.name}[code cell {index}]", "exec"), namespace)
        except Exception as err:  # name the failing cell, then fail
            pytest.fail(f"{path.name} code cell {index} raised {type(err).__name__}: {err}")
    assert capsys.readouterr().out.strip(), "the notebook printed nothing"
