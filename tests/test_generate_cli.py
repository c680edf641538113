"""``unigen generate``: outputs, summary, exit codes and messages on bad input."""

import json

import pytest

from unigen.cli import main
from unigen.pretrained import available

GRAPH_MODEL = "gdss-community-small"
MOLECULE_MODEL = "gdss-qm9"


@pytest.mark.skipif(GRAPH_MODEL not in available(), reason="graph model not shipped")
def test_generate_graphs_writes_json_and_summary(tmp_path, capsys):
    out, summary = tmp_path / "g.json", tmp_path / "s.json"
    assert main(["generate", "--model", GRAPH_MODEL, "-n", "3", "-o", str(out), "--steps", "5", "--json", str(summary)]) == 0
    assert len(json.loads(out.read_text())["graphs"]) == 3
    assert json.loads(summary.read_text())["generated"] == 3
    assert "wrote 3 structures" in capsys.readouterr().out


@pytest.mark.skipif(MOLECULE_MODEL not in available(), reason="molecule model not shipped")
def test_generate_molecules_sdf_with_validity_summary(tmp_path, capsys):
    out = tmp_path / "mols.sdf"
    assert main(["generate", "-n", "8", "-o", str(out), "--steps", "10", "--seed", "1"]) == 0
    text = out.read_text()
    assert text.count("$$$$") >= 1 and "V2000" in text
    printed = capsys.readouterr().out
    assert "validity_wo_correction" in printed and "novelty" in printed


@pytest.mark.skipif(MOLECULE_MODEL not in available(), reason="molecule model not shipped")
def test_sampling_options_reach_the_sampler(tmp_path):
    """--scale-eps is a temperature: the same seed with another value gives other molecules."""
    runs = {}
    for scale in ("1.0", "0.3"):
        out = tmp_path / f"m{scale}.smi"
        assert main(["generate", "-n", "16", "-o", str(out), "--sampler", "pc", "--steps", "20", "--scale-eps", scale]) == 0
        runs[scale] = out.read_text()
    assert runs["1.0"] != runs["0.3"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "no-such-model", "-n", "2"], "neither a shipped model"),
        (["--model", GRAPH_MODEL, "-n", "2", "--format-is-wrong"], "No such option"),
        (["--model", GRAPH_MODEL, "-n", "0"], "0 is not in the range"),
        (["--model", GRAPH_MODEL, "-n", "2", "--scale-eps", "-0.5"], "-0.5 is not in the range"),
        (["--model", GRAPH_MODEL, "-n", "2", "--snr", "0"], "0.0 is not in the range"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    out = tmp_path / "out.json"
    assert main(["generate", *args, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


@pytest.mark.skipif(GRAPH_MODEL not in available(), reason="graph model not shipped")
def test_graph_model_refuses_molecule_output(tmp_path, capsys):
    out = tmp_path / "mols.sdf"
    assert main(["generate", "--model", GRAPH_MODEL, "-n", "2", "-o", str(out)]) == 2
    assert "writes json, edgelist files" in capsys.readouterr().err
    assert not out.exists()
