"""NSPDK features (Costa & De Grave 2010) as GDSS computes them with its bundled EDeN vectorizer,
and the NSPDK MMD between two molecule sets.

GDSS: ``vectorize(graphs, complexity=4, discrete=True)`` -> r = d = 4, nbits = 16, inner and
global normalisation; linear kernel; biased MMD^2 = mean Kxx + mean Kyy - 2 mean Kxy. Node labels
are atom symbols, edge labels ``int(bond.GetBondTypeAsDouble())`` (so aromatic 1.5 -> 1).

The EDeN algorithm, reproduced here feature for feature:

1. every edge becomes a vertex carrying the edge label, joined to both end atoms (distances in
   this expanded graph are twice the atom distances);
2. each vertex gets a code hash(label, degree in the expanded graph);
3. for every atom v and depth k = 0..8 (= 2 * max(r, d)), the multiset of codes at exactly
   distance k is hashed; a running hash over k = 0..K gives the rooted neighbourhood of radius K,
   defined for K up to the farthest vertex reached;
4. for every ordered atom pair (v, u) at atom distance D <= d and radius R <= r whose
   neighbourhood exists around both atoms, the features hash(sorted(N_v^R, N_u^R), R, D) and
   hash(N_u^R, R, D) each get +1 in the block (R, D);
5. each (R, D) block is L2-normalised, then the whole vector; features live in 2^16 + 1 buckets.

Deviation, unavoidable: EDeN hashes with Python's ``hash`` (strings salted per process, tuple
hashing changed in Python 3.8), so its bucket ids, and so its rare bucket collisions, differ from
run to run. unigen uses a fixed 64-bit mixer (splitmix64) and a commutative sum for the multiset
hash instead of sorting, and sums (rather than overwrites) a bucket hit by two (R, D) blocks.
The features are otherwise identical; the MMD differs from EDeN's only through collisions.

Because the kernel is linear, MMD^2 = ||mean(phi(X)) - mean(phi(Y))||^2 exactly, which avoids
the n x m kernel matrix.
"""

from __future__ import annotations

import zlib
from typing import NamedTuple, Sequence

import numpy as np

from unigen.chem.metrics._parallel import chunked_map, resolve_jobs
from unigen.chem.metrics.mmd import linear_mmd

RADIUS = 4
DISTANCE = 4
NBITS = 16
_MAX_DEPTH = 2 * max(RADIUS, DISTANCE)
FEATURE_SIZE = (1 << NBITS) + 1
_MASK = np.uint64((1 << NBITS) - 1)
_U64 = np.uint64
_NUM_BLOCKS = (RADIUS + 1) * (DISTANCE + 1)


class LabelledGraph(NamedTuple):
    """A graph with discrete labels. node_labels: (n,) str; edges: (m, 2) int; edge_labels: (m,) int."""

    node_labels: tuple
    edges: np.ndarray
    edge_labels: np.ndarray


