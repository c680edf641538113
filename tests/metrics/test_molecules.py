"""2D molecule metrics: validity / uniqueness / novelty by hand, NSPDK, FCD and the MOSES metrics."""

import math
from collections import Counter

import numpy as np
import pytest
from conftest import requires_data

from unigen.chem.metrics import moses
from unigen.chem.metrics.molecules import score_molecules, scored_smiles
from unigen.chem.metrics.nspdk import (
    LabelledGraph,
    _normalised_features,
    mean_features,
    mol_to_labelled_graph,
    nspdk_features,
    nspdk_mmd,
)
from unigen.errors import UsageError

# 10 records: 6 valid (ethanol twice as written differently, benzene, a salt, a two-fragment
# molecule, a charged ammonium), 4 invalid (None, empty, 5-valent carbon, unclosed ring).
GENERATED = [
    "CCO",
    "OCC",
    "c1ccccc1",
    None,
    "",
    "CC(C)(C)(C)C",
    "C1CC",
    "[Na+].[Cl-]",
    "CCN.CCCCCC",
    "C[N+](C)(C)C",
]
TRAIN = ["OCC", "CCCC"]


def _mol_graphs(smiles):
    from rdkit import Chem

    return [mol_to_labelled_graph(Chem.MolFromSmiles(s)) for s in smiles]


# ---------------------------------------------------------------------------------------
# validity, uniqueness, novelty


def test_known_set_validity_uniqueness_novelty():
    out = score_molecules(
        GENERATED,
        train_smiles=TRAIN,
        protocol="gdss",
        metrics=["validity", "uniqueness", "novelty"],
        n_jobs=1,
    )
    # valid: CCO, OCC (= CCO), benzene, salt, CCN.CCCCCC, ammonium -> 6 / 10
    assert out["validity"] == 0.6 and out["num_valid"] == 6 and out["num_generated"] == 10
    assert out["invalid_indices"] == [3, 4, 5, 6]
    # distinct canonical: CCO, c1ccccc1, one salt ion, CCCCCC, C[N+](C)(C)C -> 5 / 6
    assert out["uniqueness"] == pytest.approx(5 / 6)
    # CCO is in the training set -> 4 of 5 distinct are novel
    assert out["novelty"] == pytest.approx(4 / 5)
    assert out["vu"] == pytest.approx(5 / 10) and out["vun"] == pytest.approx(4 / 10)


def test_fragment_rules_per_protocol():
    # GDSS keeps the longest fragment SMILES, DiGress the fragment with most atoms, MOSES all of it
    assert scored_smiles("CCN.CCCCCC", "gdss") == "CCCCCC"
    assert scored_smiles("CCN.CCCCCC", "digress") == "CCCCCC"
    assert scored_smiles("CCN.CCCCCC", "moses") == "CCCCCC.CCN"
    assert scored_smiles("[nH]1cccc1.Cl", "gdss") == "c1cc[nH]c1"
    assert scored_smiles("C1CC", "digress") is None


def test_rdkit_mol_and_molgraph_records():
    from rdkit import Chem

    assert scored_smiles(Chem.MolFromSmiles("OCC"), "digress") == "CCO"
    from unigen.chem.convert import smiles_to_graph

    graph = smiles_to_graph("CC(=O)O")
    assert scored_smiles(graph, "gdss") == "CC(=O)O"


def test_novelty_against_training_set_written_differently():
    out = score_molecules(
        ["OCC", "C(C)O", "CCN"], train_smiles=["CCO"], metrics=["validity", "uniqueness", "novelty"], n_jobs=1
    )
    assert out["uniqueness"] == pytest.approx(2 / 3) and out["novelty"] == pytest.approx(1 / 2)


def test_bad_arguments_are_usage_errors():
    with pytest.raises(UsageError, match="protocol"):
        score_molecules(["C"], protocol="guacamol")
    with pytest.raises(UsageError, match="metric"):
        score_molecules(["C"], metrics=["qed"])
    with pytest.raises(UsageError, match="no molecules"):
        score_molecules([])


