"""QM9 3D: the EDM split recomputed, coordinates parsed exactly."""

import ast
import csv
import gzip
import json

import numpy as np
import pytest
from conftest import data_path, requires_data

from unigen.data import get_dataset, load_dataset
from unigen.structures import Molecule3D

pytestmark = requires_data("qm9", "qm9_uncharacterized_gdb_ids.txt")


def test_edm_split_sizes_and_disjointness():
    dataset = get_dataset("qm9_3d")
    splits = {s: dataset.split_ids(s) for s in ("train", "valid", "test", "all")}
    assert [len(splits[s]) for s in ("train", "valid", "test", "all")] == [100_000, 17_748, 13_083, 130_831]
    union = np.concatenate([splits["train"], splits["valid"], splits["test"]])
    np.testing.assert_array_equal(np.sort(union), splits["all"])


@requires_data("qm9", "qm9_edm_split_gdb_ids.json.gz")
def test_recomputed_edm_split_equals_the_stored_one():
    with gzip.open(data_path("qm9", "qm9_edm_split_gdb_ids.json.gz"), "rt") as handle:
        stored = json.load(handle)
    dataset = get_dataset("qm9_3d")
    for split in ("train", "valid", "test"):
        np.testing.assert_array_equal(dataset.split_ids(split), stored[split])


@requires_data("qm9", "qm9_3d_qm9pack_core.csv.gz")
def test_first_molecules_parse_like_literal_eval():
    molecules = load_dataset("qm9_3d", "all", limit=3)  # GDB 1-3: CH4, NH3, H2O
    assert [m.meta["gdb_id"] for m in molecules] == [1, 2, 3]
    assert [sorted(m.atomic_numbers.tolist()) for m in molecules] == [
        [1, 1, 1, 1, 6],
        [1, 1, 1, 7],
        [1, 1, 8],
    ]
    with gzip.open(data_path("qm9", "qm9_3d_qm9pack_core.csv.gz"), "rt", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = [next(reader) for _ in range(3)]
    for molecule, row in zip(molecules, rows):
        assert isinstance(molecule, Molecule3D)
        np.testing.assert_array_equal(molecule.positions, np.array(ast.literal_eval(row["XYZ_Ang"]), float))
        assert molecule.meta["HOMO_au"] == float(row["HOMO_au"]) and molecule.meta["smiles"] == row["SMILES"]
    # C-H bond length of methane from its DFT geometry
    ch4 = molecules[0]
    assert np.linalg.norm(ch4.positions[0] - ch4.positions[1]) == pytest.approx(1.0919, abs=1e-3)


@pytest.mark.slow
@requires_data("qm9", "qm9_3d_qm9pack_core.csv.gz")
def test_full_load_matches_stats():
    test = load_dataset("qm9_3d", "test")
    assert len(test) == 13_083
    sizes = [m.num_atoms for m in load_dataset("qm9_3d", "all")]
    assert (min(sizes), max(sizes)) == (3, 29)
