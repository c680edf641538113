"""QM9 with DFT geometries (hydrogens explicit) and the EDM train/valid/test split."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from unigen.data.cache import cache_path, load_cached, save_cached
from unigen.data.packed import PackedStructures, pack
from unigen.data.registry import Dataset, RawFile, register
from unigen.errors import RecordError, UnigenError
from unigen.structures import Molecule3D

NUM_GDB = 133_885
EDM_TRAIN, EDM_VALID = 100_000, 17_748
SYMBOL_TO_Z = {"H": 1, "C": 6, "N": 7, "O": 8, "F": 9}
DERIVED = "derived from the qm9pack==1.0.3 wheel; see data/README.md"


@register
class QM9_3D(Dataset):
    """QM9 3D: the 130,831 characterized QM9 molecules with B3LYP/6-31G(2df,p) coordinates.

    Files: ``qm9/qm9_3d_qm9pack_core.csv.gz`` (one row per molecule: GDB id, SMILES, element
    list and ``[[x,y,z],...]`` in Angstrom, plus the QM9 properties in their original units)
    and ``qm9/qm9_uncharacterized_gdb_ids.txt`` (the 3,054 excluded GDB ids).

    Split (EDM, ``qm9/data/prepare/qm9.py``): included = sorted GDB ids not excluded;
    ``RandomState(0).permutation(130,831)``; train / valid / test = the first 100,000, the
    next 17,748, the remaining 13,083, each in permutation order. Structures: Molecule3D
    (H explicit) with meta ``gdb_id``, ``smiles`` and every property column
    (``HOMO_au``, ``Dipole_debye``, ``omega1_cmi``, ...).

    STATS:

        | split | structures |
        |-------|-----------:|
        | train |    100,000 |
        | valid |     17,748 |
        | test  |     13,083 |
        | all   |    130,831 |

    Atoms per molecule, hydrogens included (min / max): 3 / 29.
    """

    name = "qm9_3d"
    kind = "mol3d"
    splits = ("train", "valid", "test", "all")
    files = (
        RawFile("qm9/qm9_3d_qm9pack_core.csv.gz", None, "208f86b3de812e79", note=DERIVED),
        RawFile("qm9/qm9_uncharacterized_gdb_ids.txt", None, "c9e981ed67315c6a", note=DERIVED),
    )

    def split_ids(self, split: str) -> np.ndarray:
        """GDB ids (1-based) of ``split``, in EDM's order."""
        included = included_gdb_ids(self.files[1].local)
        if split == "all":
            return included
        perm = np.random.RandomState(0).permutation(len(included))
        bounds = {
            "train": (0, EDM_TRAIN),
            "valid": (EDM_TRAIN, EDM_TRAIN + EDM_VALID),
            "test": (EDM_TRAIN + EDM_VALID, None),
        }
        lo, hi = bounds[split]
        return included[perm[lo:hi]]

    def load(self, split, options):
        csv_path, txt_path = self.require(split, options)
        ids = self.split_ids(split)
        if options["limit"] is not None:
            ids = ids[: options["limit"]]
        where = cache_path(self.name, "qm9_3d", [csv_path, txt_path], {}, self.version)
        arrays = load_cached(where)
        if arrays is None and options["limit"] is not None:
            arrays = pack_rows(read_rows(csv_path, wanted=set(ids.tolist())))
        elif arrays is None:
            arrays = pack_rows(read_rows(csv_path))
            check_ids(arrays, self.split_ids("all"), csv_path)
            save_cached(where, arrays)
        position = {g: k for k, g in enumerate(arrays["meta.int.gdb_id"].tolist())}
        absent = [g for g in ids.tolist() if g not in position]
        if absent:
            raise UnigenError(
                f"{csv_path}: {len(absent)} molecules of split {split} are missing (first GDB id {absent[0]})"
            )
        return PackedStructures(arrays, [position[g] for g in ids.tolist()])


def included_gdb_ids(uncharacterized: Path) -> np.ndarray:
    """Sorted GDB ids 1..133,885 minus the uncharacterized ones."""
    try:
        excluded = np.loadtxt(uncharacterized, dtype=np.int64, ndmin=1)
    except ValueError as err:
        raise UnigenError(f"{uncharacterized}: expected one GDB id per line ({err})") from None
    return np.setdiff1d(np.arange(1, NUM_GDB + 1), excluded)


def read_rows(path: Path, wanted: set[int] | None = None) -> Iterator[tuple[Molecule3D, dict]]:
    """Stream (Molecule3D, meta) from the qm9pack CSV; stop early once ``wanted`` ids are found."""
    remaining = None if wanted is None else set(wanted)
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        for line, row in enumerate(reader, start=2):
            if remaining is not None and int(row[0]) not in remaining:
                continue
            yield parse_row(header, row, path, line)
            if remaining is not None:
                remaining.discard(int(row[0]))
                if not remaining:
                    return


def parse_row(header: list[str], row: list[str], path: Path, line: int) -> tuple[Molecule3D, dict]:
    """One CSV row -> Molecule3D + meta. Lists are parsed by splitting (ast is 10x slower)."""
    try:
        symbols = row[3].strip("[]").replace("'", "").split(",")
        positions = np.array(row[4].replace("[", "").replace("]", "").split(","), np.float64).reshape(-1, 3)
        numbers = [SYMBOL_TO_Z[s.strip()] for s in symbols]
        meta = {"gdb_id": int(row[0]), "smiles": row[1]} | {k: float(v) for k, v in zip(header[5:], row[5:])}
        return Molecule3D(numbers, positions, meta=meta), meta
    except (ValueError, KeyError, IndexError) as err:
        raise RecordError(
            str(path), f"line {line}", f"unparsable molecule ({type(err).__name__}: {err})"
        ) from None


def pack_rows(rows) -> dict:
    molecules, metas = [], []
    for molecule, meta in rows:
        molecules.append(molecule)
        metas.append(meta)
    columns = {key: [m[key] for m in metas] for key in metas[0]}
    return pack(molecules, columns)


def check_ids(arrays: dict, included: np.ndarray, path: Path) -> None:
    """The CSV must hold exactly the characterized molecules (the split refers to them)."""
    ids = np.sort(arrays["meta.int.gdb_id"])
    if len(ids) != len(included) or not np.array_equal(ids, included):
        raise UnigenError(
            f"{path}: GDB ids differ from 1..{NUM_GDB} minus the uncharacterized list; the EDM split would be wrong"
        )
