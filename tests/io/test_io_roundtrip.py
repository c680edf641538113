"""Write then read gives the same structures, for every format."""

from pathlib import Path

import numpy as np
import pytest

import unigen.io as uio
from unigen.chem.convert import canonical_smiles, smiles_to_graph
from unigen.structures import Crystal, Graph, Molecule3D

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "fixtures"
SMILES = ["CCO", "c1ccccc1O", "C[NH3+]", "CC(=O)[O-]", "c1ccc2[nH]ccc2c1", "N#CC=CC", "O=S(=O)(O)O"]


def _water():
    return Molecule3D(
        [8, 1, 1], [[0, 0, 0.1173], [0, 0.7572, -0.4692], [0, -0.7572, -0.4692]], meta={"name": "water"}
    )


def _methane():
    d = 0.629118
    return Molecule3D([6, 1, 1, 1, 1], [[0, 0, 0], [d, d, d], [-d, -d, d], [-d, d, -d], [d, -d, -d]])


def _triclinic(seed=0, numbers=(8, 26, 8, 1, 26)):
    rng = np.random.default_rng(seed)
    lattice = np.array([[4.1, 0.2, 0.1], [0.3, 5.2, -0.4], [0.5, 0.1, 6.3]]) + rng.normal(0, 0.05, (3, 3))
    return Crystal(
        list(numbers), rng.uniform(0.05, 0.95, (len(numbers), 3)), lattice, meta={"name": f"random{seed}"}
    )


def _assert_same_molecule3d(a, b, atol):
    np.testing.assert_array_equal(a.atomic_numbers, b.atomic_numbers)
    np.testing.assert_allclose(a.positions, b.positions, atol=atol)


def _assert_same_crystal(a, b, atol=1e-9, same_orientation=True):
    np.testing.assert_array_equal(a.atomic_numbers, b.atomic_numbers)
    delta = a.frac_coords - b.frac_coords
    np.testing.assert_allclose(delta - np.round(delta), 0, atol=atol)
    if same_orientation:
        np.testing.assert_allclose(a.lattice, b.lattice, atol=atol)
    else:  # a CIF keeps lengths and angles, not the orientation
        np.testing.assert_allclose(_metric(a.lattice), _metric(b.lattice), atol=atol * 100)


def _metric(lattice):
    return lattice @ lattice.T


def _sorted_sites(crystal):
    """A Crystal with atoms in (Z, frac) order: CIF readers regroup atoms by species."""
    order = np.lexsort((*crystal.frac_coords.T[::-1], crystal.atomic_numbers))
    return Crystal(crystal.atomic_numbers[order], crystal.frac_coords[order], crystal.lattice)


@pytest.mark.parametrize("suffix", [".smi", ".csv", ".smi.gz"])
def test_smiles_round_trip_of_strings_and_graphs(tmp_path, suffix):
    path = tmp_path / f"mols{suffix}"
    graphs = [smiles_to_graph(s) for s in SMILES]
    uio.write(path, SMILES[:3] + graphs[3:])
    back = uio.read(path)
    assert back.errors == []
    assert [g.meta["smiles"] for g in back.records][:3] == SMILES[:3]
    assert [canonical_smiles(g.meta["smiles"]) for g in back.records] == [canonical_smiles(s) for s in SMILES]
    assert uio.read_smiles(path).records[:3] == SMILES[:3]


def test_sdf_round_trip_of_molgraphs_keeps_atoms_bonds_and_charges(tmp_path):
    graphs = [smiles_to_graph(s) for s in SMILES]
    uio.write(tmp_path / "mols.sdf", graphs)
    back = uio.read(tmp_path / "mols.sdf")
    assert back.errors == [] and len(back) == len(graphs)
    for before, after in zip(graphs, back.records):
        np.testing.assert_array_equal(before.atomic_numbers, after.atomic_numbers)
        np.testing.assert_array_equal(before.bonds, after.bonds)
        np.testing.assert_array_equal(before.charges, after.charges)
    # the 2D layout makes the file drawable: not every atom sits at the origin
    coords = uio.read(tmp_path / "mols.sdf", kind="molecule3d").records[1].positions
    assert np.ptp(coords[:, :2], axis=0).min() > 1.0


def test_sdf_round_trip_of_molecule3d_to_four_decimals(tmp_path):
    molecules = [_water(), _methane()]
    uio.write(tmp_path / "mols.sdf", molecules)
    back = uio.read(tmp_path / "mols.sdf", kind="molecule3d")
    assert back.errors == []
    for before, after in zip(molecules, back.records):
        _assert_same_molecule3d(before, after, atol=1e-4)
    assert back.records[0].meta["name"] == "water"
    # bonds were inferred from distances, so the heavy-atom graph is methane / water
    assert [g.meta["smiles"] for g in uio.read(tmp_path / "mols.sdf").records] == ["O", "C"]


