"""Validity and stability checks on hand-built molecules, crystals and graphs."""

import itertools

import networkx as nx
import numpy as np
import pytest
from conftest import requires_data
from rdkit import Chem

from unigen.chem import bonds, validity
from unigen.chem.convert import networkx_to_graph, smiles_to_graph
from unigen.structures import Crystal, Graph, Molecule3D, MolGraph

H, C, N, O = 1, 6, 7, 8


def smiles_of(mol):
    return None if mol is None else Chem.MolToSmiles(mol)


def canonical(smiles):
    return Chem.MolToSmiles(Chem.MolFromSmiles(smiles))


def graph(numbers, bond_list):
    """MolGraph from (i, j, order) triples, no charges."""
    b = np.zeros((len(numbers), len(numbers)), np.int8)
    for i, j, order in bond_list:
        b[i, j] = b[j, i] = order
    return MolGraph(numbers, b)


# ---------------------------------------------------------------------------------------
# Geometry fixtures (Angstrom)

TETRAHEDRON = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)


def methane(ch=1.09):
    return Molecule3D([C, H, H, H, H], np.vstack([np.zeros(3), ch * TETRAHEDRON]))


def kekule_benzene(single=1.47, double=1.34, ch=1.09):
    """Hexagon with alternating side lengths (closes because the 120 degree steps cancel)."""
    ring, point = [], np.zeros(3)
    for k in range(6):
        ring.append(point.copy())
        angle = np.pi / 3 * k
        point = point + (double if k % 2 == 0 else single) * np.array([np.cos(angle), np.sin(angle), 0])
    ring = np.array(ring)
    outward = ring - ring.mean(0)
    hs = ring + ch * outward / np.linalg.norm(outward, axis=1, keepdims=True)
    return Molecule3D([C] * 6 + [H] * 6, np.vstack([ring, hs]))


def ethanol():
    mol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
    from rdkit.Chem import AllChem

    AllChem.EmbedMolecule(mol, randomSeed=7)
    AllChem.MMFFOptimizeMolecule(mol)
    return Molecule3D([a.GetAtomicNum() for a in mol.GetAtoms()], mol.GetConformer().GetPositions())


def reference_stability(mol3d):
    """EDM's check_stability written as upstream does: pair loop, dict lookups."""
    symbol = {1: "H", 6: "C", 7: "N", 8: "O", 9: "F"}
    valence = np.zeros(mol3d.num_atoms, int)
    for i, j in itertools.combinations(range(mol3d.num_atoms), 2):
        a, b = symbol[mol3d.atomic_numbers[i]], symbol[mol3d.atomic_numbers[j]]
        d = 100 * np.linalg.norm(mol3d.positions[i] - mol3d.positions[j])
        order = 0
        if d < lookup(bonds.SINGLE_BOND_PM, a, b) + 10:
            order = 1
            if d < lookup(bonds.DOUBLE_BOND_PM, a, b) + 5:
                order = 3 if d < lookup(bonds.TRIPLE_BOND_PM, a, b) + 3 else 2
        valence[i] += order
        valence[j] += order
    stable = sum(v in bonds.ALLOWED_VALENCES[symbol[z]] for z, v in zip(mol3d.atomic_numbers, valence))
    return stable == mol3d.num_atoms, stable, mol3d.num_atoms


def lookup(table, a, b):
    return table.get(f"{a}-{b}", table.get(f"{b}-{a}", -np.inf))


# ---------------------------------------------------------------------------------------
# Bond orders and 3D stability


@pytest.mark.parametrize(
    "distance, order",
    [(1.18, 3), (1.2299, 3), (1.2301, 2), (1.3899, 2), (1.3901, 1), (1.40, 1), (1.6399, 1), (1.6401, 0)],
)
def test_carbon_carbon_bond_order_thresholds(distance, order):
    # C-C: single < 154 + 10 pm, double < 134 + 5 pm, triple < 120 + 3 pm
    orders = bonds.infer_bond_orders([C, C], [[0, 0, 0], [distance, 0, 0]])
    assert orders[0, 1] == orders[1, 0] == order
    assert orders[0, 0] == orders[1, 1] == 0


def test_pairs_without_table_entry_never_bond():
    assert bonds.infer_bond_orders([C, 80], [[0, 0, 0], [1.0, 0, 0]])[0, 1] == 0  # C-Hg not tabulated


