"""QM9 2D: both index readings of the GDSS test split, conversion, cache reuse."""

import json

import numpy as np
import pytest
from conftest import data_path, requires_data

from unigen.data import load_dataset, load_smiles
from unigen.data.datasets.qm9 import gdss_test_rows
from unigen.structures import MolGraph

pytestmark = requires_data("qm9", "qm9.csv")


@requires_data("qm9", "valid_idx_qm9.json")
@pytest.mark.parametrize("index", ["gdss", "moflow"])
def test_split_sizes_under_both_readings(index):
    train, test = load_smiles("qm9", "train", index=index), load_smiles("qm9", "test", index=index)
    assert (len(train), len(test)) == (120_803, 13_082)
    assert len(set(train) | set(test)) == len(set(load_smiles("qm9", "all")))


@requires_data("qm9", "valid_idx_qm9.json")
def test_readings_differ_by_exactly_one_row():
    ids = [int(v) for v in json.loads(data_path("qm9", "valid_idx_qm9.json").read_text())["valid_idxs"]]
    path = data_path("qm9", "valid_idx_qm9.json")
    gdss, moflow = gdss_test_rows(path, "gdss"), gdss_test_rows(path, "moflow")
    np.testing.assert_array_equal(gdss, ids)
    np.testing.assert_array_equal(moflow, np.array(ids) - 1)
    # the test sets differ exactly in the rows that only one reading selects
    id_set = set(ids)
    only_gdss, only_moflow = (
        set(gdss.tolist()) - set(moflow.tolist()),
        set(moflow.tolist()) - set(gdss.tolist()),
    )
    assert only_gdss == {i for i in ids if i + 1 not in id_set}
    assert only_moflow == {i - 1 for i in ids if i - 1 not in id_set}
    assert 0 < len(only_gdss) == len(only_moflow) < len(ids)
    all_smiles = load_smiles("qm9", "all")
    assert load_smiles("qm9", "test")[:3] == [all_smiles[i] for i in ids[:3]]
    assert load_smiles("qm9", "test", index="moflow")[:3] == [all_smiles[i - 1] for i in ids[:3]]


def test_row_i_is_gdb_id_i_plus_1():
    smiles = load_smiles("qm9", "all")
    assert len(smiles) == 133_885
    assert smiles[:4] == ["C", "N", "O", "C#C"]  # GDB ids 1-4: methane, ammonia, water, acetylene


@requires_data("qm9", "valid_idx_qm9.json")
def test_limit_converts_kekulized_implicit_h_graphs():
    graphs = load_dataset("qm9", "test", limit=20)
    smiles = load_smiles("qm9", "test")[:20]
    assert len(graphs) == 20 and all(isinstance(g, MolGraph) for g in graphs)
    assert [g.meta["smiles"] for g in graphs] == smiles
    assert all(g.meta["gdb_id"] == g.meta["row"] + 1 for g in graphs)
    assert all(set(np.unique(g.atomic_numbers)) <= {6, 7, 8, 9} for g in graphs)
    assert all(not (g.bonds == 4).any() for g in graphs)  # kekulized: no aromatic code


def test_aromatic_bonds_kept_only_when_not_kekulized():
    # GDB SMILES are written in Kekule form; RDKit perceives aromatic rings (furans, pyrroles, ...)
    aromatic_graphs = load_dataset("qm9", "all", kekulize=False, lazy=True, limit=3000)
    row = next(k for k, g in enumerate(aromatic_graphs) if (g.bonds == 4).any())
    kekule = load_dataset("qm9", "all", lazy=True)[row]
    assert not (kekule.bonds == 4).any()
    np.testing.assert_array_equal(aromatic_graphs[row].bonds > 0, kekule.bonds > 0)  # same connectivity


@requires_data("qm9", "qm9_uncharacterized_gdb_ids.txt")
def test_gdss_reading_lands_168_test_rows_on_uncharacterized_molecules():
    """SOURCES.md: read 0-based, 168 test ids fall on uncharacterized GDB ids; 1-based, none."""
    uncharacterized = set(np.loadtxt(data_path("qm9", "qm9_uncharacterized_gdb_ids.txt"), dtype=int).tolist())
    path = data_path("qm9", "valid_idx_qm9.json")
    assert sum(int(r) + 1 in uncharacterized for r in gdss_test_rows(path, "gdss")) == 168
    assert sum(int(r) + 1 in uncharacterized for r in gdss_test_rows(path, "moflow")) == 0


def test_lazy_sequence_matches_eager_conversion():
    lazy = load_dataset("qm9", "all", lazy=True, limit=30)
    eager = load_dataset("qm9", "all", limit=30)
    for a, b in zip(lazy, eager):
        np.testing.assert_array_equal(a.atomic_numbers, b.atomic_numbers)
        np.testing.assert_array_equal(a.bonds, b.bonds)
        assert a.meta == b.meta


@pytest.mark.slow
@requires_data("qm9", "valid_idx_qm9.json")
def test_full_conversion_is_cached_and_reused(monkeypatch):
    first = load_dataset("qm9", "test")
    assert len(first) == 13_082
    import unigen.data.datasets._smiles as smiles_module

    monkeypatch.setattr(smiles_module, "convert_smiles", lambda *a, **k: pytest.fail("converted again"))
    second = load_dataset("qm9", "train")
    assert len(second) == 120_803
    assert second[0].meta["smiles"] == load_smiles("qm9", "train")[0]
