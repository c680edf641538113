"""Conversions between unigen structures and the objects of RDKit, pymatgen, ASE, networkx, PyG.

The single owner of these conversions: readers, datasets, metrics and models call these
functions rather than building RDKit molecules or pymatgen structures themselves.
Protocol-specific molecule constructions used by published metrics (GDSS's +1 charge rule,
DiGress's charge-free build) belong to ``unigen.chem.validity``.

Heavy libraries are imported inside the functions that need them, so importing this module
is cheap.
"""

from __future__ import annotations

import numpy as np

from unigen.structures import (
    BOND_AROMATIC,
    BOND_DOUBLE,
    BOND_NONE,
    BOND_SINGLE,
    BOND_TRIPLE,
    Crystal,
    Graph,
    Molecule3D,
    MolGraph,
)

# ---------------------------------------------------------------------------------------
# RDKit <-> MolGraph


def element_symbol(z: int) -> str:
    """Atomic number -> element symbol (RDKit's periodic table)."""
    from rdkit import Chem

    return Chem.GetPeriodicTable().GetElementSymbol(int(z))


def _bond_codes():
    from rdkit import Chem

    bt = Chem.BondType
    to_code = {
        bt.SINGLE: BOND_SINGLE,
        bt.DOUBLE: BOND_DOUBLE,
        bt.TRIPLE: BOND_TRIPLE,
        bt.AROMATIC: BOND_AROMATIC,
    }
    to_type = {code: rd for rd, code in to_code.items()}
    return to_code, to_type


def mol_to_graph(
    mol, kekulize: bool = True, explicit_hs: bool = False, keep_h_counts: bool = False
) -> MolGraph:
    """RDKit Mol -> MolGraph.

    kekulize: bonds as single/double (the GDSS / DiGress representation) instead of aromatic.
    explicit_hs: hydrogens become graph nodes (QM9 "with H" settings).
    keep_h_counts: store each atom's total H count in ``num_hs`` so that ``graph_to_mol``
        restores it exactly (needed for aromatic [nH] and for radicals); generative models
        leave it off and let valence rules supply hydrogens.
    """
    from rdkit import Chem

    if explicit_hs:
        mol = Chem.AddHs(mol)
    else:
        mol = Chem.RemoveHs(mol, sanitize=False)
        mol.UpdatePropertyCache(strict=False)  # removed H atoms become implicit Hs (kekulization needs them)
    if kekulize:
        mol = Chem.Mol(mol)
        Chem.Kekulize(mol, clearAromaticFlags=True)
    to_code, _ = _bond_codes()
    n = mol.GetNumAtoms()
    numbers, charges = np.zeros(n, np.int64), np.zeros(n, np.int8)
    num_hs = np.zeros(n, np.int8) if keep_h_counts else None
    for k in range(n):  # one pass over the atoms: RDKit's Python wrappers dominate the cost
        atom = mol.GetAtomWithIdx(k)
        numbers[k], charges[k] = atom.GetAtomicNum(), atom.GetFormalCharge()
        if keep_h_counts:
            num_hs[k] = atom.GetTotalNumHs()
    bonds = np.zeros((n, n), np.int8)
    for bond in mol.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        code = to_code.get(bond.GetBondType())
        if code is None:
            raise ValueError(f"unsupported bond type {bond.GetBondType()} between atoms {i} and {j}")
        bonds[i, j] = bonds[j, i] = code
    return MolGraph(atomic_numbers=numbers, bonds=bonds, charges=charges, num_hs=num_hs)


