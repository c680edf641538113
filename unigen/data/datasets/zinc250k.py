"""ZINC250k (the Gomez-Bombarelli et al. 2018 drug-like set) with the MoFlow/GDSS test split."""

from __future__ import annotations

import csv
import json

import numpy as np

from unigen.data.datasets._smiles import SmilesDataset
from unigen.data.registry import RawFile, register
from unigen.errors import RecordError, UnigenError

GDSS = "https://raw.githubusercontent.com/harryjo97/GDSS/24cc490e0c5b39cbd265fda33ab2bc8b528d4454/data"
CHEMICAL_VAE = (
    "https://raw.githubusercontent.com/aspuru-guzik-group/chemical_vae/master/models/zinc_properties"
)
NUM_MOLECULES = 249_455


@register
class Zinc250k(SmilesDataset):
    """ZINC250k: 249,455 drug-like molecules (up to 38 heavy atoms; C N O F P S Cl Br I).

    Files: ``zinc250k/250k_rndm_zinc_drugs_clean_3.csv`` (the chemical_vae CSV: columns
    ``smiles,logP,qed,SAS``; SMILES carry a trailing newline, stripped here) and
    ``zinc250k/valid_idx_zinc250k.json`` (24,887 test indices, MoFlow/GDSS). The CSV is not
    in the benchmark data bundle: supply it yourself (or ``unigen data fetch zinc250k
    --allow-unverified``, since no checksum is recorded for it).

    ``index``: ``"gdss"`` (default) uses each json value as the 0-based row, as GDSS does;
    ``"moflow"`` uses value - 1, as MoFlow does. Train = every other row (ascending).
    Meta: ``smiles``, ``row``.

    STATS:

        | split | structures |
        |-------|-----------:|
        | train |    224,568 |
        | test  |     24,887 |
        | all   |    249,455 |
    """

    name = "zinc250k"
    splits = ("train", "test", "all")
    files = (
        RawFile(
            "zinc250k/250k_rndm_zinc_drugs_clean_3.csv",
            f"{CHEMICAL_VAE}/250k_rndm_zinc_drugs_clean_3.csv",
            None,
            note="not in the benchmark bundle; place the chemical_vae CSV there (see data/README.md)",
        ),
        RawFile("zinc250k/valid_idx_zinc250k.json", f"{GDSS}/valid_idx_zinc250k.json", "cf1af3a8588c9474"),
    )
    defaults = SmilesDataset.defaults | {"index": "gdss"}
    choices = SmilesDataset.choices | {"index": ("gdss", "moflow")}

    def files_for(self, split, options):
        return list(self.files) if split != "all" else [self.files[0]]

    def read(self, path):
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            if "smiles" not in header:
                raise RecordError(str(path), 1, "expected a CSV with a 'smiles' column")
            column = header.index("smiles")
            smiles = [row[column].strip() for row in reader]
        if len(smiles) != NUM_MOLECULES:
            raise UnigenError(
                f"{path}: expected {NUM_MOLECULES} rows (the split indices refer to them), found {len(smiles)}"
            )
        return smiles

    def rows(self, split, options, n):
        if split == "all":
            return np.arange(n)
        with open(self.files[1].local, encoding="utf-8") as handle:
            test = np.array(json.load(handle), np.int64)
        test = test if options["index"] == "gdss" else test - 1
        return test if split == "test" else np.setdiff1d(np.arange(n), test)
