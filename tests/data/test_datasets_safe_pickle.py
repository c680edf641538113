"""The restricted unpickler loads real graph pickles and refuses everything else."""

import os
import pickle

import networkx as nx
import pytest
from conftest import data_path, requires_data

from unigen.data.safe_pickle import safe_load
from unigen.errors import UnigenError


class _RunsShell:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


class _CallsEval:
    def __reduce__(self):
        return (eval, ("1 + 1",))


@pytest.mark.parametrize("payload", [_RunsShell(), _CallsEval()], ids=["os.system", "eval"])
def test_malicious_pickle_is_refused_with_a_clear_error(tmp_path, payload):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps([nx.path_graph(3), payload]))
    with pytest.raises(UnigenError) as err:
        safe_load(path)
    message = str(err.value)
    assert str(path) in message and "refusing to unpickle" in message
    assert ("system" in message) or ("eval" in message)


def test_plain_networkx_pickle_round_trips(tmp_path):
    graphs = [nx.cycle_graph(5), nx.star_graph(3)]
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps({"train": graphs}))
    loaded = safe_load(path)["train"]
    assert [sorted(g.edges()) for g in loaded] == [sorted(g.edges()) for g in graphs]


def test_other_classes_are_refused_even_if_harmless(tmp_path):
    path = tmp_path / "digraph.pkl"
    path.write_bytes(pickle.dumps(nx.DiGraph([(0, 1)])))
    with pytest.raises(UnigenError, match="networkx.classes.digraph.DiGraph"):
        safe_load(path)


def test_truncated_pickle_is_a_one_line_error(tmp_path):
    path = tmp_path / "cut.pkl"
    path.write_bytes(pickle.dumps([nx.path_graph(4)])[:20])
    with pytest.raises(UnigenError, match="not a readable graph pickle") as err:
        safe_load(path)
    assert "\n" not in str(err.value)


@requires_data("gdss_graphs", "ENZYMES.pkl")
def test_gdss_enzymes_subgraph_views_load():
    graphs = safe_load(data_path("gdss_graphs", "ENZYMES.pkl"))
    assert len(graphs) == 587
    assert all(isinstance(g, nx.Graph) for g in graphs)
    assert graphs[0].number_of_nodes() == 37
