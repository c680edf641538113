"""Throughput of unigen.io readers and writers on benchmark-sized files.

    nice python benchmarks/io_speed.py            # prints one table row per measurement

Uses the benchmark files under UNIGEN_DATA_DIR (moses, qm9, perov_5) and synthetic
Molecule3D / Graph sets; temporary files go to a temporary directory.
"""

from __future__ import annotations

import csv
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import unigen.io as uio
from unigen.paths import data_dir
from unigen.structures import Graph, Molecule3D


def timed(label: str, n: int, function):
    start = time.perf_counter()
    result = function()
    seconds = time.perf_counter() - start
    print(f"| {label} | {n:,} | {seconds:.2f} | {n / seconds:,.0f} |", flush=True)
    return result


def smiles_rows(work: Path, data: Path):
    moses = data / "moses" / "test.csv.gz"
    raw = timed("read_smiles raw, moses test.csv.gz", 176_074, lambda: uio.read_smiles(moses))
    head = work / "moses_20k.smi"
    uio.write(head, raw.records[:20_000])
    timed("read .smi -> MolGraph (20k MOSES)", 20_000, lambda: uio.read(head))
    graphs = uio.read(head).records[:2_000]
    timed("write .sdf MolGraph + 2D coords (2k)", 2_000, lambda: uio.write(work / "m.sdf", graphs))
    timed("read .sdf -> MolGraph (2k)", 2_000, lambda: uio.read(work / "m.sdf"))


def xyz_rows(work: Path):
    rng = np.random.default_rng(0)
    molecules = [Molecule3D(rng.integers(1, 10, 18), rng.normal(0, 2, (18, 3))) for _ in range(10_000)]
    timed("write .xyz (10k x 18 atoms)", 10_000, lambda: uio.write(work / "m.xyz", molecules))
    timed("read .xyz (10k x 18 atoms)", 10_000, lambda: uio.read(work / "m.xyz"))


def cif_rows(work: Path, data: Path):
    rows = list(csv.DictReader(open(data / "perov_5" / "test.csv")))
    (work / "perov.cif").write_text("\n".join(row["cif"] for row in rows))
    crystals = timed(
        "read .cif, perov_5 test (1 block each)", len(rows), lambda: uio.read(work / "perov.cif").records
    )
    timed("write .cif (P1)", len(crystals), lambda: uio.write(work / "out.cif", crystals))


def graph_rows(work: Path):
    rng = np.random.default_rng(0)
    graphs = [Graph.from_adjacency(np.triu(rng.random((64, 64)) < 0.1, 1)) for _ in range(5_000)]
    for suffix in ("json", "edgelist"):
        timed(
            f"write .{suffix} (5k graphs, 64 nodes)", 5_000, lambda: uio.write(work / f"g.{suffix}", graphs)
        )
        timed(f"read .{suffix} (5k graphs, 64 nodes)", 5_000, lambda: uio.read(work / f"g.{suffix}"))


def main():
    warnings.simplefilter("ignore")
    data = data_dir()
    print("| operation | records | seconds | records/s |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        smiles_rows(work, data)
        xyz_rows(work)
        cif_rows(work, data)
        graph_rows(work)


if __name__ == "__main__":
    main()
