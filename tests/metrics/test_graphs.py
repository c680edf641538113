"""MMD kernels and generic-graph metrics: hand-computed values, zero on identical sets, V.U.N."""

import math

import networkx as nx
import numpy as np
import pytest
from conftest import requires_data

from unigen.chem.metrics.graphs import (
    PROTOCOLS,
    clustering_histogram,
    degree_histogram,
    fraction_vun,
    score_graphs,
    spectral_pmf,
)
from unigen.chem.metrics.mmd import compute_mmd, linear_mmd
from unigen.errors import UsageError
from unigen.structures import Graph

KERNELS = ["gaussian_emd", "gaussian_tv", "gaussian"]


# ---------------------------------------------------------------------------------------
# MMD


@pytest.mark.parametrize("kernel", KERNELS)
def test_identical_sets_give_zero(kernel):
    rng = np.random.default_rng(0)
    samples = [rng.integers(0, 5, size=rng.integers(2, 9)) for _ in range(7)]
    assert abs(compute_mmd(samples, list(samples), kernel)) < 1e-12


def test_hand_computed_two_point_sets():
    x, y = [np.array([1.0, 0.0])], [np.array([0.0, 1.0])]
    # EMD between unit masses one bin apart = 1; TV = (1 + 1) / 2 = 1; L2^2 = 2.
    assert compute_mmd(x, y, "gaussian_emd") == pytest.approx(2 - 2 * math.exp(-0.5))
    assert compute_mmd(x, y, "gaussian_tv") == pytest.approx(2 - 2 * math.exp(-0.5))
    assert compute_mmd(x, y, "gaussian", is_hist=False) == pytest.approx(2 - 2 * math.exp(-1.0))
    # distance scaling 2 halves the EMD; sigma 0.5 quadruples the exponent
    assert compute_mmd(x, y, "gaussian_emd", distance_scaling=2) == pytest.approx(2 - 2 * math.exp(-0.125))
    assert compute_mmd(x, y, "gaussian_tv", sigma=0.5) == pytest.approx(2 - 2 * math.exp(-2.0))


def test_hand_computed_mixed_sets():
    # X = {[1,0], [1,0]}, Y = {[1,0], [0,1]}: Kxx = 1, Kyy = (2 + 2e) / 4, Kxy = (1 + e) / 2, e = exp(-1/2)
    e = math.exp(-0.5)
    x = [np.array([1.0, 0.0])] * 2
    y = [np.array([1.0, 0.0]), np.array([0.0, 1.0])]
    assert compute_mmd(x, y, "gaussian_tv") == pytest.approx(1 + (2 + 2 * e) / 4 - (1 + e))


def test_histograms_are_normalised_and_zero_padded():
    assert compute_mmd([np.array([2, 0, 0])], [np.array([5])], "gaussian_emd") == pytest.approx(
        0.0, abs=1e-15
    )
    assert compute_mmd([np.array([2.0])], [np.array([5.0])], "gaussian", is_hist=False) > 0


def test_emd_kernel_matches_wasserstein_distance():
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(3)
    p, q = rng.random(12), rng.random(12)
    w = wasserstein_distance(np.arange(12), np.arange(12), p, q)
    expected = 2 - 2 * math.exp(-w * w / 2)
    assert compute_mmd([p], [q], "gaussian_emd") == pytest.approx(expected)