@pytest.mark.parametrize("suffix", [".xyz", ".extxyz", ".xyz.gz"])
def test_xyz_round_trip_of_molecules_and_crystals(tmp_path, suffix):
    structures = [_water(), _triclinic(1), _methane()]
    uio.write(tmp_path / f"frames{suffix}", structures)
    back = uio.read(tmp_path / f"frames{suffix}")
    assert back.errors == []
    assert [type(s) for s in back.records] == [Molecule3D, Crystal, Molecule3D]
    _assert_same_molecule3d(structures[0], back.records[0], atol=1e-9)
    _assert_same_crystal(structures[1], back.records[1], atol=1e-9)
    _assert_same_molecule3d(structures[2], back.records[2], atol=1e-9)
    assert back.records[0].meta.get("name", back.records[0].meta.get("comment")) == "water"


def test_cif_round_trip_keeps_species_positions_and_cell(tmp_path):
    crystals = [_triclinic(0), _triclinic(2, numbers=(3, 3, 25, 8, 8, 8, 8))]
    uio.write(tmp_path / "many.cif", crystals)
    back = uio.read(tmp_path / "many.cif")
    assert back.errors == []
    assert [c.meta["name"] for c in back.records] == ["random0", "random2"]
    for before, after in zip(crystals, back.records):
        _assert_same_crystal(_sorted_sites(before), _sorted_sites(after), atol=1e-6, same_orientation=False)


def test_cif_writer_makes_repeated_block_names_unique(tmp_path):
    crystal = _triclinic(0)
    uio.write(tmp_path / "same.cif", [crystal, crystal, crystal])
    assert [c.meta["name"] for c in uio.read(tmp_path / "same.cif").records] == [
        "random0",
        "random0_2",
        "random0_3",
    ]


def test_poscar_round_trip_is_exact(tmp_path):
    crystal = _triclinic(3)
    uio.write(tmp_path / "POSCAR", [crystal])
    back = uio.read(tmp_path / "POSCAR")
    assert back.errors == [] and back.records[0].meta["name"] == "random3"
    _assert_same_crystal(crystal, back.records[0], atol=1e-12)


def _graphs():
    rng = np.random.default_rng(0)
    random = Graph.from_adjacency(np.triu(rng.random((9, 9)) < 0.3, 1))
    return [
        Graph(4, [[0, 1, 2], [1, 2, 3]], meta={"name": "path4"}),
        Graph(6, [[0], [1]]),
        Graph(3, np.zeros((2, 0))),
        random,
    ]


@pytest.mark.parametrize("name", ["graphs.json", "graphs.edgelist"])
def test_graph_formats_round_trip_including_isolated_nodes(tmp_path, name):
    graphs = _graphs()
    uio.write(tmp_path / name, graphs)
    back = uio.read(tmp_path / name)
    assert back.errors == []
    assert [g.num_nodes for g in back.records] == [g.num_nodes for g in graphs]
    for before, after in zip(graphs, back.records):
        np.testing.assert_array_equal(before.edge_index, after.edge_index)


def test_every_fixture_survives_a_read_write_read_cycle(tmp_path):
    """Structures read from the hand-made fixtures come back equal after writing."""
    for fixture, out in [
        ("frames.extxyz", "a.extxyz"),
        ("rutile_symops.cif", "a.xyz"),
        ("POSCAR_Si", "b.extxyz"),
        ("graphs.json", "a.edgelist"),
    ]:
        first = uio.read(FIXTURES / fixture)
        uio.write(tmp_path / out, first.records)
        second = uio.read(tmp_path / out)
        assert len(second) == len(first) and second.errors == []
        for a, b in zip(first.records, second.records):
            assert type(a) is type(b)
            if isinstance(a, Crystal):
                _assert_same_crystal(a, b, atol=1e-9)


@pytest.mark.parametrize("suffix", [".smi", ".csv"])
def test_smiles_writers_keep_molgraph_names(tmp_path, suffix):
    named = smiles_to_graph("CCO")
    named.meta["name"] = "ethanol (96%)"
    uio.write(tmp_path / f"n{suffix}", [named, smiles_to_graph("CC"), "CN"])
    back = uio.read(tmp_path / f"n{suffix}")
    assert [g.meta.get("name") for g in back.records] == ["ethanol (96%)", None, None]
