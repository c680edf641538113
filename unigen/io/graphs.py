"""Generic graph files: a JSON adjacency format and a plain-text edge list. No pickle.

JSON (``.json``)::

    {"graphs": [{"num_nodes": 4, "edges": [[0, 1], [1, 2], [2, 3]], "name": "path4"}, ...]}

``num_nodes`` is required (isolated nodes exist); ``edges`` lists undirected edges between
0-based node ids (each once, either direction; self loops and duplicates are dropped);
``name`` is optional. Each malformed graph is one RecordError naming its index.

Edge list (``.edgelist``, ``.edges``): graphs are blocks of non-blank lines separated by
blank lines. Each line is ``i j`` (0-based node ids; further columns, such as networkx's
``{}`` data column, are ignored). ``#`` starts a comment; a ``# num_nodes: N`` comment sets
the node count (otherwise 1 + the largest id), so a graph with isolated nodes or no edges
round-trips. A line that is not two non-negative integers makes its graph a RecordError
naming the line.
"""

from __future__ import annotations

import json
import re

import numpy as np

from unigen import limits
from unigen.errors import RecordError, UnigenError, UsageError
from unigen.io._text import is_digits, read_text, write_text
from unigen.io.result import ReadResult
from unigen.structures import Graph

_NUM_NODES = re.compile(r"^#\s*num_nodes\s*[:=]?\s*(\S+)\s*$", re.I)


class _GraphError(Exception):
    pass


# ---------------------------------------------------------------------------------------
# JSON


def read_graph_json(path) -> ReadResult:
    """Graphs of a ``{"graphs": [...]}`` JSON file; each malformed graph is a RecordError."""
    try:
        document = json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise UnigenError(
            f"{path}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})"
        ) from None
    except RecursionError:  # json's scanner recurses per level: 10^5 nested brackets
        raise UsageError(f"{path}: JSON nested too deeply (a graph file needs 4 levels)") from None
    if not isinstance(document, dict) or not isinstance(document.get("graphs"), list):
        raise UnigenError(f'{path}: expected a JSON object {{"graphs": [...]}}')
    records, errors = [], []
    for number, entry in enumerate(document["graphs"], start=1):
        try:
            graph = _json_graph(entry)
        except _GraphError as err:
            errors.append(RecordError(path, number, f"graph {number - 1}: {err}"))
            continue
        graph.meta["record"] = number
        records.append(graph)
    return ReadResult(records, errors, str(path))


def _json_graph(entry) -> Graph:
    if not isinstance(entry, dict):
        raise _GraphError(f"expected an object with num_nodes and edges, got {type(entry).__name__}")
    num_nodes = entry.get("num_nodes")
    if not _is_count(num_nodes):
        raise _GraphError(f"num_nodes must be a non-negative integer, got {num_nodes!r}")
    graph = _checked_graph(num_nodes, _json_edges(entry.get("edges", [])))
    if entry.get("name") is not None:
        graph.meta["name"] = str(entry["name"])
    return graph


def _json_edges(edges) -> np.ndarray:
    """(E, 2) int64 array of a JSON edge list; _GraphError unless it is pairs of ints >= 0."""
    try:
        array = np.asarray(edges)
    except ValueError:  # ragged nesting
        array = None
    if array is None or not (
        array.size == 0
        or (array.ndim == 2 and array.shape[1] == 2 and array.dtype.kind == "i" and array.min() >= 0)
    ):
        raise _GraphError("edges must be a list of [i, j] pairs of non-negative integers")
    return array.astype(np.int64).reshape(-1, 2)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _checked_graph(num_nodes: int, edges) -> Graph:
    if num_nodes > limits.limit("graph_nodes"):  # metrics build dense num_nodes^2 adjacencies
        raise _GraphError(f"graph of {limits.exceeded('graph_nodes', num_nodes, 'nodes')}")
    edge_index = np.asarray(edges, np.int64).reshape(-1, 2).T
    if edge_index.size and edge_index.max() >= num_nodes:
        raise _GraphError(f"edge refers to node {int(edge_index.max())} but num_nodes is {num_nodes}")
    return Graph(num_nodes, edge_index)


def write_graph_json(path, records) -> None:
    """Write graphs as ``{"graphs": [...]}``, one graph per line, atomically."""
    write_text(path, _json_chunks(path, records))


def _json_chunks(path, records):
    yield '{"graphs": [\n'
    for k, graph in enumerate(records, start=1):
        _require_graph(path, k, graph)
        entry = {"num_nodes": graph.num_nodes, "edges": graph.edge_index.T.tolist()}
        if graph.meta.get("name") is not None:
            entry["name"] = str(graph.meta["name"])
        yield ("" if k == 1 else ",\n") + json.dumps(entry)
    yield "\n]}\n"


def _require_graph(path, index: int, graph) -> None:
    if not isinstance(graph, Graph):
        raise RecordError(path, index, f"graph formats hold Graph, got {type(graph).__name__}")


# ---------------------------------------------------------------------------------------
# Edge list


def read_edgelist(path) -> ReadResult:
    """Graphs of a blank-line separated edge-list file; each malformed block is a RecordError."""
    records, errors = [], []
    for number, (first, block) in enumerate(_blocks(read_text(path)), start=1):
        try:
            graph = _block_graph(first, block)
        except _GraphError as err:
            errors.append(RecordError(path, number, str(err)))
            continue
        graph.meta["record"] = number
        records.append(graph)
    return ReadResult(records, errors, str(path))


def _blocks(text: str):
    """Yield (first line number, [(line number, line), ...]) per blank-line separated block."""
    block: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            block.append((number, line.strip()))
        elif block:
            yield block[0][0], block
            block = []
    if block:
        yield block[0][0], block


def _block_graph(first: int, block) -> Graph:
    num_nodes, edges = None, []
    for number, line in block:
        if line.startswith("#"):
            match = _NUM_NODES.match(line)
            if match:
                num_nodes = _parse_count(match.group(1), number, "num_nodes")
            continue
        tokens = line.split()
        if len(tokens) < 2:
            raise _GraphError(f"line {number}: expected 'i j', got {line[:60]!r}")
        edges.append([_parse_count(tokens[0], number, "node id"), _parse_count(tokens[1], number, "node id")])
    inferred = 1 + max((max(e) for e in edges), default=-1)
    if num_nodes is None and not edges:
        raise _GraphError(f"line {first}: block has no edges and no '# num_nodes: N' line")
    try:
        return _checked_graph(inferred if num_nodes is None else num_nodes, edges)
    except _GraphError as err:
        raise _GraphError(f"line {first}: {err}") from None


def _parse_count(token: str, line: int, what: str) -> int:
    if not is_digits(token):
        raise _GraphError(f"line {line}: {what} must be a non-negative integer, got {token[:30]!r}")
    return int(token)


def write_edgelist(path, records) -> None:
    """Write graphs as blank-line separated edge-list blocks, each with its node count."""
    write_text(path, (_edgelist_block(path, k, graph) for k, graph in enumerate(records, start=1)))


def _edgelist_block(path, index: int, graph) -> str:
    _require_graph(path, index, graph)
    header = f"# graph {index - 1}\n# num_nodes: {graph.num_nodes}\n"
    edges = "".join(f"{i} {j}\n" for i, j in graph.edge_index.T.tolist())
    return ("\n" if index > 1 else "") + header + edges