def test_different_sets_give_positive_mmd_and_empty_gives_nan():
    assert compute_mmd([np.array([1, 1])], [np.array([0, 0, 3])], "gaussian_tv") > 0.01
    assert math.isnan(compute_mmd([], [np.array([1])], "gaussian_tv"))
    assert linear_mmd(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == 2.0


# ---------------------------------------------------------------------------------------
# per-graph statistics agree with networkx


def test_statistics_match_networkx():
    g = nx.gnp_random_graph(25, 0.2, seed=4)
    g.add_node(25)  # an isolated node
    a = nx.to_numpy_array(g)
    np.testing.assert_array_equal(degree_histogram(a), nx.degree_histogram(g))
    expected = np.histogram(list(nx.clustering(g).values()), bins=100, range=(0.0, 1.0))[0]
    np.testing.assert_array_equal(clustering_histogram(a), expected)
    eigs = np.linalg.eigvalsh(nx.normalized_laplacian_matrix(g).toarray())
    expected = np.histogram(eigs, bins=200, range=(-1e-5, 2))[0]
    np.testing.assert_allclose(spectral_pmf(a), expected / expected.sum())


# ---------------------------------------------------------------------------------------
# score_graphs


def _graphs(generator, count, seed):
    return [Graph.from_adjacency(nx.to_numpy_array(generator(seed + i))) for i in range(count)]


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_score_graphs_identical_sets_zero_and_different_positive(protocol):
    ref = _graphs(lambda s: nx.gnp_random_graph(16, 0.3, seed=s), 6, 0)
    same = score_graphs(list(ref), ref, protocol=protocol, n_jobs=1)
    for name in ("degree", "clustering", "orbit", "spectral"):
        assert abs(same[name]) < 1e-12, name
    other = _graphs(lambda s: nx.grid_2d_graph(4, 4), 6, 0)
    diff = score_graphs(other, ref, protocol=protocol, n_jobs=1)
    for name in ("degree", "clustering", "orbit", "spectral"):
        assert diff[name] > 1e-3, name


def test_score_graphs_accepts_networkx_and_runs_in_parallel():
    ref = [nx.gnp_random_graph(12, 0.3, seed=s) for s in range(40)]
    gen = [nx.gnp_random_graph(12, 0.35, seed=100 + s) for s in range(40)]
    serial = score_graphs(gen, ref, "spectre", n_jobs=1)
    parallel = score_graphs(gen, ref, "spectre", n_jobs=2)
    for name in ("degree", "clustering", "orbit", "spectral"):
        assert serial[name] == pytest.approx(parallel[name], rel=1e-12)


def test_empty_generated_graphs_are_dropped():
    ref = _graphs(lambda s: nx.cycle_graph(6), 3, 0)
    with_empty = ref + [Graph(0, np.zeros((2, 0)))]
    assert score_graphs(with_empty, ref, n_jobs=1)["degree"] == pytest.approx(0.0, abs=1e-12)


def test_bad_protocol_and_empty_input_are_usage_errors():
    g = [Graph.from_adjacency(np.ones((3, 3)))]
    with pytest.raises(UsageError, match="protocol"):
        score_graphs(g, g, protocol="graphrnn")
    with pytest.raises(UsageError, match="at least one"):
        score_graphs([], g)


def test_vun_counts_duplicates_isomorphs_and_invalid_graphs():
    path = nx.path_graph(5)
    relabelled_path = nx.relabel_nodes(path, {0: 4, 1: 3, 2: 2, 3: 1, 4: 0})
    star, cycle, tree2 = nx.star_graph(4), nx.cycle_graph(5), nx.balanced_tree(2, 2)
    train = [Graph.from_adjacency(nx.to_numpy_array(star))]
    gen = [Graph.from_adjacency(nx.to_numpy_array(g)) for g in (path, relabelled_path, star, cycle, tree2)]
    out = fraction_vun(gen, train, validity=lambda g: nx.is_tree(nx.from_numpy_array(g.adjacency())))
    # unique: path, star, cycle, tree2 (the relabelled path is a duplicate) -> 4/5
    # unique and novel: path, cycle, tree2 (star is in train) -> 3/5; valid trees among them: path, tree2
    # novel, duplicates included: path, relabelled path, cycle, tree2 -> 4/5
    assert out == {"unique": 4 / 5, "novel": 4 / 5, "unique_novel": 3 / 5, "valid": 4 / 5, "vun": 2 / 5}


def test_malformed_records_count_in_every_denominator():
    path, cycle = (Graph.from_adjacency(nx.to_numpy_array(g)) for g in (nx.path_graph(5), nx.cycle_graph(5)))
    out = score_graphs(
        [path, None, cycle, None], [path, cycle], "spectre", train=[], validity="tree", n_jobs=1
    )
    assert out["degree"] == pytest.approx(0.0, abs=1e-12)  # the MMDs see the two real graphs only
    assert (
        out["num_generated"] == 4 and out["valid"] == 1 / 4 and out["unique"] == 2 / 4 and out["vun"] == 1 / 4
    )


def test_vun_with_named_validity_tree():
    gen = [
        Graph.from_adjacency(nx.to_numpy_array(nx.path_graph(4))),
        Graph.from_adjacency(nx.to_numpy_array(nx.cycle_graph(4))),
    ]
    out = score_graphs(gen, gen, protocol="spectre", train=[], validity="tree", n_jobs=1)
    assert out["vun"] == 0.5 and out["valid"] == 0.5
    with pytest.raises(UsageError, match="validity"):
        score_graphs(gen, gen, train=[], validity="lobster")


@requires_data("gdss_graphs", "community_small.pkl")
def test_community_small_train_vs_test_is_small():
    from unigen.data import load_dataset

    out = score_graphs(
        load_dataset("community_small", "train"), load_dataset("community_small", "test"), "gdss", n_jobs=1
    )
    assert 0 < out["degree"] < 0.05 and 0 < out["clustering"] < 0.05 and 0 <= out["orbit"] < 0.01


# ---------------------------------------------------------------------------------------
# the SPECTRE / DiGress construction, pinned against a literal transcription


def _digress_mmd(samples1, samples2, sigma):
    """DiGress ``dist_helper.compute_mmd(..., kernel=gaussian_tv)``: +1e-6 pmf, pair loops."""

    def tv_kernel(x, y):
        size = max(len(x), len(y))
        x, y = np.pad(x, (0, size - len(x))), np.pad(y, (0, size - len(y)))
        dist = np.abs(x - y).sum() / 2.0
        return np.exp(-dist * dist / (2 * sigma * sigma))

    def disc(a, b):
        return sum(tv_kernel(x, y) for x in a for y in b) / (len(a) * len(b))

    s1 = [s / (np.sum(s) + 1e-6) for s in samples1]
    s2 = [s / (np.sum(s) + 1e-6) for s in samples2]
    return disc(s1, s1) + disc(s2, s2) - 2 * disc(s1, s2)


def _digress_statistics(g):
    """DiGress ``degree_worker``, ``clustering_worker`` (100 bins) and ``spectral_worker``, verbatim."""
    from scipy.linalg import eigvalsh

    degree = np.array(nx.degree_histogram(g))
    clustering = np.histogram(list(nx.clustering(g).values()), bins=100, range=(0.0, 1.0))[0]
    eigs = eigvalsh(nx.normalized_laplacian_matrix(g).todense())
    spectral = np.histogram(eigs, bins=200, range=(-1e-5, 2))[0]
    return degree, clustering, spectral / spectral.sum()


@requires_data("spectre", "planar.pkl")
def test_spectre_kernels_match_the_digress_construction_on_planar_graphs():
    from unigen.data import load_dataset

    test, train = list(load_dataset("planar", "test"))[:12], list(load_dataset("planar", "train"))[:12]
    ours = score_graphs(
        train, test, protocol="spectre", n_jobs=1, statistics=("degree", "clustering", "spectral")
    )
    ref = [_digress_statistics(nx.from_numpy_array(g.adjacency())) for g in test]
    gen = [_digress_statistics(nx.from_numpy_array(g.adjacency())) for g in train]
    for i, (name, sigma) in enumerate([("degree", 1.0), ("clustering", 0.1), ("spectral", 1.0)]):
        expected = _digress_mmd([r[i] for r in ref], [g[i] for g in gen], sigma)
        # the +1e-6 in DiGress's pmf normalisation is the only difference: ~1e-8 relative
        assert ours[name] == pytest.approx(expected, rel=1e-5, abs=1e-9), name