def test_all_invalid_input_gives_zero_validity_and_nan_ratios():
    out = score_molecules(
        ["X", "C1", None], train_smiles=TRAIN, metrics=["validity", "uniqueness", "novelty"], n_jobs=1
    )
    assert out["validity"] == 0 and out["invalid_indices"] == [0, 1, 2]
    assert math.isnan(out["uniqueness"]) and math.isnan(out["novelty"])


# ---------------------------------------------------------------------------------------
# NSPDK


def test_nspdk_identical_sets_zero_and_different_positive():
    a = _mol_graphs(["CCO", "c1ccccc1", "CC(=O)N", "CCCl"])
    b = _mol_graphs(["C#N", "OO", "FC(F)F", "CS(=O)C"])
    assert nspdk_mmd(a, list(reversed(a)), n_jobs=1) == pytest.approx(0.0, abs=1e-15)
    assert nspdk_mmd(a, b, n_jobs=1) > 0.1


def test_nspdk_single_atom_graphs_by_hand():
    # One atom: features (R=0, D=0) full and half hits, both count 1 -> one block of norm sqrt(2).
    # Two different elements share no feature: MMD = |x|^2 + |y|^2 - 0 = 2; identical -> 0.
    c, o = _mol_graphs(["C"]), _mol_graphs(["O"])
    idx, val = nspdk_features(c[0])
    assert len(idx) == 2 and np.allclose(val, 1 / math.sqrt(2))
    assert nspdk_mmd(c, o, n_jobs=1) == pytest.approx(2.0)
    assert nspdk_mmd(c * 3, c, n_jobs=1) == pytest.approx(0.0, abs=1e-15)


def test_nspdk_features_are_invariant_to_atom_order_and_batch():
    from rdkit import Chem

    mol = Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1")
    order = list(np.random.default_rng(0).permutation(mol.GetNumAtoms()))
    shuffled = Chem.RenumberAtoms(mol, [int(i) for i in order])
    x, y = nspdk_features(mol_to_labelled_graph(mol)), nspdk_features(mol_to_labelled_graph(shuffled))
    np.testing.assert_array_equal(x[0], y[0])
    np.testing.assert_allclose(x[1], y[1])
    assert np.linalg.norm(x[1]) == pytest.approx(1.0)
    batch = _mol_graphs(["CCO", "c1ccncc1", "CC(=O)Nc1ccc(O)cc1", "C"])
    graph_of, idx, val = _normalised_features(batch)
    np.testing.assert_array_equal(idx[graph_of == 2], x[0])
    np.testing.assert_allclose(val[graph_of == 2], x[1])


def test_nspdk_sees_labels_and_parallel_matches_serial():
    single, double = _mol_graphs(["C=CC"])[0], _mol_graphs(["CCC"])[0]
    assert nspdk_mmd([single], [double], n_jobs=1) > 0
    graphs = _mol_graphs(["CCO", "c1ccccc1", "CCN", "CC#N", "OCCO"] * 200)
    np.testing.assert_allclose(mean_features(graphs, n_jobs=1), mean_features(graphs, n_jobs=2))


def test_nspdk_ignores_empty_graphs():
    empty = LabelledGraph((), np.zeros((0, 2), np.int64), np.zeros(0, np.int64))
    c = _mol_graphs(["C"])
    assert nspdk_mmd(c + [empty], c, n_jobs=1) == pytest.approx(0.0, abs=1e-15)
    assert math.isnan(nspdk_mmd([empty], c, n_jobs=1))


# ---------------------------------------------------------------------------------------
# MOSES metrics


def test_tanimoto_snn_and_internal_diversity_by_hand():
    a = np.array([[1, 1, 0, 0], [1, 0, 0, 0]], np.uint8)
    b = np.array([[1, 1, 1, 0]], np.uint8)
    # T(b, a0) = 2/3, T(b, a1) = 1/3 -> SNN of b against a = 2/3
    assert moses.average_agg_tanimoto(a, b, agg="max") == pytest.approx(2 / 3)
    # IntDiv over {a0, a1}: pairs T = 1, 1/2, 1/2, 1 -> mean 3/4
    assert moses.internal_diversity(a) == pytest.approx(1 / 4)
    assert moses.internal_diversity(a, p=2) == pytest.approx(1 - math.sqrt((1 + 0.25 + 0.25 + 1) / 4))


