"""ENZYMES: protein tertiary-structure graphs (BRENDA), GDSS's 587-graph selection."""

from __future__ import annotations

from unigen.data.datasets._graphs import GDSS, PickledGraphs
from unigen.data.registry import RawFile, register

GDSS_TU = "https://raw.githubusercontent.com/harryjo97/GDSS/24cc490e0c5b39cbd265fda33ab2bc8b528d4454/dataset/ENZYMES"


@register
class Enzymes(PickledGraphs):
    """ENZYMES: protein tertiary-structure graphs (BRENDA), GDSS's 587-graph selection.

    File: ``gdss_graphs/ENZYMES.pkl`` (GDSS repository ``data/``), a pickled list of networkx
    graphs read with the restricted unpickler. GDSS split: test = the first 20% of the list,
    train = the rest. ``source="tu"`` rebuilds the same 587 graphs (same order, same node
    order) from the raw TU-Dortmund files ``enzymes/ENZYMES_A.txt`` and
    ``enzymes/ENZYMES_graph_indicator.txt``, as GraphRNN's loader did: isolated nodes dropped,
    graphs with 10-1000 nodes kept (13 of the 600 are smaller). Structures: Graph; node labels
    and attributes are not kept. (The pickle's ``graph["label"]`` is 4 for every graph:
    GraphRNN's loader set it on subgraph views that share one attribute dict, so it is not
    the enzyme class.)

    STATS:

        | split | structures |
        |-------|-----------:|
        | train |        470 |
        | test  |        117 |
        | all   |        587 |

    Nodes per graph (min / max / mean): 10 / 125 / 33.0.
    """

    name = "enzymes"
    splits = ("train", "test", "all")
    sources = {
        "gdss": ((RawFile("gdss_graphs/ENZYMES.pkl", f"{GDSS}/ENZYMES.pkl", "d1fb37bd6322be1e"),), "gdss"),
        "tu": (
            (
                RawFile("enzymes/ENZYMES_A.txt", f"{GDSS_TU}/ENZYMES_A.txt"),
                RawFile("enzymes/ENZYMES_graph_indicator.txt", f"{GDSS_TU}/ENZYMES_graph_indicator.txt"),
            ),
            "tu",
        ),
    }
