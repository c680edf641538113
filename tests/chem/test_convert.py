"""Round trips through every conversion in unigen.chem.convert."""

import numpy as np
import pytest
from rdkit import Chem

from unigen.chem import convert
from unigen.structures import BOND_AROMATIC, BOND_DOUBLE, BOND_SINGLE, Crystal, Graph, Molecule3D

SMILES = [
    "CCO",
    "c1ccccc1",
    "c1cc[nH]c1",  # aromatic NH: needs H counts in aromatic mode
    "C[N+](=O)[O-]",  # formal charges
    "[NH3+]CC(=O)[O-]",  # zwitterion
    "O=C1NC(=O)C=C1",
    "FC(F)(F)c1ccncc1",
    "C#N",
    "N#N",
    "[CH3]",  # radical
]


@pytest.mark.parametrize("smiles", SMILES)
@pytest.mark.parametrize("kekulize", [True, False])
def test_smiles_graph_smiles_roundtrip_with_h_counts(smiles, kekulize):
    graph = convert.smiles_to_graph(smiles, kekulize=kekulize, keep_h_counts=True)
    assert convert.graph_to_smiles(graph) == convert.canonical_smiles(smiles)


@pytest.mark.parametrize("smiles", [s for s in SMILES if s != "[CH3]"])
def test_kekulized_roundtrip_without_h_counts(smiles):
    # the representation generative models use: atoms, bond orders, charges; H from valence
    graph = convert.smiles_to_graph(smiles)
    assert graph.num_hs is None
    assert convert.graph_to_smiles(graph) == convert.canonical_smiles(smiles)


def test_bond_codes_and_symmetry():
    kek = convert.smiles_to_graph("c1ccccc1")
    aro = convert.smiles_to_graph("c1ccccc1", kekulize=False)
    assert np.array_equal(kek.bonds, kek.bonds.T)
    assert sorted(kek.bonds[np.triu_indices(6, 1)][kek.bonds[np.triu_indices(6, 1)] > 0].tolist()) == [
        1,
        1,
        1,
        2,
        2,
        2,
    ]
    assert set(aro.bonds[aro.bonds > 0].tolist()) == {BOND_AROMATIC}
    assert kek.atomic_numbers.tolist() == [6] * 6


def test_formal_charges_kept():
    graph = convert.smiles_to_graph("C[N+](=O)[O-]")
    assert sorted(graph.charges.tolist()) == [-1, 0, 0, 1]


def test_explicit_hydrogens_become_nodes():
    graph = convert.smiles_to_graph("C", explicit_hs=True)
    assert graph.atomic_numbers.tolist() == [6, 1, 1, 1, 1]
    assert (graph.bonds[0, 1:] == BOND_SINGLE).all()
    assert convert.graph_to_smiles(graph) == "[H]C([H])([H])[H]"


def test_explicit_h_atoms_on_input_are_folded_into_heavy_atoms():
    phenol = Chem.AddHs(Chem.MolFromSmiles("c1ccccc1O"))  # e.g. read from an SDF with H atoms
    graph = convert.mol_to_graph(phenol)
    assert graph.num_atoms == 7
    assert convert.graph_to_smiles(graph) == convert.canonical_smiles("Oc1ccccc1")


def test_invalid_inputs_raise_value_error():
    with pytest.raises(ValueError, match="invalid SMILES"):
        convert.smiles_to_graph("C1CC")
    over_valent = convert.smiles_to_graph("C=C")
    over_valent.bonds[0, 1] = over_valent.bonds[1, 0] = 3
    over_valent.atomic_numbers[:] = 8  # O#O is over-valent
    with pytest.raises(ValueError, match="sanitisation"):
        convert.graph_to_mol(over_valent)
    assert convert.canonical_smiles("not a smiles") is None


def _ethanol_3d():
    mol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
    from rdkit.Chem import AllChem

    AllChem.EmbedMolecule(mol, randomSeed=0)
    return mol


def test_3d_molecule_rdkit_and_ase_roundtrip():
    mol3d = convert.rdkit_to_mol3d(_ethanol_3d())
    assert mol3d.num_atoms == 9
    back = convert.rdkit_to_mol3d(convert.mol3d_to_rdkit(mol3d, bonds="none"))
    np.testing.assert_allclose(back.positions, mol3d.positions, atol=1e-12)
    assert back.atomic_numbers.tolist() == mol3d.atomic_numbers.tolist()
    via_ase = convert.ase_to_mol3d(convert.mol3d_to_ase(mol3d))
    np.testing.assert_allclose(via_ase.positions, mol3d.positions)


def test_3d_molecule_rdkit_bond_perception_recovers_ethanol():
    mol3d = convert.rdkit_to_mol3d(_ethanol_3d())
    mol = convert.mol3d_to_rdkit(mol3d, bonds="rdkit", sanitize=True)
    assert convert.canonical_smiles(Chem.RemoveHs(mol)) == "CCO"


def test_molecule_without_conformer_is_refused():
    with pytest.raises(ValueError, match="conformer"):
        convert.rdkit_to_mol3d(Chem.MolFromSmiles("CC"))


def _rocksalt() -> Crystal:
    frac = [[0, 0, 0], [0.5, 0.5, 0.5]]
    return Crystal([11, 17], frac, np.eye(3) * 4.0 + 0.1 * np.eye(3)[[1, 2, 0]])


def test_crystal_pymatgen_and_ase_roundtrip():
    crystal = _rocksalt()
    for there, back in [
        (convert.crystal_to_pymatgen, convert.pymatgen_to_crystal),
        (convert.crystal_to_ase, convert.ase_to_crystal),
    ]:
        out = back(there(crystal))
        assert out.atomic_numbers.tolist() == [11, 17]
        np.testing.assert_allclose(out.frac_coords, crystal.frac_coords, atol=1e-12)
        np.testing.assert_allclose(out.lattice, crystal.lattice, atol=1e-12)


def test_partial_occupancy_is_refused():
    from pymatgen.core import Lattice, Structure

    disordered = Structure(Lattice.cubic(4.0), [{"Na": 0.5, "K": 0.5}, "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(ValueError, match="partially occupied"):
        convert.pymatgen_to_crystal(disordered)


def test_non_periodic_ase_atoms_refused():
    with pytest.raises(ValueError, match="periodic"):
        convert.ase_to_crystal(convert.mol3d_to_ase(Molecule3D([6], [[0, 0, 0]])))


def test_graph_networkx_and_pyg_roundtrip():
    graph = Graph(5, [[0, 1, 2, 3], [1, 2, 3, 0]])
    for there, back in [
        (convert.graph_to_networkx, convert.networkx_to_graph),
        (convert.graph_to_pyg, convert.pyg_to_graph),
    ]:
        out = back(there(graph))
        assert out.num_nodes == 5
        assert np.array_equal(out.edge_index, graph.edge_index)
    assert convert.graph_to_pyg(graph).edge_index.shape == (2, 8)


def test_networkx_nodes_with_labels_are_renumbered():
    import networkx as nx

    g = nx.Graph([("a", "b"), ("b", "c")])
    out = convert.networkx_to_graph(g)
    assert out.num_nodes == 3 and out.edge_index.tolist() == [[0, 1], [1, 2]]


def test_molgraph_connectivity():
    graph = convert.molgraph_to_graph(convert.smiles_to_graph("C=CC"))
    assert graph.edge_index.tolist() == [[0, 1], [1, 2]]
    assert BOND_DOUBLE in convert.smiles_to_graph("C=CC").bonds
