"""PARD's partial order: hand-checked blocks, exact weights, permutation equivariance."""

import numpy as np
import pytest
from conftest import data_path, requires_data

from unigen.tokenizers.blocks import (
    BlockDecomposition,
    binary_adjacency,
    block_decomposition,
    hop_weighted_degree,
    peel,
)


def graph(n, edges) -> np.ndarray:
    a = np.zeros((n, n), np.int64)
    for i, j in edges:
        a[i, j] = a[j, i] = 1
    return a


def random_graph(rng, n, p) -> np.ndarray:
    upper = np.triu(rng.random((n, n)) < p, 1)
    return (upper | upper.T).astype(np.int64)


def permuted(a, perm) -> np.ndarray:
    """Relabel: new node i is old node perm[i]."""
    return a[np.ix_(perm, perm)]


def assert_equivariant(a, hops, rng, trials=5):
    """psi(pi . G) = pi . psi(G): block ids move with the nodes; sizes and degrees stay."""
    base = block_decomposition(a, hops)
    for _ in range(trials):
        perm = rng.permutation(len(a))
        moved = block_decomposition(permuted(a, perm), hops)
        np.testing.assert_array_equal(moved.node_block, base.node_block[perm])
        np.testing.assert_array_equal(moved.block_sizes, base.block_sizes)
        np.testing.assert_array_equal(moved.block_degrees, base.block_degrees)
        np.testing.assert_array_equal(moved.edge_blocks(), permuted(base.edge_blocks(), perm))


HAND_CHECKED = {
    # name: (n, edges, node_block, block_sizes, block_degrees)
    "path3": (3, [(0, 1), (1, 2)], [1, 0, 1], [1, 2], [0, 1]),
    "path4": (4, [(0, 1), (1, 2), (2, 3)], [1, 0, 0, 1], [2, 2], [1, 1]),
    "star": (4, [(0, 1), (0, 2), (0, 3)], [0, 1, 1, 1], [1, 3], [0, 1]),
    "triangle": (3, [(0, 1), (1, 2), (0, 2)], [0, 0, 0], [3], [2]),
    "triangle+edge": (5, [(0, 1), (1, 2), (0, 2), (3, 4)], [0, 0, 0, 1, 1], [3, 2], [2, 1]),
    "edge+isolated": (3, [(1, 2)], [1, 0, 0], [2, 1], [1, 0]),
    "single": (1, [], [0], [1], [0]),
    "empty": (0, [], [], [], []),
}


@pytest.mark.parametrize("name", HAND_CHECKED)
def test_hand_checked_blocks(name):
    n, edges, node_block, sizes, degrees = HAND_CHECKED[name]
    blocks = block_decomposition(graph(n, edges), hops=3)
    assert (
        isinstance(blocks, BlockDecomposition) and blocks.num_blocks == len(sizes) and blocks.num_nodes == n
    )
    np.testing.assert_array_equal(blocks.node_block, node_block)
    np.testing.assert_array_equal(blocks.block_sizes, sizes)
    np.testing.assert_array_equal(blocks.block_degrees, degrees)
    assert blocks.node_block.dtype == np.int64 and blocks.block_sizes.sum() == n


def test_path3_weights_by_hand():
    # x1 = (2, 3, 2), x2 = (5, 7, 5), x3 = (12, 17, 12); w = 9 x1 + 3 x2 + x3
    np.testing.assert_array_equal(hop_weighted_degree(graph(3, [(0, 1), (1, 2)]), 3), [45, 65, 45])
    np.testing.assert_array_equal(hop_weighted_degree(graph(3, [(0, 1)]), 0), [1, 1, 1])


def test_edge_blocks_are_max_of_endpoints():
    blocks = block_decomposition(graph(4, [(0, 1), (0, 2), (0, 3)]), hops=3)  # star: centre 0 is block 0
    expected = np.array([[0, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]])
    np.testing.assert_array_equal(blocks.edge_blocks(), expected)
    path = block_decomposition(graph(4, [(0, 1), (1, 2), (2, 3)]), hops=3)
    assert path.edge_blocks()[1, 2] == 0 and path.edge_blocks()[0, 1] == 1 and path.edge_blocks()[0, 3] == 1


def test_every_pair_is_generated_once_by_its_block():
    """Block t generates n_t * N_{<t} cross pairs plus n_t (n_t - 1) / 2 inside pairs (spec §1.3)."""
    a = random_graph(np.random.default_rng(3), 25, 0.15)
    blocks = block_decomposition(a, hops=3)
    lower = blocks.edge_blocks()[np.tril_indices(25, -1)]
    before = np.concatenate([[0], np.cumsum(blocks.block_sizes)[:-1]])
    expected = blocks.block_sizes * before + blocks.block_sizes * (blocks.block_sizes - 1) // 2
    np.testing.assert_array_equal(np.bincount(lower, minlength=blocks.num_blocks), expected)


def test_block_degree_is_degree_inside_prefix():
    a = random_graph(np.random.default_rng(4), 30, 0.12)
    blocks = block_decomposition(a, hops=2)
    for t in range(blocks.num_blocks):
        prefix = blocks.node_block <= t
        inside = a[np.ix_(prefix, prefix)].sum(1)[blocks.node_block[prefix] == t]
        assert inside.min() == blocks.block_degrees[t]


def test_next_block_targets_and_order():
    blocks = block_decomposition(graph(5, [(0, 1), (1, 2), (0, 2), (3, 4)]), hops=3)
    sizes, degrees = blocks.next_block_targets()
    np.testing.assert_array_equal(sizes, [2, 0])
    np.testing.assert_array_equal(degrees, [1, 0])
    assert np.all(np.diff(blocks.node_block[blocks.node_order()]) >= 0)


