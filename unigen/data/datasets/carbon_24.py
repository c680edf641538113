"""Carbon-24 (CDVAE): carbon allotropes from AIRSS at 10 GPa, 6-24 atoms per cell."""

from __future__ import annotations

from unigen.data.datasets._cdvae import CdvaeCrystals, cdvae_files
from unigen.data.registry import register


@register
class Carbon24(CdvaeCrystals):
    """Carbon-24: 10,153 carbon structures (the lowest-energy 10% of Pickard's AIRSS set).

    Files: ``carbon_24/{train,val,test}.csv`` from the CDVAE repository. The benchmark
    bundle has val and test only; ``train.csv`` (6,091 rows) must be fetched
    (``--allow-unverified``: no checksum recorded). About 40% of the structures are
    duplicates of others (arXiv 2509.12178), which inflates match rates. Structures:
    Crystal with meta ``material_id``, ``cif``, ``energy_per_atom``.

    STATS:

        | split | structures | atoms per cell |
        |-------|-----------:|----------------|
        | train | 6,091      | 6 - 24         |
        | val   | 2,032      | 6 - 24         |
        | test  | 2,030      | 6 - 24         |
    """

    name = "carbon_24"
    files = cdvae_files("carbon_24", {"train": None, "val": "36c00689cd63073c", "test": "386b17c08816f434"})
