"""Validity ceilings: unigen's validity code run on the benchmark datasets themselves.

Published reference values (the checks must reproduce them on real data):
    QM9 with H, DFT coordinates, EDM bond tables: atom stability 99.0 %, molecule stability
    95.2 %, RDKit validity 97.7 % (EDM paper, "Data" row); Perov-5 / Carbon-24 test:
    structural validity ~100 %.

    UNIGEN_DATA_DIR=../shared/data python benchmarks/validity_ceilings.py [--limit N] \
        [--skip qm9,crystals,mol2d,graphs]

Structures come from ``unigen.data.load_dataset``; timings are wall-clock seconds.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from unigen.chem import validity
from unigen.data import load_dataset, load_smiles


def timed(label: str, fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    print(f"  [{label}: {time.perf_counter() - start:.1f} s]")
    return result


def load(name: str, split: str, limit: int | None):
    return list(load_dataset(name, split=split, **({} if limit is None else {"limit": limit})))


def report_stability(label: str, molecules, dtype) -> None:
    stable, n_stable, n_atoms = validity.stability_3d_batch(molecules, dtype=dtype)
    rates = validity.stability_rates(stable, n_stable, n_atoms)
    print(
        f"  {label}: {len(molecules)} molecules, atom stability {100 * rates['atom_stability']:.2f} %, "
        f"molecule stability {100 * rates['molecule_stability']:.2f} %"
    )


def bench_qm9(limit: int | None) -> None:
    print("QM9 3D (with H, DFT coordinates, EDM bond tables)")
    molecules = timed("load", load, "qm9_3d", "all", limit)
    timed("stability float64", report_stability, "all, float64", molecules, np.float64)
    timed("stability float32", report_stability, "all, float32", molecules, np.float32)
    report_stability("EDM test split, float64", load("qm9_3d", "test", limit), np.float64)
    timed("rdkit validity", report_3d_validity, molecules)


def report_3d_validity(molecules) -> None:
    """EDM RDKit validity: EDM bonds, sanitise, largest fragment (no charges)."""
    valid = sum(validity.valid_mol_3d(m) is not None for m in molecules)
    print(
        f"  RDKit validity (EDM bonds, largest fragment): {100 * valid / len(molecules):.2f} % of {len(molecules)}"
    )


def bench_crystals(limit: int | None) -> None:
    for name in ("perov_5", "carbon_24"):
        print(f"{name} test")
        crystals = timed("load (CIF parsing)", load, name, "test", limit)
        structural = np.array(
            timed("structural", lambda: [validity.structural_validity(c) for c in crystals])
        )
        composition = np.array(
            timed(
                "compositional", lambda: [validity.compositional_validity(c.atomic_numbers) for c in crystals]
            )
        )
        min_d = min(validity.min_interatomic_distance(c) for c in crystals)
        print(
            f"  {len(crystals)} crystals: structural {100 * structural.mean():.2f} %, compositional "
            f"{100 * composition.mean():.2f} %, both {100 * (structural & composition).mean():.2f} %, "
            f"smallest interatomic distance {min_d:.3f} A"
        )


def bench_mol2d(limit: int | None) -> None:
    """2D ceilings on QM9 SMILES (kekulized, no H: the GDSS representation)."""
    from unigen.chem.convert import smiles_to_graph

    smiles = load_smiles("qm9", "train") + load_smiles("qm9", "test")
    smiles = smiles[:: max(1, len(smiles) // (limit or 10000))]
    print(
        f"QM9 2D (every k-th SMILES of the GDSS train + test splits, {len(smiles)} molecules, kekulized, no H)"
    )
    graphs = timed("parse", lambda: [smiles_to_graph(s) for s in smiles])
    for graph in graphs:
        graph.charges[:] = 0  # models predict no charges: the published constructions add them
    for protocol in validity.PROTOCOLS:
        valid = timed(protocol, lambda: [validity.valid_mol(g, protocol) is not None for g in graphs])
        print(f"  validity {protocol} (charges dropped): {100 * np.mean(valid):.2f} %")
    corrected = [validity.gdss_postprocess(g)[1] is not None for g in graphs]
    print(f"  GDSS validity after correction: {100 * np.mean(corrected):.2f} %")


def bench_graphs() -> None:
    """SPECTRE validity of the SPECTRE / ESGG graph sets themselves, per split."""
    for name in ("planar", "sbm", "tree"):
        for split in ("train", "val", "test"):
            graphs = list(load_dataset(name, split=split))
            valid = timed(f"{name} {split}", lambda: [validity.graph_validity(g, name) for g in graphs])
            print(f"  {name} {split}: {len(graphs)} graphs, valid {100 * np.mean(valid):.2f} %")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=None, help="first N structures per dataset")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: qm9,crystals,mol2d,graphs")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="Issues encountered while parsing CIF")
    skip = set(filter(None, args.skip.split(",")))
    if "qm9" not in skip:
        bench_qm9(args.limit)
    if "crystals" not in skip:
        bench_crystals(args.limit)
    if "mol2d" not in skip:
        bench_mol2d(args.limit)
    if "graphs" not in skip:
        bench_graphs()


if __name__ == "__main__":
    main()