def test_weighted_sum_is_not_lexicographic():
    """Spec §1.1: two hubs + 24 degree-2 spokes + a separate K4; the K4 (degree 3) is peeled first."""
    spokes = [(h, s) for h in (0, 1) for s in range(2, 26)]
    k4 = [(i, j) for i in range(26, 30) for j in range(i + 1, 30)]
    a = graph(30, spokes + k4)
    for hops in (2, 3):
        first = peel(a, hops)[0][0]
        np.testing.assert_array_equal(first, np.arange(26, 30))
    assert set(peel(a, 1)[0][0]) == set(range(2, 26))  # K = 1 is plain degree


def test_k0_is_one_block_with_an_invariant_degree():
    blocks = block_decomposition(graph(4, [(0, 1), (0, 2), (0, 3)]), hops=0)
    np.testing.assert_array_equal(blocks.node_block, 0)
    assert blocks.block_sizes.tolist() == [4] and blocks.block_degrees.tolist() == [1]


def test_weights_stay_exact_beyond_int64():
    """Near-ties that float64 cannot separate are decided exactly (Python ints when int64 overflows)."""
    a = random_graph(np.random.default_rng(5), 40, 0.5)
    w = hop_weighted_degree(a, 14)
    assert w.dtype == object
    one = np.eye(40, dtype=object) + a.astype(object)
    walks, expected = np.ones(40, dtype=object), np.zeros(40, dtype=object)
    for _ in range(14):
        walks = one @ walks
        expected = expected * 40 + walks
    assert list(w) == list(expected) and max(w) > 2**63
    assert_equivariant(a, 14, np.random.default_rng(0), trials=2)


def test_bond_orders_and_diagonal_are_ignored():
    a = graph(4, [(0, 1), (1, 2), (2, 3)])
    weighted = a * np.array([[0, 2, 0, 0], [2, 0, 4, 0], [0, 4, 0, 1], [0, 0, 1, 0]]) + np.eye(
        4, dtype=np.int64
    )
    np.testing.assert_array_equal(block_decomposition(weighted).node_block, block_decomposition(a).node_block)


def test_bad_adjacency_is_refused():
    with pytest.raises(ValueError, match="symmetric"):
        binary_adjacency(np.triu(np.ones((3, 3)), 1))
    with pytest.raises(ValueError, match="square"):
        binary_adjacency(np.ones((2, 3)))
    with pytest.raises(ValueError, match="hops"):
        hop_weighted_degree(np.zeros((2, 2)), -1)


@pytest.mark.parametrize("hops", [0, 1, 2, 3, 5])
@pytest.mark.parametrize("seed", range(6))
def test_random_graphs_are_equivariant(hops, seed):
    rng = np.random.default_rng(seed)
    n, p = int(rng.integers(2, 40)), float(rng.uniform(0.05, 0.4))
    assert_equivariant(random_graph(rng, n, p), hops, rng)


def test_symmetric_graphs_are_equivariant():
    """Grids and cycles are full of exact ties: tied nodes must land in one block together."""
    grid = graph(
        16,
        [(r * 4 + c, r * 4 + c + 1) for r in range(4) for c in range(3)]
        + [(r * 4 + c, r * 4 + c + 4) for r in range(3) for c in range(4)],
    )
    cycle = graph(8, [(i, (i + 1) % 8) for i in range(8)])
    for a in (grid, cycle):
        assert_equivariant(a, 3, np.random.default_rng(1))
    assert block_decomposition(cycle).num_blocks == 1
    np.testing.assert_array_equal(block_decomposition(grid, 1).block_sizes, [4, 8, 4])


@pytest.mark.parametrize(
    "smiles", ["c1ccccc1O", "CC(=O)Oc1ccccc1C(=O)O", "C1CC2CCC1C2", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"]
)
def test_molecules_are_equivariant(smiles):
    from unigen.chem.convert import smiles_to_graph

    for explicit_hs in (False, True):
        bonds = smiles_to_graph(smiles, explicit_hs=explicit_hs).bonds
        assert_equivariant(bonds, 3, np.random.default_rng(2))


def test_phenol_blocks():
    from unigen.chem.convert import smiles_to_graph

    blocks = block_decomposition(smiles_to_graph("c1ccccc1O").bonds, hops=3)
    # the O leaf peels first; the six ring carbons then tie and form the core block together
    np.testing.assert_array_equal(blocks.node_block, [0, 0, 0, 0, 0, 0, 1])
    assert blocks.block_sizes.tolist() == [6, 1] and blocks.block_degrees.tolist() == [2, 1]


@pytest.mark.data
@requires_data("qm9", "qm9.csv")
def test_qm9_with_h_block_counts_match_pard():
    """Spec §1.4 / pitfall 2: QM9 with explicit H gives about 4.3 / 5.7 / 7.2 / 7.75 blocks for K = 1..4."""
    from unigen.chem.convert import smiles_to_graph

    lines = data_path("qm9", "qm9.csv").read_text().split()[1:]
    graphs = [smiles_to_graph(s, explicit_hs=True).bonds for s in lines[::160]]
    means = [np.mean([block_decomposition(a, k).num_blocks for a in graphs]) for k in (1, 2, 3, 4)]
    np.testing.assert_allclose(means, [4.32, 5.66, 7.20, 7.75], atol=0.25)
