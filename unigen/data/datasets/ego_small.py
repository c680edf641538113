"""Ego-small: 1-hop ego networks from Citeseer (GDSS)."""

from __future__ import annotations

from unigen.data.datasets._graphs import GDSS, PickledGraphs
from unigen.data.registry import RawFile, register


@register
class EgoSmall(PickledGraphs):
    """Ego-small: 1-hop ego networks from Citeseer (GDSS).

    File: ``gdss_graphs/ego_small.pkl`` (GDSS repository ``data/``), a pickled list of networkx
    graphs read with the restricted unpickler. GDSS split: test = the first 20% of the list,
    train = the rest. Structures: Graph (no node or edge features).

    STATS:

        | split | structures |
        |-------|-----------:|
        | train |        160 |
        | test  |         40 |
        | all   |        200 |

    Nodes per graph (min / max / mean): 4 / 17 / 6.4.
    """

    name = "ego_small"
    splits = ("train", "test", "all")
    sources = {
        "gdss": ((RawFile("gdss_graphs/ego_small.pkl", f"{GDSS}/ego_small.pkl", "eb1af8c309492974"),), "gdss")
    }
