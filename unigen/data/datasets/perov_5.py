"""Perov-5 (CDVAE): cubic-derived ABX3 perovskites, 5 atoms per cell."""

from __future__ import annotations

from unigen.data.datasets._cdvae import CdvaeCrystals, cdvae_files
from unigen.data.registry import RawFile, register

DEV = "https://raw.githubusercontent.com/txie-93/cdvae/d4791e8a107dd881f8f21ba513ce8940b68d9c4b/data/perov_5_dev"


@register
class Perov5(CdvaeCrystals):
    """Perov-5: 18,928 perovskites (Castelli et al.), 56 elements, 5 atoms per cell.

    Files: ``perov_5/{train,val,test}.csv`` from the CDVAE repository. The benchmark bundle
    has val and test only; ``train.csv`` (11,356 rows) must be fetched
    (``unigen data fetch perov_5 --allow-unverified``: no checksum is recorded for it).
    ``subset="dev"`` reads ``perov_5/dev_subset/`` instead: CDVAE's truncated development
    copy (1,024 / 512 / 256 rows; train rows are real train rows). Structures: Crystal with
    meta ``material_id``, ``cif`` and the property columns (``heat_ref``, ``dir_gap``, ...).

    STATS:

        | split | structures | atoms per cell |
        |-------|-----------:|----------------|
        | train | 11,356     | 5              |
        | val   | 3,787      | 5              |
        | test  | 3,785      | 5              |
    """

    name = "perov_5"
    files = cdvae_files("perov_5", {"train": None, "val": "326f401219901270", "test": "a85878c685037f0a"})
    subsets = {
        "dev": (
            RawFile("perov_5/dev_subset/train.csv", f"{DEV}/train.csv", "03f2e7db"),
            RawFile("perov_5/dev_subset/val.csv", f"{DEV}/val.csv", "782031d2"),
            RawFile("perov_5/dev_subset/test.csv", f"{DEV}/test.csv", "a7daee5d"),
        )
    }