def mol_to_labelled_graph(mol) -> LabelledGraph:
    """RDKit Mol -> LabelledGraph with GDSS's labels (atom symbol; int bond order, aromatic -> 1)."""
    edges = np.array([(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()], np.int64).reshape(
        -1, 2
    )
    labels = np.array([int(b.GetBondTypeAsDouble()) for b in mol.GetBonds()], np.int64)
    return LabelledGraph(tuple(a.GetSymbol() for a in mol.GetAtoms()), edges, labels)


# ---------------------------------------------------------------------------------------
# hashing


def _splitmix(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (wrap-around arithmetic)."""
    z = np.asarray(z, _U64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


def _combine(*parts) -> np.ndarray:
    """Order-dependent hash of several uint64 arrays (broadcast together)."""
    h = np.full(np.broadcast(*[np.asarray(p) for p in parts]).shape, 0x9E3779B97F4A7C15, _U64)
    for p in parts:
        with np.errstate(over="ignore"):
            h = _splitmix(h ^ _splitmix(np.asarray(p, _U64) + _U64(0x632BE59BD9B4E019)))
    return h


def _label_hash(label) -> int:
    return zlib.crc32(repr(label).encode()) + 1


# ---------------------------------------------------------------------------------------
# features of a batch of graphs (padded to the batch's largest graph; numpy does the loops)


class _Batch(NamedTuple):
    atom_dist: np.ndarray  # (B, n, n) float, inf when unreachable or padding
    dist: np.ndarray  # (B, n, n + m) atom -> expanded-graph vertex distances
    codes: np.ndarray  # (B, n + m) uint64 vertex codes hash(label, degree)


def _pad_batch(graphs: Sequence[LabelledGraph]):
    """Padded arrays: node label hashes (B, n), adjacency (B, n, n), edges (B, m, 2), edge labels, masks."""
    b, n = len(graphs), max(len(g.node_labels) for g in graphs)
    m = max(max(len(g.edges) for g in graphs), 1)
    node_lab, node_mask = np.zeros((b, n), _U64), np.zeros((b, n), bool)
    edges, edge_lab, edge_mask = np.zeros((b, m, 2), np.int64), np.zeros((b, m), _U64), np.zeros((b, m), bool)
    adj = np.zeros((b, n, n), np.float32)
    for i, g in enumerate(graphs):
        k, e = len(g.node_labels), len(g.edges)
        node_lab[i, :k] = [_label_hash(("node", s)) for s in g.node_labels]
        node_mask[i, :k] = True
        edges[i, :e], edge_mask[i, :e] = g.edges, True
        edge_lab[i, :e] = [_label_hash(("edge", int(x))) for x in g.edge_labels]
        adj[i, g.edges[:, 0], g.edges[:, 1]] = adj[i, g.edges[:, 1], g.edges[:, 0]] = 1
    return node_lab, node_mask, adj, edges, edge_lab, edge_mask


def _bfs_distances(adj: np.ndarray, node_mask: np.ndarray) -> np.ndarray:
    """(B, n, n) adjacency -> shortest-path lengths up to DISTANCE, inf beyond or when unreachable."""
    b, n, _ = adj.shape
    frontier = np.zeros((b, n, n), np.float32)
    frontier[:, np.arange(n), np.arange(n)] = node_mask
    visited = frontier > 0
    dist = np.where(visited, 0.0, np.inf)
    # atoms farther than DISTANCE apart enter no feature: every expanded-graph distance <= 8 and
    # the depth cap of the neighbourhoods are already fixed by the first DISTANCE steps
    for step in range(1, min(n, DISTANCE + 1)):
        new = ((frontier @ adj) > 0) & ~visited
        if not new.any():
            break
        dist[new] = step
        visited |= new
        frontier = new.astype(np.float32)
    return dist


def _prepare(graphs: Sequence[LabelledGraph]) -> _Batch:
    node_lab, node_mask, adj, edges, edge_lab, edge_mask = _pad_batch(graphs)
    atom_dist = _bfs_distances(adj, node_mask)
    b_idx = np.arange(len(graphs))[:, None, None]
    n_idx = np.arange(adj.shape[1])[None, :, None]
    ends = np.minimum(
        atom_dist[b_idx, n_idx, edges[:, None, :, 0]], atom_dist[b_idx, n_idx, edges[:, None, :, 1]]
    )
    edge_dist = np.where(edge_mask[:, None, :], 2 * ends + 1, np.inf)
    dist = np.concatenate([2 * atom_dist, edge_dist], axis=2)
    degrees = np.concatenate([adj.sum(2), np.full(edge_mask.shape, 2.0)], axis=1).astype(_U64)
    codes = _combine(np.concatenate([node_lab, edge_lab], axis=1), degrees)
    return _Batch(atom_dist, dist, codes)


def _neighbourhood_hashes(batch: _Batch):
    """(B, n, 9) rooted-neighbourhood hashes for radius 0..8 (expanded graph) and (B, n) level counts."""
    mixed = _splitmix(batch.codes)[:, None, :]
    shape = batch.dist.shape[:2]
    running = np.zeros(shape + (_MAX_DEPTH + 1,), _U64)
    prev = np.full(shape, 0xAAAAAAAA, _U64)
    for k in range(_MAX_DEPTH + 1):
        level = np.where(batch.dist == k, mixed, _U64(0)).sum(axis=2, dtype=_U64)
        prev = _combine(prev, level, _U64(k))
        running[:, :, k] = prev
    finite = np.where(np.isfinite(batch.dist), batch.dist, -1)
    num_levels = np.minimum(finite.max(axis=2), _MAX_DEPTH).astype(np.int64) + 1
    return running, num_levels


def _feature_hits(graphs: Sequence[LabelledGraph]) -> tuple[np.ndarray, np.ndarray]:
    """All feature hits of a batch as (graph * 25 + block (R, D)) ids and bucket ids, one entry per hit."""
    batch = _prepare(graphs)
    hashes, num_levels = _neighbourhood_hashes(batch)
    g, v, u = np.nonzero(batch.atom_dist <= DISTANCE)
    d = batch.atom_dist[g, v, u].astype(np.int64)
    blocks, buckets = [], []
    for r in range(RADIUS + 1):
        ok = (2 * r < num_levels[g, v]) & (2 * r < num_levels[g, u])
        hv, hu, dd = hashes[g[ok], v[ok], 2 * r], hashes[g[ok], u[ok], 2 * r], d[ok].astype(_U64)
        full = _combine(np.minimum(hv, hu), np.maximum(hv, hu), _U64(r), dd)
        half = _combine(hu, _U64(r), dd, _U64(1))
        block = g[ok] * _NUM_BLOCKS + r * (DISTANCE + 1) + d[ok]
        blocks += [block, block]
        buckets += [(full & _MASK).astype(np.int64) + 1, (half & _MASK).astype(np.int64) + 1]
    return np.concatenate(blocks), np.concatenate(buckets)


def _normalised_features(graphs: Sequence[LabelledGraph]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sparse normalised features of a batch: (graph ids, bucket ids, values), one row per nonzero.

    Counts hits per (graph, block, bucket), L2-normalises each (graph, block), merges the blocks of
    a graph, then L2-normalises each graph's vector.
    """
    blocks, buckets = _feature_hits(graphs)
    keys, counts = np.unique(blocks * FEATURE_SIZE + buckets, return_counts=True)
    block_of = keys // FEATURE_SIZE
    norms = np.sqrt(np.bincount(block_of, weights=counts.astype(np.float64) ** 2))
    values = counts / norms[block_of]
    merged_keys, inverse = np.unique(
        (block_of // _NUM_BLOCKS) * FEATURE_SIZE + keys % FEATURE_SIZE, return_inverse=True
    )
    merged = np.bincount(inverse, weights=values)
    graph_of = merged_keys // FEATURE_SIZE
    totals = np.sqrt(np.bincount(graph_of, weights=merged**2))
    return graph_of, merged_keys % FEATURE_SIZE, merged / totals[graph_of]


def nspdk_features(graph: LabelledGraph) -> tuple[np.ndarray, np.ndarray]:
    """Normalised NSPDK feature vector of one graph as (bucket indices (k,), values (k,))."""
    if len(graph.node_labels) == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    _, idx, values = _normalised_features([graph])
    return idx, values


# ---------------------------------------------------------------------------------------
# sets of graphs


def _sum_features(graphs: Sequence[LabelledGraph], batch: int = 256, cells: int = 4_000_000) -> np.ndarray:
    """Sum of the normalised feature vectors; graphs are batched by size to limit padding."""
    total = np.zeros(FEATURE_SIZE)
    for group in _size_batches(graphs, batch, cells):
        _, idx, values = _normalised_features(group)
        total += np.bincount(idx, weights=values, minlength=FEATURE_SIZE)
    return total


def _size_batches(graphs: Sequence[LabelledGraph], batch: int, cells: int) -> list[list[LabelledGraph]]:
    """Graphs sorted by size, cut into batches of at most ``batch`` graphs and about ``cells``
    padded (atom, atom + bond) cells, so one large molecule is featurised alone instead of
    padding a whole batch to its size (work and memory stay proportional to the input)."""
    batches, current, widest = [], [], 0
    for g in sorted(graphs, key=lambda g: len(g.node_labels)):
        n, m = len(g.node_labels), len(g.edges)
        width = max(widest, n * (n + m))
        if current and (len(current) >= batch or (len(current) + 1) * width > cells):
            batches.append(current)
            current, width = [], n * (n + m)
        current.append(g)
        widest = width
    return batches + [current] if current else batches


def _sum_features_chunk(groups: list) -> list:
    return [_sum_features(graphs) for graphs in groups]


def mean_features(
    graphs: Sequence[LabelledGraph], n_jobs: int | None = None, progress: bool = False
) -> np.ndarray:
    """Mean NSPDK feature vector (2^16 + 1,) of a set of graphs, spread over ``n_jobs`` processes."""
    graphs = list(graphs)
    chunk = max(256, min(4000, len(graphs) // (2 * resolve_jobs(n_jobs)) + 1))
    groups = [graphs[i : i + chunk] for i in range(0, len(graphs), chunk)]
    sums = chunked_map(
        _sum_features_chunk, groups, n_jobs, chunk_size=1, progress=progress, desc="NSPDK features"
    )
    return np.sum(sums, axis=0) / max(len(graphs), 1) if sums else np.zeros(FEATURE_SIZE)


def nspdk_mmd(graphs1, graphs2, n_jobs: int | None = None, progress: bool = False) -> float:
    """Biased squared NSPDK MMD (linear kernel on normalised features) between two graph sets.

    Empty graphs are dropped from both sets (GDSS drops them from the generated set; EDeN refuses them).
    """
    g1 = [g for g in graphs1 if len(g.node_labels) > 0]
    g2 = [g for g in graphs2 if len(g.node_labels) > 0]
    if not g1 or not g2:
        return float("nan")
    return linear_mmd(mean_features(g1, n_jobs, progress), mean_features(g2, n_jobs, progress))