def test_atomic_number_outside_tables_is_rejected():
    with pytest.raises(ValueError, match="atomic numbers"):
        bonds.infer_bond_orders([C, 92], [[0, 0, 0], [1.5, 0, 0]])


@pytest.mark.parametrize(
    "mol3d", [methane(), kekule_benzene(), ethanol()], ids=["methane", "benzene", "ethanol"]
)
def test_small_molecules_are_stable(mol3d):
    assert validity.stability_3d(mol3d) == (True, mol3d.num_atoms, mol3d.num_atoms)


def test_benzene_with_equal_aromatic_bonds_is_unstable_under_edm():
    # 1.40 A is above the C=C threshold (139 pm): every ring bond is single, carbons have valence 3
    assert validity.stability_3d(kekule_benzene(single=1.40, double=1.40)) == (False, 6, 12)


def test_five_valent_carbon_is_unstable():
    m = methane()
    extra = Molecule3D(np.append(m.atomic_numbers, H), np.vstack([m.positions, [[0, 0, -1.09]]]))
    assert validity.stability_3d(extra) == (False, 5, 6)  # the carbon fails, the five H pass


def test_stability_is_permutation_invariant_and_batch_matches_single():
    rng = np.random.default_rng(0)
    molecules = [methane(), kekule_benzene(), ethanol(), kekule_benzene(single=1.40, double=1.40)]
    noisy = [
        Molecule3D(m.atomic_numbers, m.positions + rng.normal(0, 0.08, m.positions.shape))
        for m in molecules * 5
    ]
    stable, n_stable, n_atoms = validity.stability_3d_batch(noisy, chunk_size=3)
    for k, m in enumerate(noisy):
        perm = rng.permutation(m.num_atoms)
        permuted = Molecule3D(m.atomic_numbers[perm], m.positions[perm])
        expected = reference_stability(m)
        assert validity.stability_3d(m) == validity.stability_3d(permuted) == expected
        assert (stable[k], n_stable[k], n_atoms[k]) == expected


def test_stability_rates_pool_atoms_over_molecules():
    rates = validity.stability_rates(np.array([True, False]), np.array([5, 5]), np.array([5, 10]))
    assert rates == {"atom_stability": 10 / 15, "molecule_stability": 0.5}


def test_charged_valence_table():
    allowed = bonds.valence_allowed([N, N, N, O, C], [4, 4, 2, 3, 4], charges=[1, 0, -1, 1, 2])
    assert allowed.tolist() == [True, False, True, True, True]  # C ignores its charge (MiDi)
    assert bonds.valence_allowed([N], [4]).tolist() == [False]  # EDM table: neutral only
    assert bonds.valence_allowed([C], [4.5]).tolist() == [False]


def test_explicit_h_graph_stability():
    methane_graph = graph([C, H, H, H, H], [(0, k, 1) for k in range(1, 5)])
    assert validity.stability_graph(methane_graph) == (True, 5, 5)
    ammonium = graph([N, H, H, H, H], [(0, k, 1) for k in range(1, 5)])
    assert validity.stability_graph(ammonium) == (False, 4, 5)
    ammonium.charges[0] = 1
    assert validity.stability_graph(ammonium, use_charges=True) == (True, 5, 5)


def test_edm_3d_validity():
    heavy_smiles = lambda mol: Chem.MolToSmiles(Chem.RemoveHs(mol))  # noqa: E731
    assert heavy_smiles(validity.valid_mol_3d(kekule_benzene())) == "c1ccccc1"
    assert heavy_smiles(validity.valid_mol_3d(ethanol())) == "CCO"
    # all-single bonds (GEOM protocol): each ring carbon gets an implicit H -> cyclohexane
    assert heavy_smiles(validity.valid_mol_3d(kekule_benzene(), single_bonds=True)) == "C1CCCCC1"
    m = methane()
    squashed = Molecule3D(np.append(m.atomic_numbers, H), np.vstack([m.positions, [[0, 0, -1.09]]]))
    assert validity.valid_mol_3d(squashed) is None  # five-valent carbon


