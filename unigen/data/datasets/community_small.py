"""Community-small: two-community random graphs (GDSS)."""

from __future__ import annotations

from unigen.data.datasets._graphs import GDSS, PickledGraphs
from unigen.data.registry import RawFile, register


@register
class CommunitySmall(PickledGraphs):
    """Community-small: two-community random graphs (GDSS).

    File: ``gdss_graphs/community_small.pkl`` (GDSS repository ``data/``), a pickled list of networkx
    graphs read with the restricted unpickler. GDSS split: test = the first 20% of the list,
    train = the rest. Structures: Graph (no node or edge features).

    STATS:

        | split | structures |
        |-------|-----------:|
        | train |         80 |
        | test  |         20 |
        | all   |        100 |

    Nodes per graph (min / max / mean): 12 / 20 / 15.3.
    """

    name = "community_small"
    splits = ("train", "test", "all")
    sources = {
        "gdss": (
            (RawFile("gdss_graphs/community_small.pkl", f"{GDSS}/community_small.pkl", "ee0390de8ca9855e"),),
            "gdss",
        )
    }