def test_cosine_similarity_of_counts():
    assert moses.cosine_similarity(Counter(a=1, b=1), Counter(a=2, b=2)) == pytest.approx(1.0)
    assert moses.cosine_similarity(Counter(a=1), Counter(b=1)) == 0.0
    assert math.isnan(moses.cosine_similarity(Counter(), Counter(a=1)))


def test_filters_scaffolds_and_fragments():
    ok = moses.molecule_record("CC(=O)Nc1ccc(O)cc1")
    assert ok.passes_filters and ok.scaffold is None  # one ring: no 2-ring scaffold
    assert not moses.molecule_record("C[N+](C)(C)C").passes_filters  # charged
    assert not moses.molecule_record("C1CCCCCCC1").passes_filters  # 8-ring
    assert not moses.molecule_record("CCP").passes_filters  # phosphorus not allowed
    assert not moses.molecule_record("C=CC#N").passes_filters  # MCF1 (Michael acceptor nitrile)
    assert moses.molecule_record("c1ccc(Cc2ccccc2)cc1").scaffold == "c1ccc(Cc2ccccc2)cc1"
    assert moses.molecule_record("c1ccccc1").fragments == ("c1ccccc1",)  # no BRICS bond
    assert {"[1*]C(C)=O", "[5*]N[5*]"} <= set(ok.fragments)  # amide cut on both sides of N
    assert moses.molecule_record("C1CC") is None


def test_moses_group_identical_sets():
    smiles = ["CC(=O)Nc1ccc(O)cc1", "c1ccc(Cc2ccccc2)cc1", "c1ccc2ccccc2c1", "CCOC(=O)c1ccccc1"]
    out = score_molecules(
        smiles, test_smiles=smiles, test_scaffold_smiles=smiles, protocol="moses", metrics=["moses"], n_jobs=1
    )
    assert out["SNN/Test"] == pytest.approx(1.0) and out["Frag/Test"] == pytest.approx(1.0)
    assert out["Scaf/Test"] == pytest.approx(1.0) and out["Filters"] == 1.0
    assert 0 < out["IntDiv2"] <= out["IntDiv"] < 1  # sqrt(mean T^2) >= mean T


# ---------------------------------------------------------------------------------------
# FCD (loads ChemNet: a few seconds)


def test_fcd_identical_sets_near_zero_and_different_sets_large():
    ref = ["CCO", "c1ccccc1", "CC(=O)N", "CCCl", "CC#N", "OCCO", "CN(C)C", "c1ccncc1"]
    out = score_molecules(ref, test_smiles=ref, protocol="digress", metrics=["fcd"], n_jobs=1)
    assert abs(out["FCD/Test"]) < 1e-3
    far = score_molecules(
        ["C" * k for k in range(2, 10)], test_smiles=ref, protocol="digress", metrics=["fcd"], n_jobs=1
    )
    assert far["FCD/Test"] > 5


@requires_data("qm9", "qm9.csv")
def test_qm9_test_slice_scored_against_itself():
    from unigen.data import load_smiles

    test = load_smiles("qm9", "test")[:300]
    out = score_molecules(
        test,
        train_smiles=test[:100],
        test_smiles=test,
        protocol="gdss",
        metrics=["validity", "uniqueness", "novelty", "nspdk"],
        n_jobs=1,
    )
    assert out["validity"] == 1.0 and out["uniqueness"] == 1.0
    assert out["novelty"] == pytest.approx(200 / 300) and abs(out["NSPDK/Test"]) < 1e-12


def test_file_mixing_valid_and_malformed_records_is_scored(tmp_path):
    from unigen.io import read_smiles

    path = tmp_path / "generated.smi"
    path.write_text("CCO\nnot_a_smiles\nc1ccccc1 benzene\nC1CC\nCC(=O)O\nC(C)(C)(C)(C)C\n")
    records = read_smiles(path).records
    out = score_molecules(records, metrics=["validity", "uniqueness"], n_jobs=1)
    assert out["num_generated"] == 6 and out["invalid_indices"] == [1, 3, 5]
    assert out["validity"] == pytest.approx(3 / 6) and out["uniqueness"] == 1.0


def test_all_moses_filter_patterns_parse():
    patterns = moses._filters()
    assert len(patterns) == 502 and all(p is not None for p in patterns)