@requires_data("qm9", "qm9_3d_qm9pack_core.csv.gz")
def test_qm9_dft_geometries_are_mostly_stable():
    import ast
    import csv
    import gzip

    from conftest import data_path

    symbol_to_z = {"H": 1, "C": 6, "N": 7, "O": 8, "F": 9}
    molecules = []
    with gzip.open(data_path("qm9", "qm9_3d_qm9pack_core.csv.gz"), "rt", newline="") as handle:
        for row in itertools.islice(csv.DictReader(handle), 500):
            numbers = [symbol_to_z[s] for s in ast.literal_eval(row["Elements"])]
            molecules.append(Molecule3D(numbers, ast.literal_eval(row["XYZ_Ang"])))
    rates = validity.stability_rates(*validity.stability_3d_batch(molecules))
    assert rates["atom_stability"] > 0.98 and rates["molecule_stability"] > 0.9  # EDM: 99.0 / 95.2 on all


# ---------------------------------------------------------------------------------------
# 2D molecule validity


@pytest.mark.parametrize("smiles", ["C", "CCO", "c1ccccc1", "O=C(O)c1ccccc1N", "C#N"])
@pytest.mark.parametrize("protocol", validity.PROTOCOLS)
def test_dataset_molecules_are_valid(smiles, protocol):
    assert smiles_of(validity.valid_mol(smiles_to_graph(smiles), protocol)) == canonical(smiles)


def test_aromatic_bond_codes_are_accepted():
    benzene = smiles_to_graph("c1ccccc1", kekulize=False)
    assert (benzene.bonds == 4).sum() == 12
    assert smiles_of(validity.valid_mol(benzene, "digress")) == "c1ccccc1"


def test_nitro_group_gets_the_gdss_charge():
    nitro = graph([C, N, O, O], [(0, 1, 1), (1, 2, 2), (1, 3, 1)])  # charges dropped: N has valence 4
    assert smiles_of(validity.valid_mol(nitro, "gdss")) == canonical("C[N+](=O)O")
    assert validity.valid_mol(nitro, "digress") is None
    assert smiles_of(validity.valid_mol(nitro, "digress_relaxed")) == canonical("C[N+](=O)O")
    charged = smiles_to_graph("C[N+](=O)[O-]")  # the graph's own charges are kept
    assert smiles_of(validity.valid_mol(charged, "digress")) == canonical("C[N+](=O)[O-]")


def test_charge_rule_only_for_one_extra_bond_on_n_o_s():
    ammonium = graph([C, N, C, C, C], [(1, k, 1) for k in (0, 2, 3, 4)])
    assert smiles_of(validity.valid_mol(ammonium, "gdss")) == canonical("C[N+](C)(C)C")
    five_valent_n = graph([C, N, C, C, C, C], [(1, k, 1) for k in (0, 2, 3, 4, 5)])
    assert validity.valid_mol(five_valent_n, "gdss") is None
    assert validity.valid_mol(five_valent_n, "digress_relaxed") is None


def test_check_valency_names_the_first_overvalent_atom():
    mol = validity.build_molecule(graph([C, C, N, C, C, C], [(2, k, 1) for k in (0, 1, 3, 4, 5)]), "digress")
    assert validity.check_valency(mol) == (False, (2, 5))
    assert validity.check_valency(Chem.RWMol(Chem.MolFromSmiles("CCO"))) == (True, None)


def test_gdss_correction_of_five_valent_carbon():
    star = graph([C] * 6, [(0, k, 1) for k in range(1, 6)])
    assert validity.valid_mol(star, "gdss") is None
    valid_without_correction, mol = validity.gdss_postprocess(star)
    # the first bond added, (1, 0), is removed: neopentane plus a lone methane
    assert not valid_without_correction and smiles_of(mol) == canonical("CC(C)(C)C")


def test_valency_correction_lowers_the_highest_order_bond_first():
    mol = Chem.RWMol()
    for z in (C, O, C):
        mol.AddAtom(Chem.Atom(z))
    mol.AddBond(0, 1, Chem.BondType.DOUBLE)
    mol.AddBond(1, 2, Chem.BondType.SINGLE)
    corrected, ok_before = validity.valency_correction(mol)
    assert not ok_before and smiles_of(corrected) == "COC"
    assert mol.GetBondBetweenAtoms(0, 1).GetBondType() == Chem.BondType.DOUBLE  # input untouched


def test_largest_fragment_rules_differ_between_protocols():
    # cyclopropane (3 atoms, SMILES "C1CC1", 5 characters) + butane (4 atoms, "CCCC")
    g = graph([C] * 7, [(0, 1, 1), (1, 2, 1), (0, 2, 1), (3, 4, 1), (4, 5, 1), (5, 6, 1)])
    assert smiles_of(validity.valid_mol(g, "gdss")) == "C1CC1"  # longest SMILES string
    assert smiles_of(validity.valid_mol(g, "digress")) == "CCCC"  # most atoms