def graph_to_mol(graph: MolGraph, sanitize: bool = True):
    """MolGraph -> RDKit Mol. Raises ValueError when RDKit sanitisation fails."""
    from rdkit import Chem

    _, to_type = _bond_codes()
    mol = Chem.RWMol()
    for k, (z, charge) in enumerate(zip(graph.atomic_numbers.tolist(), graph.charges.tolist())):
        atom = Chem.Atom(int(z))
        atom.SetFormalCharge(int(charge))
        if graph.num_hs is not None:
            atom.SetNumExplicitHs(int(graph.num_hs[k]))
            atom.SetNoImplicit(True)
        mol.AddAtom(atom)
    rows, cols = np.nonzero(np.triu(graph.bonds, 1))
    for i, j in zip(rows.tolist(), cols.tolist()):
        code = int(graph.bonds[i, j])
        mol.AddBond(i, j, to_type[code])
        if code == BOND_AROMATIC:
            mol.GetBondBetweenAtoms(i, j).SetIsAromatic(True)
            mol.GetAtomWithIdx(i).SetIsAromatic(True)
            mol.GetAtomWithIdx(j).SetIsAromatic(True)
    mol = mol.GetMol()
    if sanitize:
        try:
            Chem.SanitizeMol(mol)
        except Exception as err:  # RDKit raises several exception types, all "invalid molecule"
            raise ValueError(f"RDKit sanitisation failed: {err}") from None
    return mol


