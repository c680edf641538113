"""``unigen predict-structure``: outputs, ranking, scoring against a truth, and one-line errors."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from unigen.cli import main
from unigen.structures import Crystal

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_unigenx(tmp_path_factory):
    """recipes/tiny/unigenx.yaml trained for 20 steps (seconds)."""
    from unigen.config import load_recipe
    from unigen.training.run import train

    out = tmp_path_factory.mktemp("tiny-unigenx")
    recipe = load_recipe(REPO / "recipes/tiny/unigenx.yaml",
                         [f"train.out_dir={out}", "train.steps=20", "train.progress=false"])  # fmt: skip
    return str(train(recipe))


def _run(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_one_formula_writes_ranked_candidates_as_cif_blocks(tiny_unigenx, tmp_path, capsys):
    out = tmp_path / "out.cif"
    code, stdout, _ = _run(["predict-structure", "SrTiO3", "--model", tiny_unigenx, "-n", "3", "-o", str(out),
                            "--steps", "5"], capsys)  # fmt: skip
    assert code == 0
    assert re.findall(r"^data_(\S+)", out.read_text(), re.M) == [f"SrTiO3_rank{r}" for r in (1, 2, 3)]
    assert re.findall(r"^# rank: (\d)", out.read_text(), re.M) == ["1", "2", "3"]
    assert len(re.findall(r"^# space_group_number: \d+", out.read_text(), re.M)) == 3
    assert "SrTiO3:" in stdout and "3 candidates for 1 formula(s)" in stdout
    from unigen.io import read

    crystals = read(out).records
    assert all(sorted(c.atomic_numbers.tolist()) == [8, 8, 8, 22, 38] for c in crystals)


def test_json_lists_candidates_in_rank_order_with_space_group_and_validity(tiny_unigenx, tmp_path, capsys):
    report = tmp_path / "r.json"
    code, _, _ = _run(["predict-structure", "BaTiO3", "--model", tiny_unigenx, "-n", "4", "--steps", "3",
                       "--json", str(report)], capsys)  # fmt: skip
    assert code == 0
    (entry,) = json.loads(report.read_text())["formulas"]
    candidates = entry["candidates"]
    assert [c["rank"] for c in candidates] == [1, 2, 3, 4]
    scores = [c["nll_bits"] for c in candidates]
    assert scores == sorted(scores)
    assert {"space_group", "space_group_number", "smact_valid", "structure_valid", "min_distance"} <= set(
        candidates[0]
    )


def test_many_formulas_from_a_text_file_or_a_csv(tiny_unigenx, tmp_path, capsys):
    text, table = tmp_path / "f.txt", tmp_path / "f.csv"
    text.write_text("# two formulas\nSrTiO3\nKNbO3\n")
    table.write_text("id,formula\n1,SrTiO3\n2,KNbO3\n")
    for source in (text, table):
        out = tmp_path / f"{source.suffix[1:]}.cif"
        code, _, _ = _run(["predict-structure", "--input", str(source), "--model", tiny_unigenx, "-n", "2",
                           "--steps", "2", "-o", str(out)], capsys)  # fmt: skip
        assert code == 0
        names = re.findall(r"^data_(\S+)", out.read_text(), re.M)
        assert names == ["SrTiO3_rank1", "SrTiO3_rank2", "KNbO3_rank1", "KNbO3_rank2"]


def test_truth_reports_match_rate_and_rmse_for_k1_and_kn(tiny_unigenx, tmp_path, capsys):
    from unigen.io import write

    truth = tmp_path / "truth.cif"
    write(truth, [Crystal([38, 22, 8, 8, 8], [[0.5] * 3, [0] * 3, [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]],
                          np.eye(3) * 3.905)])  # fmt: skip
    report = tmp_path / "r.json"
    code, stdout, _ = _run(["predict-structure", "--truth", str(truth), "--model", tiny_unigenx, "-n", "2",
                            "--steps", "2", "--json", str(report)], capsys)  # fmt: skip
    assert code == 0
    scores = json.loads(report.read_text())["scores"]
    assert set(scores) == {"k=1", "k=2"}
    assert (
        scores["k=1"]["n"] == 1 and 0.0 <= scores["k=1"]["match_rate"] <= scores["k=2"]["match_rate"] <= 1.0
    )
    assert "k=1: match rate" in stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["Xx2O3"], "malformed formula 'Xx2O3': 'Xx' is not an element"),
        (["Sr(TiO3"], "unmatched '('"),
        (["Fe2.5O3"], "whole numbers"),
        (["U2O3"], "without element(s) U"),
        (["SrTiO3", "-o", "out.xyz"], "writes CIF files"),
        (["SrTiO3", "--input", "f.txt"], "exactly one of FORMULA"),
        ([], "exactly one of FORMULA"),
        (["SrTiO3", "--set", "sampling.nope=1"], "nope"),
        (["SrTiO3", "--steps", "5000"], "steps"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2_without_output(tiny_unigenx, tmp_path, capsys, args, message):
    out = tmp_path / "never.cif"
    extra = [] if "-o" in args else ["-o", str(out)]
    code, _, err = _run(["predict-structure", *args, "--model", tiny_unigenx, *extra], capsys)
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err and not out.exists()


def test_a_model_of_another_family_is_refused(capsys):
    from unigen.pretrained import available

    if "gdss-qm9" not in available():
        pytest.skip("gdss-qm9 not shipped")
    code, _, err = _run(["predict-structure", "SrTiO3", "--model", "gdss-qm9"], capsys)
    assert code == 2 and "needs a crystal model" in err


def test_generate_samples_compositions_and_structures_de_novo(tiny_unigenx, tmp_path, capsys):
    out = tmp_path / "g.cif"
    code, stdout, _ = _run(
        ["generate", "--model", tiny_unigenx, "-n", "4", "-o", str(out), "--steps", "3"], capsys
    )
    assert code == 0 and "struct_validity" in stdout
    assert len(re.findall(r"^data_", out.read_text(), re.M)) == 4
