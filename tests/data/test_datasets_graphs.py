"""Generic graph datasets: split rules, conversion to Graph, cache reuse and invalidation."""

import pickle

import networkx as nx
import numpy as np
import pytest
from conftest import requires_data

from unigen.data import load_dataset
from unigen.data.safe_pickle import safe_load
from unigen.structures import Graph

GDSS_FILES = {
    "community_small": "community_small.pkl",
    "ego_small": "ego_small.pkl",
    "grid": "grid.pkl",
    "enzymes": "ENZYMES.pkl",
}


@pytest.mark.parametrize("name", sorted(GDSS_FILES))
def test_gdss_split_is_first_20_percent_test(name):
    from conftest import data_path

    path = data_path("gdss_graphs", GDSS_FILES[name])
    if not path.exists():
        pytest.skip(f"{path} not available")
    raw = safe_load(path)
    test, train = load_dataset(name, "test"), load_dataset(name, "train")
    n_test = int(0.2 * len(raw))
    assert (len(test), len(train)) == (n_test, len(raw) - n_test)
    for graph, original in [(test[0], raw[0]), (train[0], raw[n_test]), (train[-1], raw[-1])]:
        assert isinstance(graph, Graph)
        assert (graph.num_nodes, graph.num_edges) == (original.number_of_nodes(), original.number_of_edges())
        # same graph up to the node relabelling of networkx_to_graph (nodes in g.nodes() order)
        np.testing.assert_array_equal(graph.adjacency(), nx.to_numpy_array(original, weight=None))


@pytest.mark.parametrize("name", ["planar", "sbm", "tree"])
def test_spectre_split_is_128_32_40(name):
    from conftest import data_path

    if not data_path("spectre", f"{name}.pkl").exists():
        pytest.skip("spectre data not available")
    sizes = {s: len(load_dataset(name, s)) for s in ("train", "val", "test", "all")}
    assert sizes == {"train": 128, "val": 32, "test": 40, "all": 200}
    raw = safe_load(data_path("spectre", f"{name}.pkl"))
    assert load_dataset(name, "val")[0].num_edges == raw["val"][0].number_of_edges()


@requires_data("spectre", "planar.pkl")
def test_spectre_planar_graphs_have_64_nodes_and_are_planar():
    from unigen.chem.convert import graph_to_networkx

    graphs = load_dataset("planar", "test")
    assert all(g.num_nodes == 64 for g in graphs)
    assert all(nx.check_planarity(graph_to_networkx(g))[0] for g in graphs)


@requires_data("spectre", "tree.pkl")
def test_tree_graphs_are_trees():
    from unigen.chem.convert import graph_to_networkx

    assert all(nx.is_tree(graph_to_networkx(g)) for g in load_dataset("tree", "train", limit=20))


@requires_data("gdss_graphs", "planar.pkl")
def test_gdss_planar_variant_has_no_val_split():
    from unigen.errors import UsageError

    assert len(load_dataset("planar", "test", source="gdss")) == 40
    with pytest.raises(UsageError, match="no split 'val'"):
        load_dataset("planar", "val", source="gdss")


@requires_data("gdss_graphs", "ENZYMES.pkl")
def test_enzymes_node_counts_match_stats():
    sizes = [g.num_nodes for g in load_dataset("enzymes", "all")]
    assert (min(sizes), max(sizes), round(float(np.mean(sizes)), 1)) == (10, 125, 33.0)


@requires_data("spectre", "community_12_21_100.pt")
def test_comm20_loads_with_weights_only_and_splits_64_16_20():
    sizes = {s: len(load_dataset("comm20", s)) for s in ("train", "val", "test")}
    assert sizes == {"train": 64, "val": 16, "test": 20}
    assert all(12 <= g.num_nodes <= 20 for g in load_dataset("comm20", "all"))


def test_digress_split_is_a_partition_in_the_right_sizes():
    from unigen.data.datasets.comm20 import digress_split

    names = digress_split(100)
    assert [names.count(s) for s in ("train", "val", "test")] == [64, 16, 20]
    assert digress_split(100) == names  # fixed seed


def _write_graphs(folder, graphs):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "community_small.pkl").write_bytes(pickle.dumps(graphs))


def test_cache_is_reused_and_invalidated_by_a_changed_raw_file(tmp_path, monkeypatch):
    import unigen.data.datasets._graphs as graphs_module

    monkeypatch.setenv("UNIGEN_DATA_DIR", str(tmp_path / "raw"))
    monkeypatch.setenv("UNIGEN_CACHE_DIR", str(tmp_path / "cache"))
    _write_graphs(tmp_path / "raw" / "gdss_graphs", [nx.path_graph(k) for k in range(2, 12)])
    first = load_dataset("community_small", "test")
    assert [g.num_nodes for g in first] == [2, 3]  # int(0.2 * 10) = 2 first graphs
    assert len(list((tmp_path / "cache" / "community_small").glob("*.npz"))) == 1

    real_reader = graphs_module.read_graphs
    monkeypatch.setattr(graphs_module, "read_graphs", lambda *a: pytest.fail("raw file read again"))
    assert [g.num_edges for g in load_dataset("community_small", "test")] == [1, 2]

    monkeypatch.setattr(graphs_module, "read_graphs", real_reader)
    _write_graphs(tmp_path / "raw" / "gdss_graphs", [nx.cycle_graph(k) for k in range(3, 13)])
    assert [g.num_edges for g in load_dataset("community_small", "test")] == [3, 4]
    assert len(list((tmp_path / "cache" / "community_small").glob("*.npz"))) == 2
    assert not list((tmp_path / "raw").rglob("*.npz"))  # nothing written next to raw data


@requires_data("enzymes", "ENZYMES_A.txt")
@requires_data("gdss_graphs", "ENZYMES.pkl")
def test_enzymes_from_raw_tu_files_equals_the_gdss_pickle():
    from_tu, from_pickle = load_dataset("enzymes", "all", source="tu"), load_dataset("enzymes", "all")
    assert len(from_tu) == len(from_pickle) == 587
    for a, b in zip(from_tu, from_pickle):
        assert a.num_nodes == b.num_nodes
        np.testing.assert_array_equal(a.edge_index, b.edge_index)
    assert len(load_dataset("enzymes", "test", source="tu")) == 117