def parse_smiles(smiles: str):
    """SMILES -> sanitised RDKit Mol; ValueError (with the SMILES) when RDKit rejects it."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles) if isinstance(smiles, str) and smiles.strip() else None
    if mol is None:
        raise ValueError(f"invalid SMILES {smiles!r}")
    return mol


def smiles_to_graph(
    smiles: str, kekulize: bool = True, explicit_hs: bool = False, keep_h_counts: bool = False
) -> MolGraph:
    """SMILES -> MolGraph (meta["smiles"] keeps the input). ValueError on a bad SMILES."""
    graph = mol_to_graph(
        parse_smiles(smiles), kekulize=kekulize, explicit_hs=explicit_hs, keep_h_counts=keep_h_counts
    )
    graph.meta["smiles"] = smiles
    return graph


def graph_to_smiles(graph: MolGraph) -> str:
    """MolGraph -> canonical SMILES. ValueError when the graph is not a valid molecule."""
    from rdkit import Chem

    return Chem.MolToSmiles(graph_to_mol(graph))


def canonical_smiles(smiles_or_mol, isomeric: bool = True) -> str | None:
    """Canonical RDKit SMILES of a SMILES string or Mol; None when it does not parse."""
    from rdkit import Chem

    if isinstance(smiles_or_mol, str):
        try:
            smiles_or_mol = parse_smiles(smiles_or_mol)
        except ValueError:
            return None
    if smiles_or_mol is None:
        return None
    return Chem.MolToSmiles(smiles_or_mol, isomericSmiles=isomeric)


# ---------------------------------------------------------------------------------------
# 3D molecules <-> RDKit, ASE


def mol3d_to_rdkit(mol3d: Molecule3D, bonds: str = "edm", sanitize: bool = False):
    """Molecule3D -> RDKit Mol with one conformer.

    bonds: "edm" infers bond orders from distances with the EDM bond-length tables
    (``unigen.chem.bonds``), "rdkit" uses RDKit's rdDetermineBonds (connectivity + orders,
    neutral total charge), "none" adds no bonds. The result is unsanitised unless
    ``sanitize`` (ValueError if that fails).
    """
    from rdkit import Chem
    from rdkit.Geometry import Point3D

    if bonds not in ("edm", "rdkit", "none"):
        raise ValueError(f"bonds must be 'edm', 'rdkit' or 'none', got {bonds!r}")
    rw = Chem.RWMol()
    for z in mol3d.atomic_numbers.tolist():
        rw.AddAtom(Chem.Atom(int(z)))
    if bonds == "edm":
        _add_edm_bonds(rw, mol3d)
    conf = Chem.Conformer(mol3d.num_atoms)
    for k, (x, y, z) in enumerate(mol3d.positions.tolist()):
        conf.SetAtomPosition(k, Point3D(x, y, z))
    mol = rw.GetMol()
    mol.AddConformer(conf, assignId=True)
    if bonds == "rdkit":
        from rdkit.Chem import rdDetermineBonds

        mol = Chem.Mol(mol)
        rdDetermineBonds.DetermineBonds(mol, charge=0)
    if sanitize:
        try:
            Chem.SanitizeMol(mol)
        except Exception as err:
            raise ValueError(f"RDKit sanitisation failed: {err}") from None
    return mol


def _add_edm_bonds(rw, mol3d: Molecule3D) -> None:
    from unigen.chem.bonds import infer_bond_orders

    _, to_type = _bond_codes()
    orders = infer_bond_orders(mol3d.atomic_numbers, mol3d.positions)
    rows, cols = np.nonzero(np.triu(orders, 1))
    for i, j in zip(rows.tolist(), cols.tolist()):
        rw.AddBond(i, j, to_type[int(orders[i, j])])


def rdkit_to_mol3d(mol, conf_id: int = -1) -> Molecule3D:
    """RDKit Mol with a conformer -> Molecule3D (all atoms present in the Mol, H included)."""
    if mol.GetNumConformers() == 0:
        raise ValueError("molecule has no 3D conformer")
    positions = mol.GetConformer(conf_id).GetPositions()
    numbers = [a.GetAtomicNum() for a in mol.GetAtoms()]
    return Molecule3D(numbers, positions)


def mol3d_to_ase(mol3d: Molecule3D):
    from ase import Atoms

    return Atoms(numbers=mol3d.atomic_numbers, positions=mol3d.positions)


def ase_to_mol3d(atoms) -> Molecule3D:
    return Molecule3D(atoms.get_atomic_numbers(), atoms.get_positions())


# ---------------------------------------------------------------------------------------
# Crystals <-> pymatgen, ASE


def crystal_to_pymatgen(crystal: Crystal):
    from pymatgen.core import Lattice, Structure

    return Structure(Lattice(crystal.lattice), crystal.atomic_numbers.tolist(), crystal.frac_coords)


def pymatgen_to_crystal(structure) -> Crystal:
    """pymatgen Structure -> Crystal. ValueError on partial occupancy or dummy species."""
    if not structure.is_ordered:
        disordered = next(i for i, site in enumerate(structure) if not site.is_ordered)
        raise ValueError(
            f"site {disordered} is partially occupied ({structure[disordered].species}); unigen needs ordered structures"
        )
    try:
        numbers = [site.specie.Z for site in structure]
    except AttributeError as err:
        raise ValueError(f"structure has a species without an atomic number: {err}") from None
    return Crystal(numbers, np.mod(structure.frac_coords, 1.0), structure.lattice.matrix.copy())


def crystal_to_ase(crystal: Crystal):
    from ase import Atoms

    return Atoms(
        numbers=crystal.atomic_numbers, scaled_positions=crystal.frac_coords, cell=crystal.lattice, pbc=True
    )


def ase_to_crystal(atoms) -> Crystal:
    if not atoms.pbc.all() or atoms.cell.rank != 3:
        raise ValueError("ASE Atoms is not periodic in 3 dimensions")
    return Crystal(atoms.get_atomic_numbers(), atoms.get_scaled_positions(wrap=True), atoms.cell.array.copy())


# ---------------------------------------------------------------------------------------
# Generic graphs <-> networkx, PyG


def graph_to_networkx(graph: Graph):
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(graph.num_nodes))
    g.add_edges_from(graph.edge_index.T.tolist())
    return g


def networkx_to_graph(g) -> Graph:
    """networkx graph -> Graph; nodes renumbered 0..n-1 in ``g.nodes`` order, self loops dropped."""
    index = {node: k for k, node in enumerate(g.nodes())}
    edges = np.array([(index[u], index[v]) for u, v in g.edges()], np.int64).reshape(-1, 2).T
    return Graph(len(index), edges)


def graph_to_pyg(graph: Graph):
    """Graph -> torch_geometric Data with both edge directions (PyG's undirected convention)."""
    import torch
    from torch_geometric.data import Data

    e = torch.from_numpy(graph.edge_index)
    return Data(edge_index=torch.cat([e, e.flip(0)], dim=1), num_nodes=graph.num_nodes)


def pyg_to_graph(data) -> Graph:
    return Graph(int(data.num_nodes), data.edge_index.cpu().numpy())


def molgraph_to_graph(graph: MolGraph) -> Graph:
    """Drop atom and bond labels: the bare connectivity of a molecular graph."""
    return Graph.from_adjacency(graph.bonds != BOND_NONE)
