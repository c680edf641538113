"""Generic-graph metrics: degree, clustering, orbit and spectral MMD, and V.U.N.

Two protocols, each a fixed choice of kernels (see ``PROTOCOLS``):

- ``gdss`` (GDSS ``evaluation/stats.py``; Ego-small, Community-small, ENZYMES, Grid):
  Gaussian-EMD for degree (sigma 1), clustering (sigma 0.1, distance scaling 100 = bins) and
  spectral (sigma 1); Gaussian L2 with sigma 30 on the mean orbit counts.
- ``spectre`` (SPECTRE / DiGress ``spectre_utils.py`` with ``compute_emd=False``; Planar, SBM, Tree):
  Gaussian-TV for degree (sigma 1), clustering (sigma 0.1), spectral (sigma 1) and the orbit
  counts (sigma 30, not normalised).

Per-graph statistics, as in both code bases:

- degree: ``nx.degree_histogram`` (counts of degree 0..max), normalised to a pmf;
- clustering: histogram of the local clustering coefficients, 100 bins on [0, 1], as a pmf;
- orbit: the 15 ORCA orbit counts (``orbits.orbit_counts``) summed over nodes / number of nodes;
- spectral: eigenvalues of the normalised Laplacian (networkx convention: isolated nodes give a
  zero row), 200-bin histogram on [-1e-5, 2], as a pmf.

Every value is a biased squared MMD with the generated set against the reference set (no square
root). Deviations from the originals: GDSS rounds to 6 decimals (we do not); ORCA fails on some
inputs and GDSS then skips the graph silently (ours never fails). Empty generated graphs are
dropped before degree, clustering and spectral statistics, as in both originals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import numpy as np

from unigen.chem.metrics._parallel import chunked_map
from unigen.chem.metrics.mmd import compute_mmd
from unigen.chem.metrics.orbits import orbit_counts
from unigen.errors import UsageError

Protocol = Literal["gdss", "spectre"]
STATISTICS = ("degree", "clustering", "orbit", "spectral")
VALIDITY_KINDS = ("planar", "sbm", "tree")  # datasets with a SPECTRE validity check


@dataclass(frozen=True)
class KernelSpec:
    kernel: str
    sigma: float = 1.0
    distance_scaling: float = 1.0
    is_hist: bool = True


PROTOCOLS: dict[str, dict[str, KernelSpec]] = {
    "gdss": {
        "degree": KernelSpec("gaussian_emd"),
        "clustering": KernelSpec("gaussian_emd", sigma=0.1, distance_scaling=100),
        "orbit": KernelSpec("gaussian", sigma=30.0, is_hist=False),
        "spectral": KernelSpec("gaussian_emd"),
    },
    "spectre": {
        "degree": KernelSpec("gaussian_tv"),
        "clustering": KernelSpec("gaussian_tv", sigma=0.1),
        "orbit": KernelSpec("gaussian_tv", sigma=30.0, is_hist=False),
        "spectral": KernelSpec("gaussian_tv"),
    },
}


# ---------------------------------------------------------------------------------------
# per-graph statistics


def adjacency_of(graph) -> np.ndarray:
    """A unigen ``Graph``, a networkx graph or an (n, n) array -> (n, n) float64 0/1 adjacency."""
    if hasattr(graph, "adjacency") and hasattr(graph, "edge_index"):
        a = graph.adjacency()
    elif hasattr(graph, "number_of_nodes"):
        import networkx as nx

        a = nx.to_numpy_array(graph, weight=None)
    else:
        a = np.asarray(graph)
    a = (np.asarray(a) != 0).astype(np.float64)
    np.fill_diagonal(a, 0)
    return a


def degree_histogram(a: np.ndarray) -> np.ndarray:
    """(n, n) adjacency -> counts of nodes with degree 0, 1, ..., max degree."""
    return np.bincount(a.sum(1).astype(np.int64))


def clustering_histogram(a: np.ndarray, bins: int = 100) -> np.ndarray:
    """Histogram of local clustering coefficients (networkx definition; 0 for degree < 2)."""
    d = a.sum(1)
    tri2 = (a * (a @ a)).sum(1)  # twice the triangles at each node
    coeff = np.divide(tri2, d * (d - 1), out=np.zeros_like(d), where=d > 1)
    return np.histogram(coeff, bins=bins, range=(0.0, 1.0))[0]


def spectral_pmf(a: np.ndarray, bins: int = 200) -> np.ndarray:
    """Normalised-Laplacian eigenvalue histogram on [-1e-5, 2], as a pmf."""
    d = a.sum(1)
    inv_sqrt = np.divide(1.0, np.sqrt(d), out=np.zeros_like(d), where=d > 0)
    lap = inv_sqrt[:, None] * (np.diag(d) - a) * inv_sqrt[None, :]
    eigs = np.linalg.eigvalsh(lap)
    hist = np.histogram(eigs, bins=bins, range=(-1e-5, 2))[0]
    return hist / hist.sum()


def mean_orbit_counts(a: np.ndarray) -> np.ndarray:
    """(15,) orbit counts summed over nodes and divided by the number of nodes."""
    return orbit_counts(a).sum(0) / len(a)


_STAT_FUNCS = {
    "degree": degree_histogram,
    "clustering": clustering_histogram,
    "orbit": mean_orbit_counts,
    "spectral": spectral_pmf,
}


def _graph_statistics(a: np.ndarray, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    return {name: _STAT_FUNCS[name](a) for name in names}


def _chunk_statistics(adjacencies: list) -> list[dict[str, np.ndarray]]:
    return [_graph_statistics(a, STATISTICS) for a in adjacencies]


def graph_statistics(graphs: Sequence, n_jobs: int | None = None, progress: bool = False) -> list[dict]:
    """Degree / clustering / orbit / spectral statistics per graph, spread over ``n_jobs`` processes."""
    adjacencies = [adjacency_of(g) for g in graphs]
    return chunked_map(
        _chunk_statistics, adjacencies, n_jobs, chunk_size=16, progress=progress, desc="graph statistics"
    )


# ---------------------------------------------------------------------------------------
# MMD between two sets


def mmd_from_statistics(
    ref: list[dict], gen: list[dict], protocol: Protocol, names=STATISTICS
) -> dict[str, float]:
    """Squared MMD per statistic. ref / gen: outputs of ``graph_statistics``."""
    specs = _protocol(protocol)
    out = {}
    for name in names:
        spec = specs[name]
        x = [s[name] for s in ref]
        y = [s[name] for s in gen]
        out[name] = compute_mmd(
            x, y, spec.kernel, is_hist=spec.is_hist, sigma=spec.sigma, distance_scaling=spec.distance_scaling
        )
    return out


def _protocol(protocol: str) -> dict[str, KernelSpec]:
    if protocol not in PROTOCOLS:
        raise UsageError(f"unknown graph protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[protocol]


def graph_mmds(
    generated, reference, protocol: Protocol = "gdss", names=STATISTICS, n_jobs=None, progress=False
):
    """Squared MMD of degree / clustering / orbit / spectral statistics, generated vs reference.

    Empty generated graphs are dropped (both originals do so for degree, clustering and spectral;
    ORCA skips them for orbits).
    """
    _protocol(protocol)
    kept = [g for g in generated if len(adjacency_of(g)) > 0]
    ref = graph_statistics(reference, n_jobs=n_jobs, progress=progress)
    gen = graph_statistics(kept, n_jobs=n_jobs, progress=progress)
    return mmd_from_statistics(ref, gen, protocol, names)


# ---------------------------------------------------------------------------------------
# validity, uniqueness, novelty


def _validity_function(validity) -> Callable | None:
    """A callable Graph -> bool, from a dataset kind ("planar", "tree", "sbm") or a callable.

    The kinds are ``unigen.chem.validity.graph_validity``: planar = connected and planar (SPECTRE).
    """
    if validity is None or callable(validity):
        return validity
    if validity not in VALIDITY_KINDS:
        raise UsageError(f"unknown graph validity {validity!r}; valid: {', '.join(VALIDITY_KINDS)}")
    from unigen.chem.validity import graph_validity

    return lambda graph: graph_validity(graph, validity)


def _to_networkx(graph):
    import networkx as nx

    if hasattr(graph, "number_of_nodes") and not hasattr(graph, "edge_index"):
        return nx.Graph(graph)
    return nx.from_numpy_array(adjacency_of(graph))


class _IsomorphismIndex:
    """Graphs bucketed by Weisfeiler-Lehman hash; exact isomorphism tests only inside a bucket."""

    def __init__(self, graphs=()):
        self.buckets: dict[str, list] = {}
        for g in graphs:
            self.add(g)

    @staticmethod
    def _key(g) -> str:
        import warnings

        import networkx as nx

        with warnings.catch_warnings():  # networkx 3.5+ warns that unlabelled hashes changed; we only bucket
            warnings.simplefilter("ignore", UserWarning)
            return nx.weisfeiler_lehman_graph_hash(g, iterations=3)

    def contains(self, g) -> bool:
        import networkx as nx

        return any(nx.is_isomorphic(g, h) for h in self.buckets.get(self._key(g), []))

    def add(self, g) -> None:
        self.buckets.setdefault(self._key(g), []).append(g)


def fraction_vun(generated, train, validity=None) -> dict[str, float]:
    """SPECTRE ``eval_fraction_unique_non_isomorphic_valid`` and friends: fractions over all generated graphs.

    unique: not isomorphic to an earlier generated graph (empty graphs count as unique, never as
    valid, as in SPECTRE); novel: not isomorphic to any training graph (SPECTRE
    ``1 - eval_fraction_isomorphic``); unique_novel: both; vun: unique, novel and valid (needs
    ``validity``); valid: valid, whatever the rest. A ``None`` entry (a malformed record) counts
    in every denominator and in no numerator.
    """
    check = _validity_function(validity)
    seen, train_index = _IsomorphismIndex(), _IsomorphismIndex(_to_networkx(g) for g in train)
    n_unique = n_novel = n_unique_novel = n_vun = n_valid = 0
    for graph in generated:
        if graph is None:
            continue
        g = _to_networkx(graph)
        is_valid = bool(check(graph)) if check is not None and g.number_of_nodes() > 0 else False
        is_novel = g.number_of_nodes() == 0 or not train_index.contains(g)
        is_unique = g.number_of_nodes() == 0 or not seen.contains(g)
        if is_unique and g.number_of_nodes() > 0:
            seen.add(g)
        n_valid += is_valid
        n_novel += is_novel
        n_unique += is_unique
        n_unique_novel += is_unique and is_novel
        n_vun += is_unique and is_novel and is_valid
    n = max(len(generated), 1)
    out = {"unique": n_unique / n, "novel": n_novel / n, "unique_novel": n_unique_novel / n}
    if check is not None:
        out.update(valid=n_valid / n, vun=n_vun / n)
    return out


def score_graphs(
    generated: Sequence,
    reference: Sequence,
    protocol: Protocol = "gdss",
    train: Sequence | None = None,
    n_jobs: int | None = None,
    progress: bool = False,
    validity: str | Callable | None = None,
    statistics=STATISTICS,
) -> dict[str, float]:
    """Score generated graphs against reference (test) graphs.

    generated, reference, train: unigen ``Graph`` objects (networkx graphs and adjacency arrays
    are accepted too); ``None`` in ``generated`` is a malformed record: left out of the MMDs,
    counted (as invalid, not unique) in the fractions. Returns ``{"degree", "clustering",
    "orbit", "spectral"}`` squared MMDs; ``valid`` when ``validity`` is "planar", "tree", "sbm"
    (``VALIDITY_KINDS``) or a callable Graph -> bool; and, when ``train`` is given, ``unique`` /
    ``novel`` / ``unique_novel`` (+ ``vun``), all fractions of every generated record.
    """
    kept = [g for g in generated if g is not None]
    if len(kept) == 0 or len(reference) == 0:
        raise UsageError("score_graphs needs at least one generated and one reference graph")
    out = {k: v for k, v in graph_mmds(kept, reference, protocol, statistics, n_jobs, progress).items()}
    if train is not None:
        out.update(fraction_vun(generated, train, validity))
    elif validity is not None:
        check = _validity_function(validity)
        out["valid"] = sum(bool(check(g)) for g in kept) / len(generated)
    out["num_generated"] = len(generated)
    return out
