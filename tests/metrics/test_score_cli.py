"""``unigen score`` in-process: tables, JSON, malformed records, CSP, and one-line usage errors."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from unigen.cli import main
from unigen.io import write
from unigen.structures import Crystal, Molecule3D


def write_cif(path, crystals):
    """CIF blocks written by pymatgen, so that these tests do not depend on unigen's CIF writer."""
    from pymatgen.io.cif import CifWriter

    from unigen.chem.convert import crystal_to_pymatgen

    path.write_text("".join(str(CifWriter(crystal_to_pymatgen(c))) for c in crystals))


BROKEN_CIF_BLOCK = """
data_broken
_cell_length_a   4.0
_cell_length_b   not-a-number
loop_
 _atom_site_type_symbol
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
  Sr  0.0 0.0 0.0
"""


def srtio3(a=3.905, shift=0.0) -> Crystal:
    frac = np.array([[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    frac[1, 0] += shift / a
    return Crystal([38, 22, 8, 8, 8], frac, np.eye(3) * a)


def rock_salt(a=5.64) -> Crystal:
    frac = [
        [0, 0, 0],
        [0.5, 0.5, 0],
        [0.5, 0, 0.5],
        [0, 0.5, 0.5],
        [0.5, 0, 0],
        [0, 0.5, 0],
        [0, 0, 0.5],
        [0.5, 0.5, 0.5],
    ]
    return Crystal([11] * 4 + [17] * 4, frac, np.eye(3) * a)


def methane() -> Molecule3D:
    h = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3) * 1.09
    return Molecule3D([6, 1, 1, 1, 1], np.vstack([[0, 0, 0], h]))


def run(capsys, *args):
    code = main(["score", *args, "--no-progress", "-j", "1"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def crystals_with_a_broken_record(tmp_path):
    path = tmp_path / "generated.cif"
    write_cif(path, [srtio3(), rock_salt()])
    path.write_text(path.read_text() + BROKEN_CIF_BLOCK)
    return path


def test_malformed_crystal_record_is_counted_invalid_and_listed(
    capsys, tmp_path, crystals_with_a_broken_record
):
    out_json = tmp_path / "scores.json"
    code, out, err = run(
        capsys, str(crystals_with_a_broken_record), "--kind", "crystals", "--json", str(out_json)
    )
    assert code == 0, err
    assert "validity" in out and "1 malformed records" in out
    payload = json.loads(out_json.read_text())
    assert payload["n_records"] == 3 and payload["malformed"][0]["record"] == 3
    assert payload["metrics"]["validity"] == pytest.approx(2 / 3)
    assert payload["metrics"]["invalid"] == [{"index": 2, "reason": "malformed record", "record": 3}]


def test_crystals_against_a_test_file_report_wasserstein_distances(capsys, tmp_path):
    generated, test = tmp_path / "gen.cif", tmp_path / "test.cif"
    write_cif(generated, [srtio3(), srtio3(4.0)])
    write_cif(test, [srtio3(), srtio3(4.0)])
    code, out, err = run(
        capsys, str(generated), "--kind", "crystals", "--test", str(test), "--dataset", "perov_5"
    )
    assert code == 0, err
    rows = dict(line.split()[:2] for line in out.splitlines()[1:] if len(line.split()) == 2)
    assert float(rows["wdist_density"]) == 0.0 and float(rows["cov_recall"]) == 1.0


def test_molecules3d_file_with_a_malformed_frame(capsys, tmp_path):
    path = tmp_path / "mols.xyz"
    write(path, [methane(), methane()])
    path.write_text(path.read_text() + "2\nbroken frame\nC 0 0\n")
    out_json = tmp_path / "m.json"
    code, out, err = run(capsys, str(path), "--kind", "molecules3d", "--json", str(out_json))
    assert code == 0, err
    metrics = json.loads(out_json.read_text())["metrics"]
    assert metrics["validity"] == pytest.approx(2 / 3) and metrics["uniqueness"] == 0.5
    assert metrics["mol_stability"] == pytest.approx(2 / 3) and metrics["atom_stability"] == 1.0


def test_csp_match_rate_for_one_and_for_k_candidates(capsys, tmp_path):
    truth, pred, other = tmp_path / "truth.cif", tmp_path / "pred.cif", tmp_path / "other.cif"
    write_cif(truth, [srtio3(), rock_salt()])
    write_cif(pred, [srtio3(shift=0.05), srtio3()])  # second prediction is wrong
    write_cif(other, [rock_salt(), rock_salt(5.7)])  # a second candidate that fixes item 2
    out_json = tmp_path / "csp.json"
    code, out, err = run(capsys, "--csp", str(pred), "--truth", str(truth), "--json", str(out_json))
    assert code == 0, err and "match_rate" in out
    assert json.loads(out_json.read_text())["metrics"]["match_rate"] == 0.5
    code, out, err = run(
        capsys, "--csp", str(pred), "--csp", str(other), "--truth", str(truth), "--json", str(out_json)
    )
    metrics = json.loads(out_json.read_text())["metrics"]
    assert code == 0 and metrics["k"] == 2 and metrics["match_rate"] == 1.0


def test_csp_length_mismatch_is_a_one_line_usage_error(capsys, tmp_path):
    truth, pred = tmp_path / "truth.cif", tmp_path / "pred.cif"
    write_cif(truth, [srtio3(), rock_salt()])
    write_cif(pred, [srtio3()])
    code, out, err = run(capsys, "--csp", str(pred), "--truth", str(truth))
    assert code == 2 and err.count("\n") == 1 and "has 1 records" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["x.cif", "--kind", "proteins"], "--kind"),
        (["x.cif", "--kind", "crystals", "--protocol", "nope"], "--protocol"),
        (["{cif}", "--kind", "crystals", "--protocol", "gdss"], "does not apply to crystals"),
        (["{cif}", "--kind", "molecules"], "record 1 is a Crystal (crystals), expected molecules"),
        (["missing.cif", "--kind", "crystals"], "no such file"),
        (["{cif}", "--kind", "crystals", "--test", "no_such_dataset"], "no such file or dataset"),
        (["{cif}", "--kind", "crystals", "--test", "{cif}", "--dataset", "qm9"], "no COV cut-offs"),
        ([], "missing FILE"),
    ],
)
def test_bad_usage_is_a_one_line_error_with_exit_code_2(capsys, tmp_path, args, message):
    cif = tmp_path / "ok.cif"
    write_cif(cif, [srtio3()])
    code, out, err = run(capsys, *[a.format(cif=cif) for a in args])
    assert code == 2
    assert err.startswith("error:") and err.count("\n") == 1 and message in err
    assert not out


def test_kind_mismatch_names_the_record(capsys, tmp_path):
    path = tmp_path / "mols.xyz"
    write(path, [methane()])
    code, _, err = run(capsys, str(path), "--kind", "crystals")
    assert code == 2 and f"{path}: record 1 is a Molecule3D (molecules3d)" in err


def test_molecules_dispatch_lists_invalid_smiles_by_record_number(capsys, tmp_path):
    path, out_json = tmp_path / "gen.smi", tmp_path / "mol.json"
    path.write_text("CCO\nC1CC\nc1ccccc1\nCCO\n")  # record 2 is an unclosed ring
    code, out, err = run(
        capsys, str(path), "--kind", "molecules", "--protocol", "digress", "--json", str(out_json)
    )
    payload = json.loads(out_json.read_text())
    assert code == 0, err
    assert payload["protocol"] == "digress" and payload["metrics"]["validity"] == 0.75
    assert payload["metrics"]["invalid_records"] == [2]


def test_graphs_dispatch_counts_malformed_records(capsys, tmp_path):
    import networkx as nx

    from unigen.chem.convert import networkx_to_graph

    generated, reference = tmp_path / "gen.edgelist", tmp_path / "ref.edgelist"
    write(reference, [networkx_to_graph(nx.cycle_graph(n)) for n in range(4, 9)])
    write(generated, [networkx_to_graph(nx.cycle_graph(n)) for n in range(4, 9)])
    generated.write_text(generated.read_text() + "# graph 5\n# num_nodes: 3\n0 x\n")
    out_json = tmp_path / "g.json"
    code, out, err = run(
        capsys, str(generated), "--kind", "graphs", "--test", str(reference), "--json", str(out_json)
    )
    payload = json.loads(out_json.read_text())
    assert code == 0, err
    assert payload["metrics"]["degree"] == pytest.approx(0.0, abs=1e-12)  # identical sets
    assert payload["metrics"]["n_malformed"] == 1 and len(payload["malformed"]) == 1


@pytest.mark.skipif(
    not (Path(os.environ["UNIGEN_DATA_DIR"]) / "spectre" / "planar.pkl").exists(),
    reason="needs spectre/planar.pkl",
)
def test_planar_training_set_scored_against_test_is_valid_and_not_novel(capsys, tmp_path):
    from unigen.data import load_dataset

    generated, out_json = tmp_path / "planar_train.edgelist", tmp_path / "scores.json"
    write(generated, list(load_dataset("planar", "train")))
    code, out, err = run(capsys, str(generated), "--kind", "graphs", "--protocol", "spectre", "--test", "planar",
                         "--json", str(out_json))  # fmt: skip
    assert code == 0, err
    metrics = json.loads(out_json.read_text())["metrics"]
    assert metrics["validity_kind"] == "planar" and metrics["train"] == "planar:train"
    assert metrics["valid"] == 1.0 and metrics["unique"] == 1.0  # every SPECTRE planar graph is planar
    assert metrics["novel"] == 0.0 and metrics["vun"] == 0.0  # each is its own training graph
    assert "vun" in out and metrics["degree"] < 0.01


def test_graph_validity_for_an_unknown_dataset_is_a_usage_error(capsys, tmp_path):
    import networkx as nx

    from unigen.chem.convert import networkx_to_graph

    graphs = tmp_path / "g.edgelist"
    write(graphs, [networkx_to_graph(nx.cycle_graph(5))])
    code, out, err = run(
        capsys, str(graphs), "--kind", "graphs", "--test", str(graphs), "--dataset", "lobster"
    )
    assert code == 2 and "no graph validity" in err and "planar, sbm, tree" in err


def test_moses_protocol_against_the_dataset_also_scores_its_scaffold_split(capsys, tmp_path, monkeypatch):
    """``--protocol moses --test moses`` fills the /TestSF columns from moses:test_scaffolds; a
    test *file* has no scaffold split, and other protocols never ask for one."""
    import unigen.chem.metrics.molecules as molecules
    import unigen.data

    splits = {"test": ["CCO", "c1ccccc1"], "test_scaffolds": ["CCN", "c1ccncc1"], "train": ["CCC"]}
    monkeypatch.setattr(unigen.data, "load_smiles", lambda name, split="train", **_: splits[split])
    seen = []

    def fake_score(items, **kwargs):
        seen.append(kwargs)
        return {"generated": len(items)}

    monkeypatch.setattr(molecules, "score_molecules", fake_score)
    gen = tmp_path / "gen.smi"
    gen.write_text("CCO\nCCN\n")
    reference = tmp_path / "ref.smi"
    reference.write_text("CCO\n")
    assert run(capsys, str(gen), "--protocol", "moses", "--test", "moses")[0] == 0
    assert run(capsys, str(gen), "--protocol", "moses", "--test", str(reference))[0] == 0
    assert run(capsys, str(gen), "--protocol", "gdss", "--test", "moses")[0] == 0
    assert [s["test_scaffold_smiles"] for s in seen] == [splits["test_scaffolds"], None, None]
    assert seen[0]["test_smiles"] == splits["test"]
