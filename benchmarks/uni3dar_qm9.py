"""QM9 3D table for Uni-3DAR: EDM metrics of a model's samples, unfiltered and ranked, next to a
random-placement baseline.

    python benchmarks/uni3dar_qm9.py --model runs/uni3dar-qm9-cpu -n 10000 [--rank-ratio 0.1]
        (the ranked row: the 1,000 most likely of the same 10,000 draws)
    python benchmarks/uni3dar_qm9.py -n 10000              # the baseline row only

Scores go through ``unigen.chem.metrics.molecules3d.score_molecules3d``, the code path of
``unigen score --kind molecules3d`` (EDM bond tables, ``protocol="edm"``). The baseline keeps the
atom types and counts of the first n QM9 test molecules and draws every position uniformly in the
molecule's own axis-aligned bounding box: what chance gives with the right compositions and sizes.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from unigen.chem.metrics.molecules3d import score_molecules3d
from unigen.structures import Molecule3D

COLUMNS = ("atom_stability", "mol_stability", "validity", "valid_x_unique")


def random_placement(references, seed: int = 0) -> list[Molecule3D]:
    """Each reference's atoms at uniform positions inside its bounding box."""
    rng = np.random.default_rng(seed)
    out = []
    for ref in references:
        low, high = ref.positions.min(0), ref.positions.max(0)
        out.append(Molecule3D(ref.atomic_numbers, rng.uniform(low, high, size=(ref.num_atoms, 3))))
    return out


def row(label: str, molecules, seconds: float | None = None) -> None:
    scores = score_molecules3d(molecules, protocol="edm")
    cells = " | ".join(f"{100 * scores[k]:.1f}" for k in COLUMNS)
    rate = "" if seconds is None else f" | {len(molecules) / seconds:.1f}"
    print(f"| {label} | {len(molecules):,} | {cells}{rate} |", flush=True)


def model_rows(path: str, n: int, rank_ratio: float, batch_size: int) -> None:
    """The unfiltered row from n draws, then the ranked row from the same draws: the
    ceil(n x rank_ratio) most likely (meta ``logp``), what ``rank_ratio`` sampling of that many
    samples does (it draws n and keeps the top fraction), without drawing a second pool."""
    from unigen.checkpoint import load
    from unigen.generation import generate

    model = load(path)
    start = time.perf_counter()
    records = generate(model, n, seed=0, batch_size=batch_size).records
    row(f"{path} (unfiltered)", records, time.perf_counter() - start)
    if rank_ratio < 1:
        kept = sorted(records, key=lambda r: -r.meta["logp"])[: math.ceil(n * rank_ratio)]
        row(f"{path} (rank_ratio {rank_ratio}: the most likely of the same {n:,} draws)", kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--rank-ratio", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from unigen.data import load_dataset

    print("| run | molecules | atom stab. % | mol. stab. % | validity % | V x U % | samples / s |")
    references = list(load_dataset("qm9_3d", "test", limit=args.n))
    row("QM9 test (reference)", references)
    row("random placement (same atoms, uniform in the bounding box)", random_placement(references))
    if args.model:
        model_rows(args.model, args.n, args.rank_ratio, args.batch_size)


if __name__ == "__main__":
    main()
