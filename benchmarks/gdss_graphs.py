"""GDSS on generic graphs, GDSS protocol: MMDs against the test set, mean and std over seeds.

    python benchmarks/gdss_graphs.py --model gdss-community-small --dataset community_small --seeds 0 1 2

As GDSS: as many graphs are generated as the test set holds; degree and clustering use the
Gaussian-EMD kernels, orbits the Gaussian kernel with sigma 30 (``unigen.chem.metrics.graphs``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from unigen.checkpoint import load
from unigen.chem.metrics.graphs import score_graphs
from unigen.data import load_dataset
from unigen.generation import generate

STATISTICS = ("degree", "clustering", "orbit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--sampler", default=None)
    parser.add_argument("--snr", type=float, default=None)
    parser.add_argument(
        "--scale-eps", type=float, default=None, help="Langevin noise scale (1.0: unbiased Langevin)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (1 when other jobs share the CPU)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load(args.model)
    test = list(load_dataset(args.dataset, split="test"))
    print(
        f"model {args.model} (step {model.card.get('steps')}), {len(test)} graphs per seed vs the {args.dataset} test set"
    )
    rows = []
    for seed in args.seeds:
        start = time.perf_counter()
        graphs = generate(
            model,
            len(test),
            seed=seed,
            batch_size=len(test),
            steps=args.steps,
            sampler=args.sampler,
            snr=args.snr,
            scale_eps=args.scale_eps,
        ).records
        seconds = time.perf_counter() - start
        scores = score_graphs(graphs, test, protocol="gdss", n_jobs=1)
        rows.append(scores)
        print(
            f"seed {seed}: "
            + ", ".join(f"{k} {scores[k]:.4f}" for k in STATISTICS)
            + f" ({seconds:.1f} s sampling)"
        )
    for key in STATISTICS:
        values = np.array([r[key] for r in rows])
        print(f"{key:12s} {values.mean():.4f} +- {values.std():.4f}")


if __name__ == "__main__":
    main()
