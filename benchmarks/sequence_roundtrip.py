"""Crystal -> UniGenX sequence -> Crystal on the CDVAE test sets available under UNIGEN_DATA_DIR.

For each dataset: the largest coordinate error (Angstrom, minimum image) and lattice error of
decode(encode(x)) against the loaded crystal, for the spec's coordinate wrap (snap 1e-4,
6 decimals) and for the exact setting (no snap, no rounding); the StructureMatcher match
rate (stol 0.5, ltol 0.3, angle_tol 10, spec A7) of the spec setting; and the time taken.

    python benchmarks/sequence_roundtrip.py [--limit N]
"""

from __future__ import annotations

import argparse
import time

from unigen.chem.convert import crystal_to_pymatgen
from unigen.data import load_dataset
from unigen.errors import UnigenError
from unigen.tokenizers.octree import roundtrip_error
from unigen.tokenizers.sequence import CrystalSequenceTokenizer

DATASETS = {"perov_5": {}, "carbon_24": {}, "mp_20": {"subset": "OPRYAN90"}}
SETTINGS = {"spec wrap": CrystalSequenceTokenizer(), "exact": CrystalSequenceTokenizer(snap=0, decimals=None)}


def max_errors(tokenizer, crystals) -> tuple[float, float, float]:
    """(max coordinate error A, max lattice error A, seconds) over all crystals."""
    start = time.perf_counter()
    errors = [roundtrip_error(tokenizer, c) for c in crystals]
    if not all(e["species_equal"] for e in errors):
        raise AssertionError("species changed in a round trip")
    seconds = time.perf_counter() - start
    return max(e["coord_error"] for e in errors), max(e["lattice_error"] for e in errors), seconds


def match_rate(tokenizer, crystals) -> tuple[float, float]:
    """(fraction of decoded crystals StructureMatcher matches to the input, seconds)."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    matcher = StructureMatcher(stol=0.5, ltol=0.3, angle_tol=10)
    start = time.perf_counter()
    matched = sum(
        matcher.fit(crystal_to_pymatgen(c), crystal_to_pymatgen(tokenizer.decode(tokenizer.encode(c))))
        for c in crystals
    )
    return matched / len(crystals), time.perf_counter() - start


def report(name: str, crystals) -> None:
    for label, tokenizer in SETTINGS.items():
        coord, lattice, seconds = max_errors(tokenizer, crystals)
        print(
            f"{name:10s} {len(crystals):5d} {label:9s} max coord err {coord:.2e} A, max lattice err {lattice:.1e} A"
            f"  (encode+decode {seconds:.2f} s)"
        )
    rate, seconds = match_rate(SETTINGS["spec wrap"], crystals)
    print(
        f"{name:10s} {len(crystals):5d} spec wrap StructureMatcher match rate {100 * rate:.2f} %  ({seconds:.1f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="first N test structures per dataset")
    args = parser.parse_args()
    for name, options in DATASETS.items():
        try:
            crystals = load_dataset(name, "test", limit=args.limit, **options)
        except UnigenError as err:
            print(f"{name:10s} skipped: {err}")
            continue
        report(name, crystals)


if __name__ == "__main__":
    main()
