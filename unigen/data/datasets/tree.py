"""Tree: random labelled trees with 64 nodes (the ESGG benchmark set)."""

from __future__ import annotations

from unigen.data.datasets._graphs import ESGG, PickledGraphs
from unigen.data.registry import RawFile, register


@register
class Tree(PickledGraphs):
    """Tree: 200 random trees of 64 nodes (Bergmeister et al., ESGG; seeds 0 / 1 / 2).

    File: ``spectre/tree.pkl`` (AndreasBergmeister/graph-generation ``data/``): a dict of
    train / val / test networkx graph lists. Structures: Graph.

    STATS:

        | split | structures |
        |-------|-----------:|
        | train |        128 |
        | val   |         32 |
        | test  |         40 |
        | all   |        200 |
    """

    name = "tree"
    splits = ("train", "val", "test", "all")
    sources = {"spectre": ((RawFile("spectre/tree.pkl", f"{ESGG}/tree.pkl", "ad27d04dd28fb212"),), "spectre")}
