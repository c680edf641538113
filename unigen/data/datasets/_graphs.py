"""Shared machinery for generic graph benchmarks stored as networkx pickles (GDSS, SPECTRE).

The pickles are read once with the restricted unpickler (``unigen.data.safe_pickle``) and
converted to packed ``Graph`` arrays in the processed cache, so later loads never unpickle.

Split layouts:
    "gdss":    a list of graphs; test = the first int(0.2 * n), train = the rest (GDSS
               ``utils/data_loader.py``, no shuffling).
    "spectre": a dict ``train`` / ``val`` / ``test`` of graph lists (split stored in the file).
    "tu":      raw TU-Dortmund text files (``*_A.txt`` edges, ``*_graph_indicator.txt``), turned
               into graphs as GraphRNN's ``Graph_load_batch`` does (GDSS made its ENZYMES.pkl
               that way), then split like "gdss".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from unigen.data.cache import cache_path, cached
from unigen.data.packed import PackedStructures, pack
from unigen.data.registry import Dataset, RawFile
from unigen.errors import UnigenError, UsageError

GDSS = "https://raw.githubusercontent.com/harryjo97/GDSS/24cc490e0c5b39cbd265fda33ab2bc8b528d4454/data"
GDSS_PLANAR_SBM = (
    "https://raw.githubusercontent.com/harryjo97/GDSS/1127850c62fbdf22f44711cae3f07e4d5a5cde99/data"
)
ESGG = "https://raw.githubusercontent.com/AndreasBergmeister/graph-generation/462597836ac8902d0b61d67aaa88ffc1c42729c2/data"
SPLITS_OF = {
    "gdss": ("train", "test", "all"),
    "tu": ("train", "test", "all"),
    "spectre": ("train", "val", "test", "all"),
}


class PickledGraphs(Dataset):
    """Subclasses set ``sources``: option value -> (RawFiles, layout); the first is the default."""

    kind = "graph"
    sources: dict[str, tuple[tuple[RawFile, ...], str]] = {}

    @property
    def defaults(self):
        return {"source": next(iter(self.sources))}

    @property
    def choices(self):
        return {"source": tuple(self.sources)}

    @property
    def files(self):
        return tuple(raw for files, _ in self.sources.values() for raw in files)

    def files_for(self, split, options):
        return list(self.sources[options["source"]][0])

    def load(self, split, options) -> Sequence:
        layout = self.sources[options["source"]][1]
        if split not in SPLITS_OF[layout]:
            raise UsageError(
                f"{self.name} (source={options['source']}) has no split {split!r}; splits: {', '.join(SPLITS_OF[layout])}"
            )
        paths = self.require(split, options)
        where = cache_path(self.name, paths[0].stem, paths, {"layout": layout}, self.version)
        arrays = cached(where, lambda: read_graphs(paths, layout))
        return PackedStructures(arrays, split_positions(arrays, split))[: options["limit"]]


def read_graphs(paths: list[Path], layout: str) -> dict:
    """Raw file(s) -> packed Graph arrays with a ``split`` meta column."""
    from unigen.data.safe_pickle import safe_load

    path = paths[0]
    data = read_tu_graphs(*paths) if layout == "tu" else safe_load(path)
    if layout in ("gdss", "tu"):
        _expect(isinstance(data, list), path, "a list of networkx graphs")
        test_size = int(0.2 * len(data))
        labelled = [("test" if k < test_size else "train", g) for k, g in enumerate(data)]
    else:
        _expect(
            isinstance(data, dict) and {"train", "val", "test"} <= set(data),
            path,
            "a dict with train/val/test lists",
        )
        labelled = [(split, g) for split in ("train", "val", "test") for g in data[split]]
    return pack_networkx(labelled, path)


def read_tu_graphs(edges: Path, indicator: Path, min_nodes: int = 10, max_nodes: int = 1000) -> list:
    """TU text files -> networkx graphs, exactly as GraphRNN's ``Graph_load_batch``:
    one big graph from the edge list, isolated nodes dropped, then one subgraph per graph id,
    kept when it has ``min_nodes`` to ``max_nodes`` nodes."""
    import networkx as nx

    try:
        pairs = np.loadtxt(edges, delimiter=",", dtype=np.int64, ndmin=2)
        graph_of_node = np.loadtxt(indicator, dtype=np.int64, ndmin=1)
    except ValueError as err:
        raise UnigenError(f"{edges.parent}: unreadable TU dataset files ({err})") from None
    whole = nx.Graph()
    whole.add_edges_from(map(tuple, pairs.tolist()))
    whole.add_nodes_from(range(1, len(graph_of_node) + 1))
    whole.remove_nodes_from(list(nx.isolates(whole)))
    node_ids = np.arange(1, len(graph_of_node) + 1)
    subgraphs = (
        whole.subgraph(node_ids[graph_of_node == k].tolist()) for k in range(1, graph_of_node.max() + 1)
    )
    return [g for g in subgraphs if min_nodes <= g.number_of_nodes() <= max_nodes]


def pack_networkx(labelled: list[tuple[str, object]], path: Path) -> dict:
    from unigen.chem.convert import networkx_to_graph

    for _, g in labelled:
        _expect(hasattr(g, "nodes") and hasattr(g, "edges"), path, "networkx graphs")
    graphs = [networkx_to_graph(g) for _, g in labelled]
    return pack(graphs, {"split": [split for split, _ in labelled]})


def split_positions(arrays: dict, split: str) -> np.ndarray:
    """Packed positions of ``split`` (``all``: every graph, in file order)."""
    from unigen.data.packed import unpack_string

    if split == "all":
        return np.arange(len(arrays["num_nodes"]))
    names = [
        unpack_string(arrays["meta.str.split"], arrays["meta.ptr.split"], k)
        for k in range(len(arrays["num_nodes"]))
    ]
    return np.array([k for k, name in enumerate(names) if name == split], np.int64)


def _expect(ok: bool, path: Path, what: str) -> None:
    if not ok:
        raise UnigenError(f"{path}: expected {what}")
