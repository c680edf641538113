"""Per-node graphlet orbit counts for graphlets of 2-4 nodes (the 15 orbits of ORCA ``node 4``).

GDSS / GraphRNN / SPECTRE run the ORCA binary (Hočevar & Demšar 2014) and use all 15 columns it
prints. unigen computes the same numbers in numpy, so nothing has to be compiled:

1. orbits 0-3 (edge, path, triangle) from degrees and triangle counts;
2. orbits 4-14: first the *non-induced* counts (how many copies of each 4-node pattern, not
   necessarily induced, touch a node in a given position) from adjacency-matrix products, then
   the *induced* counts by solving the triangular system ``noninduced = M @ induced``. ``M[i, j]``
   (how many spanning copies of orbit i's pattern a graphlet of orbit j contains, with the node in
   position i) is itself computed by enumeration at import time, so no coefficient is typed in.

``orbit_counts_bruteforce`` enumerates every connected 3- and 4-node subset; the tests check the
fast path against it on random graphs.

Orbit numbering (Pržulj 2007, as in ORCA): 0 edge; 1, 2 path P3 end / middle; 3 triangle;
4, 5 path P4 end / inner; 6, 7 star leaf / centre; 8 cycle C4; 9, 10, 11 paw tail / triangle
degree-2 node / hub; 12, 13 diamond degree-2 / degree-3 node; 14 K4.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

NUM_ORBITS = 15

# 4-node graphlets: (number of edges, max degree in the subgraph, degree of the node) -> orbit
_ORBIT_OF = {
    (3, 2, 1): 4,
    (3, 2, 2): 5,  # path P4
    (3, 3, 1): 6,
    (3, 3, 3): 7,  # star
    (4, 2, 2): 8,  # C4
    (4, 3, 1): 9,
    (4, 3, 2): 10,
    (4, 3, 3): 11,  # paw
    (5, 3, 2): 12,
    (5, 3, 3): 13,  # diamond
    (6, 3, 3): 14,  # K4
}
_ORBIT_OF_3 = {  # 3-node graphlets: path, triangle
    (2, 2, 1): 1,
    (2, 2, 2): 2,
    (3, 2, 2): 3,
}


def classify_subgraph(sub: np.ndarray) -> np.ndarray | None:
    """Orbit of each node of a connected induced subgraph with 3 or 4 nodes; None if disconnected.

    sub: (k, k) 0/1 adjacency with k in {3, 4}. Returns (k,) orbit ids.
    """
    k = len(sub)
    deg = sub.sum(1).astype(int)
    edges, top = int(deg.sum()) // 2, int(deg.max())
    if edges < k - 1 or deg.min() == 0:
        # on <= 4 nodes, every disconnected graph has an isolated node or too few edges (2 K2)
        return None
    table = _ORBIT_OF_3 if k == 3 else _ORBIT_OF
    return np.array([table[(edges, top, int(d))] for d in deg])


def orbit_counts_bruteforce(adjacency: np.ndarray) -> np.ndarray:
    """Reference implementation: enumerate every connected induced 2-, 3- and 4-node subgraph.

    adjacency: (n, n) symmetric 0/1. Returns (n, 15) int64 counts. O(n^4); for tests only.
    """
    a = (np.asarray(adjacency) != 0).astype(np.int64)
    n = len(a)
    counts = np.zeros((n, NUM_ORBITS), np.int64)
    counts[:, 0] = a.sum(1)
    for k in (3, 4):
        for nodes in combinations(range(n), k):
            idx = np.array(nodes)
            orbits = classify_subgraph(a[np.ix_(idx, idx)])
            if orbits is not None:
                np.add.at(counts, (idx, orbits), 1)
    return counts


def _graphlet_representatives() -> dict[int, tuple[np.ndarray, int]]:
    """For each 4-node orbit 4..14: (adjacency of its graphlet, one node in that orbit)."""
    reps = {}
    for bits in range(1 << 6):
        sub = np.zeros((4, 4), np.int64)
        for b, (i, j) in enumerate(combinations(range(4), 2)):
            if bits >> b & 1:
                sub[i, j] = sub[j, i] = 1
        orbits = classify_subgraph(sub)
        if orbits is not None:
            for node, orbit in enumerate(orbits.tolist()):
                reps.setdefault(orbit, (sub, node))
    return reps


def _noninduced_to_induced_matrix() -> np.ndarray:
    """(11, 11) matrix M with noninduced[i] = sum_j M[i, j] induced[j] for orbits 4..14."""
    m = np.zeros((11, 11), np.int64)
    pairs = list(combinations(range(4), 2))
    for j, (sub, node) in _graphlet_representatives().items():
        present = [p for p in pairs if sub[p]]
        for r in range(3, len(present) + 1):
            for chosen in combinations(present, r):
                part = np.zeros((4, 4), np.int64)
                for u, v in chosen:
                    part[u, v] = part[v, u] = 1
                orbits = classify_subgraph(part)
                if orbits is not None:
                    m[orbits[node] - 4, j - 4] += 1
    return m


_INDUCED_FROM_NONINDUCED = np.linalg.inv(_noninduced_to_induced_matrix().astype(np.float64))


def _noninduced_four_node(a: np.ndarray) -> np.ndarray:
    """(n, n) float adjacency -> (n, 11) non-induced counts of orbits 4..14."""
    d = a.sum(1)
    a2 = a @ a
    common = a * a2  # common[v, u] = triangles on edge vu
    tri = common.sum(1) / 2
    out = np.zeros((len(a), 11))
    out[:, 0] = a @ (a @ (d - 1)) - d * (d - 1) - 2 * tri  # 4: end of a path v-u-w-x
    out[:, 1] = (d - 1) * (a @ (d - 1)) - 2 * tri  # 5: inner node of a path
    out[:, 2] = a @ ((d - 1) * (d - 2) / 2)  # 6: star leaf
    out[:, 3] = d * (d - 1) * (d - 2) / 6  # 7: star centre
    out[:, 4] = (np.einsum("ij,ji->i", a, a2 @ a) - a @ d - d * (d - 1)) / 2  # 8: 4-cycles through v
    out[:, 5] = a @ tri - 2 * tri  # 9: paw tail
    out[:, 6] = (common * (d - 2)[None, :]).sum(1)  # 10: paw triangle node next to the hub
    out[:, 7] = tri * (d - 2)  # 11: paw hub
    out[:, 8] = np.einsum("ij,ji->i", a, (a * (a2 - 1)) @ a) / 2  # 12: diamond degree-2 node
    out[:, 9] = (common * (common - 1) / 2).sum(1)  # 13: diamond degree-3 node
    out[:, 10] = _k4_per_node(a)  # 14
    return out


def _k4_per_node(a: np.ndarray) -> np.ndarray:
    """Number of 4-cliques containing each node: triangles inside its neighbourhood."""
    out = np.zeros(len(a))
    for v in np.flatnonzero(a.sum(1) >= 3):
        nb = np.flatnonzero(a[v])
        sub = a[np.ix_(nb, nb)]
        out[v] = np.einsum("ij,ji->", sub @ sub, sub) / 6
    return out


def orbit_counts(adjacency: np.ndarray) -> np.ndarray:
    """Per-node counts of the 15 graphlet orbits on 2-4 nodes, as ORCA ``node 4`` prints them.

    adjacency: (n, n) symmetric 0/1 (self loops ignored). Returns (n, 15) int64.
    """
    a = (np.asarray(adjacency) != 0).astype(np.float64)
    np.fill_diagonal(a, 0)
    d = a.sum(1)
    tri = (a * (a @ a)).sum(1) / 2
    counts = np.zeros((len(a), NUM_ORBITS))
    counts[:, 0] = d
    counts[:, 1] = a @ (d - 1) - 2 * tri
    counts[:, 2] = d * (d - 1) / 2 - tri
    counts[:, 3] = tri
    counts[:, 4:] = _noninduced_four_node(a) @ _INDUCED_FROM_NONINDUCED.T
    return np.rint(counts).astype(np.int64)
