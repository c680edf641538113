"""SBM: stochastic-block-model graphs (SPECTRE / DiGress benchmark)."""

from __future__ import annotations

from unigen.data.datasets._graphs import ESGG, GDSS_PLANAR_SBM, PickledGraphs
from unigen.data.registry import RawFile, register


@register
class SBM(PickledGraphs):
    """SBM: 200 stochastic-block-model graphs, 2-5 communities, 44-187 nodes.

    File: ``spectre/sbm.pkl`` (AndreasBergmeister/graph-generation ``data/``): a dict of
    train / val / test networkx graph lists, SPECTRE's own split (DiGress uses the same).
    ``source="gdss"`` reads ``gdss_graphs/sbm.pkl`` instead: GDSS's small variant (200
    graphs of 21-27 nodes, GDSS split 160 / 40, no val), NOT comparable with SPECTRE numbers.
    Structures: Graph.

    STATS (source="spectre"):

        | split | structures |
        |-------|-----------:|
        | train |        128 |
        | val   |         32 |
        | test  |         40 |
        | all   |        200 |
    """

    name = "sbm"
    splits = ("train", "val", "test", "all")
    sources = {
        "spectre": ((RawFile("spectre/sbm.pkl", f"{ESGG}/sbm.pkl", "20254b6ddb268446"),), "spectre"),
        "gdss": ((RawFile("gdss_graphs/sbm.pkl", f"{GDSS_PLANAR_SBM}/sbm.pkl", "65b0ce65b44f1615"),), "gdss"),
    }