def test_rdkit_mol_input_and_bad_protocol():
    assert smiles_of(validity.valid_mol(Chem.MolFromSmiles("CCO.C"), "digress")) == "CCO"
    assert smiles_of(validity.valid_mol(Chem.MolFromSmiles("CC[N+](C)(C)C"), "gdss")) == canonical(
        "CC[N+](C)(C)C"
    )
    with pytest.raises(ValueError, match="protocol must be one of"):
        validity.valid_mol(smiles_to_graph("C"), "moses")


# ---------------------------------------------------------------------------------------
# Crystals


def rock_salt():
    return Crystal([11, 17], [[0, 0, 0], [0.5, 0.5, 0.5]], np.eye(3) * 5.64)


def brute_force_min_distance(crystal, reach=6):
    shifts = np.array(list(itertools.product(range(-reach, reach + 1), repeat=3)))
    best = np.inf
    for i, j in itertools.combinations(range(crystal.num_atoms), 2):
        d = (crystal.frac_coords[j] - crystal.frac_coords[i] + shifts) @ crystal.lattice
        best = min(best, np.linalg.norm(d, axis=1).min())
    return best


def test_rock_salt_is_structurally_valid():
    assert validity.structural_validity(rock_salt())
    assert validity.min_interatomic_distance(rock_salt()) == pytest.approx(5.64 * np.sqrt(3) / 2)


def test_close_contact_across_the_periodic_boundary_is_invalid():
    crystal = Crystal(
        [C, C], [[0.01, 0.5, 0.5], [0.95, 0.5, 0.5]], np.eye(3) * 5.0
    )  # 0.3 A apart via the image
    assert validity.min_interatomic_distance(crystal) == pytest.approx(0.3)
    assert not validity.structural_validity(crystal)
    assert validity.structural_validity(crystal, cutoff=0.25)


def test_min_distance_in_skewed_cells_matches_brute_force():
    rng = np.random.default_rng(1)
    for _ in range(20):
        lattice = np.array([[4.0, 0, 0], [3.7, 1.5, 0], [3.9, 1.2, 1.1]]) + rng.normal(0, 0.3, (3, 3))
        crystal = Crystal([C] * 4, rng.random((4, 3)), lattice)
        shifted = Crystal([C] * 4, crystal.frac_coords + rng.integers(-2, 3, (4, 3)), lattice)
        expected = brute_force_min_distance(crystal)
        assert validity.min_interatomic_distance(crystal) == pytest.approx(expected)
        assert validity.min_interatomic_distance(shifted) == pytest.approx(expected)
        assert validity.structural_validity(crystal) == (expected >= 0.5 and crystal.volume >= 0.1)


def test_small_volume_and_bad_cells_are_invalid():
    assert not validity.structural_validity(Crystal([C], [[0, 0, 0]], np.diag([0.2, 0.2, 2.0])))  # 0.08 A^3
    assert not validity.structural_validity(
        Crystal([C, C], [[0, 0, 0], [0.5, 0.5, 0.5]], np.full((3, 3), np.nan))
    )
    assert not validity.structural_validity(Crystal([], np.zeros((0, 3)), np.eye(3)))


def test_self_images_count_only_when_asked():
    thin = Crystal([C], [[0, 0, 0]], np.diag([0.3, 5.0, 5.0]))  # an atom 0.3 A from its own image
    assert validity.structural_validity(thin)  # CDVAE ignores an atom's own images
    assert not validity.structural_validity(thin, include_self_images=True)
    assert validity.min_interatomic_distance(thin, include_self_images=True) == pytest.approx(0.3)


@pytest.mark.parametrize(
    "numbers, expected",
    [
        ([11, 17], True),  # NaCl
        ([11, 17, 17], False),  # NaCl2: no neutral oxidation states
        ([11, 11, 17, 17], True),  # counts reduced by their gcd
        ([26, 26, 8, 8, 8], True),  # Fe2O3
        ([12, 8], True),  # MgO
        ([29, 30], True),  # CuZn: all metals (alloy)
        ([6, 6, 6], True),  # one element
        ([2, 8], False),  # He has no oxidation states
        ([56, 22, 8, 8, 8], True),  # BaTiO3 perovskite
    ],
)
def test_compositional_validity(numbers, expected):
    assert validity.compositional_validity(numbers) is expected


