"""GDSS on QM9, scored with the GDSS protocol: mean and std over sampling seeds.

    python benchmarks/gdss_qm9.py --model gdss-qm9 -n 10000 --seeds 0 1 2 [--sampler pc --steps 1000]

Per seed: validity without correction (GDSS: +1 charge rule, denominator = all generated
graphs), then on the corrected molecules uniqueness and novelty (against the GDSS training
split), FCD and NSPDK MMD against the GDSS test split (``unigen.chem.metrics``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from unigen.checkpoint import load
from unigen.chem.metrics.molecules import score_molecules
from unigen.data import load_smiles
from unigen.generation import generate

COLUMNS = ("validity_wo_correction", "uniqueness", "novelty", "FCD/Test", "NSPDK/Test")


def score_seed(model, n, seed, batch_size, train, test, **sampling) -> dict:
    start = time.perf_counter()
    result = generate(model, n, seed=seed, batch_size=batch_size, **sampling)
    seconds = time.perf_counter() - start
    smiles = [r.meta["smiles"] for r in result.records]
    scores = score_molecules(
        smiles,
        train_smiles=train,
        test_smiles=test,
        protocol="gdss",
        metrics=["uniqueness", "novelty", "fcd", "nspdk"],
    )
    return {
        "validity_wo_correction": result.summary["validity_wo_correction"],
        "uniqueness": scores["uniqueness"],
        "novelty": scores["novelty"],
        "FCD/Test": scores["FCD/Test"],
        "NSPDK/Test": scores["NSPDK/Test"],
        "sampling_seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="gdss-qm9")
    parser.add_argument("-n", type=int, default=10000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--sampler", default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--snr", type=float, default=None)
    parser.add_argument(
        "--scale-eps", type=float, default=None, help="Langevin noise scale (1.0: unbiased Langevin)"
    )
    parser.add_argument("--batch-size", type=int, default=2500)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (1 when other jobs share the CPU)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load(args.model)
    train, test = load_smiles("qm9", "train"), load_smiles("qm9", "test")
    rows = []
    print(
        f"model {args.model} (step {model.card.get('steps')}), n={args.n}, sampling {model.config.sampling} overridden by sampler={args.sampler}, steps={args.steps}, snr={args.snr}, scale_eps={args.scale_eps}"
    )
    for seed in args.seeds:
        row = score_seed(
            model,
            args.n,
            seed,
            args.batch_size,
            train,
            test,
            sampler=args.sampler,
            steps=args.steps,
            snr=args.snr,
            scale_eps=args.scale_eps,
        )
        rows.append(row)
        print(f"seed {seed}: " + ", ".join(f"{k} {row[k]:.4f}" for k in (*COLUMNS, "sampling_seconds")))
    for key in COLUMNS:
        values = np.array([r[key] for r in rows])
        print(f"{key:24s} {values.mean():.4f} +- {values.std():.4f}")


if __name__ == "__main__":
    main()
