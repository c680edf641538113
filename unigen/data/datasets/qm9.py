"""QM9 as 2D molecular graphs (GDB-17 SMILES, no stereo), with the GraphNVP/MoFlow/GDSS split."""

from __future__ import annotations

import json

import numpy as np

from unigen.data.datasets._smiles import SmilesDataset, read_lines
from unigen.data.registry import RawFile, register
from unigen.errors import UnigenError

GDSS = "https://raw.githubusercontent.com/harryjo97/GDSS/24cc490e0c5b39cbd265fda33ab2bc8b528d4454/data"
SELFIES = (
    "https://raw.githubusercontent.com/aspuru-guzik-group/selfies/eb6177e5f20cfd8787f2ac4423f5b38dce6eeeb8"
)
NUM_MOLECULES = 133_885


@register
class QM9(SmilesDataset):
    """QM9 2D: 133,885 small organic molecules (C, N, O, F; at most 9 heavy atoms).

    Files: ``qm9/qm9.csv`` (header ``smiles``; data row i = GDB id i+1) and
    ``qm9/valid_idx_qm9.json`` (13,082 test ids, 1-based GDB ids, GraphNVP/MoFlow/GDSS).

    ``index`` chooses how the test ids become rows of qm9.csv:
      - ``"gdss"`` (default): row = id, GDSS's off-by-one reading, so numbers compare with
        the GDSS line of papers (GDSS, GruM, SwinGNN, ...);
      - ``"moflow"``: row = id - 1, the intended molecules (MoFlow's reading).
    Train is every other row (ascending); test keeps the json order; ``all`` is every row in
    GDB order. Structures: MolGraph, hydrogens implicit, kekulized (``kekulize=True``) with
    meta ``smiles``, ``row`` (0-based row of qm9.csv) and ``gdb_id`` (row + 1).

    STATS:

        | split | structures |
        |-------|-----------:|
        | train |    120,803 |
        | test  |     13,082 |
        | all   |    133,885 |
    """

    name = "qm9"
    splits = ("train", "test", "all")
    files = (
        RawFile("qm9/qm9.csv", f"{SELFIES}/tests/test_sets/qm9.csv", "80c060e299a44112"),
        RawFile("qm9/valid_idx_qm9.json", f"{GDSS}/valid_idx_qm9.json", "889fd232a33d8a2c"),
    )
    defaults = SmilesDataset.defaults | {"index": "gdss"}
    choices = SmilesDataset.choices | {"index": ("gdss", "moflow")}

    def files_for(self, split, options):
        return list(self.files) if split != "all" else [self.files[0]]

    def read(self, path):
        smiles = read_lines(path, header="smiles")
        if len(smiles) != NUM_MOLECULES:
            raise UnigenError(f"{path}: expected {NUM_MOLECULES} SMILES rows, found {len(smiles)}")
        return smiles

    def rows(self, split, options, n):
        if split == "all":
            return np.arange(n)
        test = gdss_test_rows(self.files[1].local, options["index"])
        if split == "test":
            return test
        return np.setdiff1d(np.arange(n), test)

    def extra_meta(self, rows):
        return {"gdb_id": (rows + 1).tolist()}


def gdss_test_rows(path, index: str) -> np.ndarray:
    """0-based qm9.csv rows of the test split under the ``gdss`` or ``moflow`` reading."""
    try:
        with open(path, encoding="utf-8") as handle:
            ids = np.array([int(v) for v in json.load(handle)["valid_idxs"]], np.int64)
    except (ValueError, KeyError, TypeError) as err:
        raise UnigenError(f"{path}: not a GDSS valid_idx file ({type(err).__name__}: {err})") from None
    return ids if index == "gdss" else ids - 1
