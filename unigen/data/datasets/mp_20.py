"""MP-20 (CDVAE): Materials Project structures of ICSD origin with at most 20 atoms."""

from __future__ import annotations

from unigen.data.datasets._cdvae import CdvaeCrystals, cdvae_files
from unigen.data.registry import RawFile, register

OPRYAN90 = (
    "https://raw.githubusercontent.com/OPRYAN90/cdvae/437566befc3b53756d8b18f1fe885fbae84e49a6/data/mp_20"
)


@register
class MP20(CdvaeCrystals):
    """MP-20: 45,231 materials, 89 elements, 1-20 atoms per cell, E_hull < 0.08 eV/atom.

    Files: ``mp_20/{train,val,test}.csv`` from the CDVAE repository (60/20/20 split). None
    is in the benchmark bundle: fetch them (``--allow-unverified``: no checksums recorded).
    ``subset="OPRYAN90"`` reads ``mp_20/subset_OPRYAN90/`` (847 / 123 / 142 real MP-20 rows
    chosen by an unknown filter in a cdvae fork): for fixtures and smoke runs only, never
    for reported numbers. Structures: Crystal with meta ``material_id``, ``cif``,
    ``formation_energy_per_atom``, ``band_gap``, ``pretty_formula``, ``e_above_hull``,
    ``elements``, ``spacegroup.number``.

    STATS:

        | split | structures | atoms per cell |
        |-------|-----------:|----------------|
        | train | 27,136     | 1 - 20         |
        | val   | 9,047      | 1 - 20         |
        | test  | 9,046      | 1 - 20         |
    """

    name = "mp_20"
    files = cdvae_files(
        "mp_20",
        {"train": None, "val": None, "test": None},
        note="run `unigen data fetch mp_20 --allow-unverified`, or use subset='OPRYAN90' for smoke runs",
    )
    subsets = {
        "OPRYAN90": (
            RawFile("mp_20/subset_OPRYAN90/train.csv", f"{OPRYAN90}/train.csv", "88e85ab7"),
            RawFile("mp_20/subset_OPRYAN90/val.csv", f"{OPRYAN90}/val.csv", "aa1908f4"),
            RawFile("mp_20/subset_OPRYAN90/test.csv", f"{OPRYAN90}/test.csv", "f1b64fa3"),
        )
    }