def test_compositional_validity_rejects_unknown_elements():
    with pytest.raises(ValueError, match="atomic numbers"):
        validity.compositional_validity([0, 8])


def test_pauling_rule_with_missing_electronegativity_follows_cdvae():
    assert validity._pauling_ok((1, -1), (0.9, 3.2))
    assert not validity._pauling_ok((1, -1), (3.2, 0.9))  # cation more electronegative than anion
    assert validity._pauling_ok((1, -1), (None, 3.2))  # TypeError upstream, counted as passing
    assert not validity._pauling_ok((1, 1, -2), (None, 1.0, 3.4))  # same-sign pair with no data fails


@requires_data("perov_5", "test.csv")
def test_perovskite_test_crystals_are_structurally_valid():
    import csv

    from conftest import data_path
    from pymatgen.core import Structure

    from unigen.chem.convert import pymatgen_to_crystal

    csv.field_size_limit(1 << 24)
    with open(data_path("perov_5", "test.csv"), newline="") as handle:
        rows = list(itertools.islice(csv.DictReader(handle), 50))
    crystals = [pymatgen_to_crystal(Structure.from_str(r["cif"], fmt="cif")) for r in rows]
    assert all(validity.structural_validity(c) for c in crystals)


# ---------------------------------------------------------------------------------------
# Generic graphs


def test_graph_shapes():
    path, cycle = networkx_to_graph(nx.path_graph(6)), networkx_to_graph(nx.cycle_graph(6))
    assert validity.is_tree(path) and validity.is_connected(path) and validity.is_planar(path)
    assert not validity.is_tree(cycle) and validity.is_planar(cycle)
    assert not validity.is_planar(networkx_to_graph(nx.complete_graph(5)))
    assert not validity.is_planar(networkx_to_graph(nx.complete_bipartite_graph(3, 3)))
    two_edges = Graph(4, [[0, 2], [1, 3]])
    assert not validity.is_connected(two_edges) and not validity.is_tree(two_edges)
    assert validity.is_planar(two_edges) and not validity.graph_validity(two_edges, "planar")
    assert not validity.is_connected(Graph(0, np.zeros((2, 0)))) and not validity.is_tree(
        Graph(0, np.zeros((2, 0)))
    )
    with pytest.raises(ValueError, match="kind must be one of"):
        validity.graph_validity(path, "grid")


def planted_sbm(sizes, p_intra=0.3, p_inter=0.005, seed=0):
    probs = np.full((len(sizes), len(sizes)), p_inter) + np.eye(len(sizes)) * (p_intra - p_inter)
    return nx.stochastic_block_model(sizes, probs.tolist(), seed=seed)


def test_sbm_partition_is_recovered_and_accepted():
    g = planted_sbm([30, 25, 35])
    labels = validity.fit_sbm_blocks(nx.to_numpy_array(g))
    planted = np.repeat([0, 1, 2], [30, 25, 35])
    assert len(set(zip(labels.tolist(), planted.tolist()))) == 3  # same partition up to names
    assert validity.is_sbm(networkx_to_graph(g))


def test_non_sbm_graphs_are_rejected():
    assert not validity.is_sbm(networkx_to_graph(nx.gnp_random_graph(90, 0.1, seed=0)))
    assert not validity.is_sbm(networkx_to_graph(planted_sbm([10, 12])))  # blocks below 20 nodes
    assert not validity.is_sbm(networkx_to_graph(nx.path_graph(60)))


def test_sbm_wald_pvalue_by_hand():
    labels = np.repeat([0, 1], 20)
    a = np.zeros((40, 40))
    for block in (range(20), range(20, 40)):
        pairs = list(itertools.combinations(block, 2))[:57]  # 57 / 190 = 0.3 intra density
        for i, j in pairs:
            a[i, j] = a[j, i] = 1
    for i, j in [(0, 20), (1, 21)]:  # 2 / 400 = 0.005 inter density
        a[i, j] = a[j, i] = 1
    assert validity.sbm_wald_pvalue(a, labels, 0.3, 0.005) == pytest.approx(1.0, abs=1e-6)
    from scipy.stats import chi2

    wald_intra = (0.3 - 0.15) ** 2 / (0.3 * 0.7)  # test against p_intra=0.15 instead
    expected = (2 * (1 - chi2.cdf(wald_intra, 1)) + 2 * 1.0) / 4
    assert validity.sbm_wald_pvalue(a, labels, 0.15, 0.005) == pytest.approx(expected, abs=1e-5)
