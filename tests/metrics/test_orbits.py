"""Graphlet orbit counts: hand-counted graphlets, brute-force agreement, invariances."""

import networkx as nx
import numpy as np
import pytest

from unigen.chem.metrics.orbits import NUM_ORBITS, classify_subgraph, orbit_counts, orbit_counts_bruteforce


def _adj(n, edges):
    a = np.zeros((n, n), np.int64)
    for i, j in edges:
        a[i, j] = a[j, i] = 1
    return a


def _row(**orbits):
    """A 15-vector from keyword counts o0=..., o14=..."""
    row = np.zeros(NUM_ORBITS, np.int64)
    for key, value in orbits.items():
        row[int(key[1:])] = value
    return row


# Each graphlet with the orbit vector of every node, counted by hand.
HAND_COUNTED = {
    "edge": (_adj(2, [(0, 1)]), [_row(o0=1), _row(o0=1)]),
    "path3": (_adj(3, [(0, 1), (1, 2)]), [_row(o0=1, o1=1), _row(o0=2, o2=1), _row(o0=1, o1=1)]),
    "triangle": (_adj(3, [(0, 1), (1, 2), (0, 2)]), [_row(o0=2, o3=1)] * 3),
    "path4": (
        _adj(4, [(0, 1), (1, 2), (2, 3)]),
        [
            _row(o0=1, o1=1, o4=1),
            _row(o0=2, o1=1, o2=1, o5=1),
            _row(o0=2, o1=1, o2=1, o5=1),
            _row(o0=1, o1=1, o4=1),
        ],
    ),
    "star": (_adj(4, [(0, 1), (0, 2), (0, 3)]), [_row(o0=3, o2=3, o7=1)] + [_row(o0=1, o1=2, o6=1)] * 3),
    "cycle4": (_adj(4, [(0, 1), (1, 2), (2, 3), (3, 0)]), [_row(o0=2, o1=2, o2=1, o8=1)] * 4),
    # paw: triangle 0-1-2, tail 3 on hub 2
    "paw": (
        _adj(4, [(0, 1), (1, 2), (0, 2), (2, 3)]),
        [_row(o0=2, o1=1, o3=1, o10=1)] * 2 + [_row(o0=3, o2=2, o3=1, o11=1), _row(o0=1, o1=2, o9=1)],
    ),
    # diamond: K4 without edge 0-3
    "diamond": (
        _adj(4, [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)]),
        [_row(o0=2, o1=2, o3=1, o12=1)]
        + [_row(o0=3, o2=1, o3=2, o13=1)] * 2
        + [_row(o0=2, o1=2, o3=1, o12=1)],
    ),
    "k4": (_adj(4, [(i, j) for i in range(4) for j in range(i + 1, 4)]), [_row(o0=3, o3=3, o14=1)] * 4),
}


@pytest.mark.parametrize("name", sorted(HAND_COUNTED))
@pytest.mark.parametrize("counter", [orbit_counts, orbit_counts_bruteforce])
def test_hand_counted_graphlets(name, counter):
    adjacency, expected = HAND_COUNTED[name]
    np.testing.assert_array_equal(counter(adjacency), np.stack(expected))


@pytest.mark.parametrize("seed", range(12))
def test_fast_counts_equal_brute_force_on_random_graphs(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 13))
    a = np.triu(rng.random((n, n)) < rng.uniform(0.15, 0.8), 1).astype(int)
    a = a + a.T
    np.testing.assert_array_equal(orbit_counts(a), orbit_counts_bruteforce(a))


def test_counts_are_permutation_equivariant_and_additive_over_components():
    g = nx.connected_watts_strogatz_graph(14, 4, 0.3, seed=1)
    a = nx.to_numpy_array(g)
    perm = np.random.default_rng(0).permutation(len(a))
    np.testing.assert_array_equal(orbit_counts(a[np.ix_(perm, perm)]), orbit_counts(a)[perm])
    union = np.zeros((2 * len(a), 2 * len(a)))
    union[: len(a), : len(a)] = union[len(a) :, len(a) :] = a
    np.testing.assert_array_equal(orbit_counts(union), np.concatenate([orbit_counts(a)] * 2))


def test_isolated_nodes_and_self_loops_count_nothing():
    a = np.eye(3)
    np.testing.assert_array_equal(orbit_counts(a), np.zeros((3, NUM_ORBITS), np.int64))


def test_classify_rejects_disconnected_subgraphs():
    assert classify_subgraph(_adj(4, [(0, 1), (2, 3)])) is None
    assert classify_subgraph(_adj(4, [(0, 1), (1, 2), (0, 2)])) is None  # triangle + loose node
    assert classify_subgraph(_adj(3, [(0, 1)])) is None
