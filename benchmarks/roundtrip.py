"""Round trips on real data through unigen.chem.convert.

SMILES -> MolGraph -> RDKit -> canonical SMILES must equal the canonical input SMILES, for all
QM9 SMILES and 10,000 MOSES test SMILES, in the default model representation (kekulized,
implicit H, formal charges) and in the aromatic + H-count representation.
CIF -> Crystal (unigen's dataset reader, numpy tensors) -> pymatgen Structure must match the
structure pymatgen parses from the same CIF (StructureMatcher with default tolerances, plus the
largest coordinate / lattice deviation), for all Perov-5 and Carbon-24 test CIFs.

    python benchmarks/roundtrip.py [--moses 10000] [--skip-crystals]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import time

import numpy as np

from unigen.chem import convert
from unigen.paths import data_dir

MODES = {
    "kekulized, implicit H": dict(kekulize=True),
    "aromatic, H counts": dict(kekulize=False, keep_h_counts=True),
}


def read_column(path, column: str, limit: int | None = None) -> list[str]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", newline="") as handle:
        rows = csv.DictReader(handle)
        return [row[column] for _, row in zip(range(limit or 10**9), rows)]


def smiles_roundtrip(smiles: list[str], **mode) -> tuple[int, list[tuple[str, str]]]:
    """Returns (number unchanged, list of (input, output) pairs that differ or fail)."""
    differ = []
    for s in smiles:
        expected = convert.canonical_smiles(s)
        try:
            got = convert.graph_to_smiles(convert.smiles_to_graph(s, **mode))
        except ValueError as err:
            got = f"<error: {err}>"
        if got != expected:
            differ.append((s, got))
    return len(smiles) - len(differ), differ


def report_smiles(name: str, smiles: list[str]) -> None:
    for label, mode in MODES.items():
        start = time.perf_counter()
        same, differ = smiles_roundtrip(smiles, **mode)
        seconds = time.perf_counter() - start
        print(f"{name:10s} {label:24s} {same:>7d}/{len(smiles)} unchanged  ({seconds:.1f} s)")
        for s, got in differ[:5]:
            print(f"    differs: {s} -> {got}")


def crystal_roundtrip(name: str) -> tuple[int, int, float, float]:
    """Returns (matched, total, max frac-coord deviation, max lattice deviation)."""
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.core import Structure

    from unigen.data import load_dataset

    crystals = load_dataset(name, split="test")
    matcher = StructureMatcher()
    matched, max_frac, max_lat = 0, 0.0, 0.0
    for crystal in crystals:
        original = Structure.from_str(crystal.meta["cif"], fmt="cif")
        back = convert.crystal_to_pymatgen(crystal)
        matched += matcher.fit(original, back)
        delta = np.abs(back.frac_coords - np.mod(original.frac_coords, 1.0))
        max_frac = max(max_frac, float(np.minimum(delta, 1 - delta).max()))
        max_lat = max(max_lat, float(np.abs(back.lattice.matrix - original.lattice.matrix).max()))
    return matched, len(crystals), max_frac, max_lat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--moses", type=int, default=10000, help="number of MOSES test SMILES")
    parser.add_argument("--skip-crystals", action="store_true")
    args = parser.parse_args()
    root = data_dir()
    report_smiles("QM9", read_column(root / "qm9" / "qm9.csv", "smiles"))
    report_smiles("MOSES", read_column(root / "moses" / "test.csv.gz", "SMILES", args.moses))
    if args.skip_crystals:
        return
    for name in ("perov_5", "carbon_24"):
        start = time.perf_counter()
        matched, total, max_frac, max_lat = crystal_roundtrip(name)
        seconds = time.perf_counter() - start
        print(
            f"{name:10s} {matched}/{total} matched (StructureMatcher), "
            f"max |dfrac| {max_frac:.2e}, max |dlattice| {max_lat:.2e} A  ({seconds:.1f} s)"
        )


if __name__ == "__main__":
    main()
