"""Shared machinery for the CDVAE crystal benchmarks (perov_5, carbon_24, mp_20).

Each split is one CSV with a ``cif`` column (pymatgen "P 1" CIFs) and a ``material_id``.
Processing follows CDVAE's ``build_crystal``: parse the CIF, optionally take the primitive
cell, Niggli-reduce (``niggli=True``), then rebuild the lattice from its six parameters so
that every lattice has the same canonical orientation. One processed cache per CSV.
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Sequence
from pathlib import Path

from unigen.data.cache import cache_path, load_cached, save_cached
from unigen.data.packed import PackedStructures, pack
from unigen.data.registry import Dataset, RawFile
from unigen.errors import RecordError

CDVAE = "https://raw.githubusercontent.com/txie-93/cdvae/f857f598d6f6cca5dc1ea0582d228f12dcc2c2ea/data"
INDEX_COLUMNS = ("", "Unnamed: 0")  # pandas' saved index column


def cdvae_files(name: str, sha256: dict[str, str | None], note: str = "") -> tuple[RawFile, ...]:
    """RawFiles for ``data/<name>/<split>.csv`` of the CDVAE repository."""
    return tuple(
        RawFile(f"{name}/{split}.csv", f"{CDVAE}/{name}/{split}.csv", sha, note=note)
        for split, sha in sha256.items()
    )


class CdvaeCrystals(Dataset):
    """Subclasses set ``files`` (full splits) and ``subsets``: option value -> RawFiles."""

    kind = "crystal"
    splits = ("train", "val", "test")
    subsets: dict[str, tuple[RawFile, ...]] = {}
    defaults = {"niggli": True, "primitive": False, "subset": None}

    @property
    def choices(self):
        return {"niggli": (True, False), "primitive": (True, False), "subset": (None, *self.subsets)}

    def known_files(self):
        return [*self.files, *(raw for files in self.subsets.values() for raw in files)]

    def files_for(self, split, options):
        files = self.subsets[options["subset"]] if options["subset"] else self.files
        return [f for f in files if Path(f.path).stem == split]

    def load(self, split, options) -> Sequence:
        (path,) = self.require(split, options)
        process = {"niggli": options["niggli"], "primitive": options["primitive"]}
        where = cache_path(self.name, f"{path.parent.name}-{split}", [path], process, self.version)
        arrays = load_cached(where)
        limit = options["limit"]
        if arrays is None:
            arrays = read_crystals(path, process, limit)
            if limit is None:
                save_cached(where, arrays)
        return PackedStructures(arrays)[:limit]


def read_crystals(path: Path, process: dict, limit: int | None = None) -> dict:
    """CSV of CIFs -> packed Crystal arrays; meta = every other column (``cif`` included)."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:limit]
    if not rows or "cif" not in rows[0]:
        raise RecordError(str(path), 1, "expected a CDVAE CSV with a 'cif' column")
    crystals = [cif_to_crystal(row["cif"], process, path, k) for k, row in enumerate(rows)]
    keep = [c for c in rows[0] if c not in INDEX_COLUMNS]
    return pack(crystals, {c: [_value(row[c], c) for row in rows] for c in keep})


def cif_to_crystal(cif: str, process: dict, path: Path, row: int):
    """One CIF string -> Crystal, as CDVAE's ``build_crystal`` does it."""
    from pymatgen.core import Lattice, Structure

    from unigen.chem.convert import pymatgen_to_crystal

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pymatgen warns about rounding in every P1 CIF
            structure = Structure.from_str(cif, fmt="cif")
        if process["primitive"]:
            structure = structure.get_primitive_structure()
        if process["niggli"]:
            structure = structure.get_reduced_structure()
        canonical = Lattice.from_parameters(*structure.lattice.parameters)
        return pymatgen_to_crystal(Structure(canonical, structure.species, structure.frac_coords))
    except Exception as err:  # pymatgen raises many types for a bad CIF
        raise RecordError(
            str(path), f"data row {row}", f"unreadable CIF ({type(err).__name__}: {err})"
        ) from None


def _value(text: str, column: str):
    """Integers as int, other numbers as float, everything else (ids, formulas, CIFs) as the original string."""
    if column in ("material_id", "cif"):
        return text
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            pass
    return text
