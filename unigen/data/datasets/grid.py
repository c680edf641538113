"""Grid: 2D grid graphs, 10-19 by 10-19 nodes (GDSS)."""

from __future__ import annotations

from unigen.data.datasets._graphs import GDSS, PickledGraphs
from unigen.data.registry import RawFile, register


@register
class Grid(PickledGraphs):
    """Grid: 2D grid graphs, 10-19 by 10-19 nodes (GDSS).

    File: ``gdss_graphs/grid.pkl`` (GDSS repository ``data/``), a pickled list of networkx
    graphs read with the restricted unpickler. GDSS split: test = the first 20% of the list,
    train = the rest. Structures: Graph (no node or edge features).

    STATS:

        | split | structures |
        |-------|-----------:|
        | train |         80 |
        | test  |         20 |
        | all   |        100 |

    Nodes per graph (min / max / mean): 110 / 361 / 216.4.
    """

    name = "grid"
    splits = ("train", "test", "all")
    sources = {"gdss": ((RawFile("gdss_graphs/grid.pkl", f"{GDSS}/grid.pkl", "1c533398435301fa"),), "gdss")}
