"""Planar: random planar graphs with 64 nodes (SPECTRE / DiGress benchmark)."""

from __future__ import annotations

from unigen.data.datasets._graphs import ESGG, GDSS_PLANAR_SBM, PickledGraphs
from unigen.data.registry import RawFile, register


@register
class Planar(PickledGraphs):
    """Planar: 200 planar graphs of 64 nodes (Delaunay triangulations of random points).

    File: ``spectre/planar.pkl`` (AndreasBergmeister/graph-generation ``data/``): a dict of
    train / val / test networkx graph lists, SPECTRE's own split (DiGress uses the same).
    ``source="gdss"`` reads ``gdss_graphs/planar.pkl`` instead: GDSS's smaller 60-node
    variant (200 graphs, GDSS split 160 / 40, no val), NOT comparable with SPECTRE numbers.
    Structures: Graph.

    STATS (source="spectre"):

        | split | structures |
        |-------|-----------:|
        | train |        128 |
        | val   |         32 |
        | test  |         40 |
        | all   |        200 |
    """

    name = "planar"
    splits = ("train", "val", "test", "all")
    sources = {
        "spectre": ((RawFile("spectre/planar.pkl", f"{ESGG}/planar.pkl", "dc93ab0836849352"),), "spectre"),
        "gdss": (
            (RawFile("gdss_graphs/planar.pkl", f"{GDSS_PLANAR_SBM}/planar.pkl", "b8591828181e3d5c"),),
            "gdss",
        ),
    }
