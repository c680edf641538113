"""Community-20 (comm20): two-community graphs of 12-20 nodes (SPECTRE / DiGress benchmark)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from unigen.data.cache import cache_path, cached
from unigen.data.datasets._graphs import split_positions
from unigen.data.packed import PackedStructures, pack
from unigen.data.registry import Dataset, RawFile, register
from unigen.errors import UnigenError
from unigen.structures import Graph

SPECTRE = (
    "https://raw.githubusercontent.com/KarolisMart/SPECTRE/f676c0d55fe0eba2fbf10133291c9aeac89423e6/data"
)
NUM_GRAPHS, SEED = 100, 0


@register
class Comm20(Dataset):
    """Comm20: 100 graphs with two communities, 12-20 nodes (SPECTRE).

    File: ``spectre/community_12_21_100.pt``, a torch-saved tuple whose first item is the
    list of dense adjacency tensors. It is read with ``torch.load(weights_only=True)``, which
    admits only tensors and plain containers (no code execution).

    Split (DiGress ``src/datasets/spectre_dataset.py``, recomputed here, not stored in the
    file): ``torch.randperm(100, generator=torch.Generator().manual_seed(0))``; test =
    round(0.2 * 100) = 20, train = round(0.8 * 80) = 64, val = 16; each split keeps the
    file order. Structures: Graph.

    STATS:

        | split | structures |
        |-------|-----------:|
        | train |         64 |
        | val   |         16 |
        | test  |         20 |
        | all   |        100 |
    """

    name = "comm20"
    kind = "graph"
    splits = ("train", "val", "test", "all")
    files = (
        RawFile("spectre/community_12_21_100.pt", f"{SPECTRE}/community_12_21_100.pt", "cf4407da67a29eb4"),
    )

    def load(self, split, options) -> Sequence:
        (path,) = self.require(split, options)
        arrays = cached(
            cache_path(self.name, path.stem, [path], {"seed": SEED}, self.version), lambda: read_comm20(path)
        )
        return PackedStructures(arrays, split_positions(arrays, split))[: options["limit"]]


def digress_split(num_graphs: int, seed: int = SEED) -> list[str]:
    """Split name of every graph index, as DiGress assigns them."""
    import torch

    test_len = int(round(num_graphs * 0.2))
    train_len = int(round((num_graphs - test_len) * 0.8))
    order = torch.randperm(num_graphs, generator=torch.Generator().manual_seed(seed)).tolist()
    names = [""] * num_graphs
    for rank, index in enumerate(order):
        names[index] = "train" if rank < train_len else "val" if rank < num_graphs - test_len else "test"
    return names


def read_comm20(path: Path) -> dict:
    import torch

    try:
        adjs = torch.load(path, weights_only=True, map_location="cpu")[0]
    except Exception as err:  # torch raises UnpicklingError / RuntimeError for foreign content
        raise UnigenError(
            f"{path}: not a SPECTRE graph file ({type(err).__name__}: {str(err).splitlines()[0]})"
        ) from None
    if len(adjs) != NUM_GRAPHS:
        raise UnigenError(f"{path}: expected {NUM_GRAPHS} adjacency matrices, found {len(adjs)}")
    graphs = [Graph.from_adjacency(np.asarray(a.numpy()) != 0) for a in adjs]
    return pack(graphs, {"split": digress_split(len(graphs))})
