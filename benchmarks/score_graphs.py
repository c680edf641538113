"""Train-vs-test graph MMDs with both kernel families, V.U.N. of the test set, and timings.

    UNIGEN_DATA_DIR=/path/to/data nice python benchmarks/score_graphs.py [--datasets a,b] [--n-jobs 2]

For each dataset, the training graphs are scored as if generated against the test graphs
(the "Training set" reference row of GDSS / SPECTRE-style tables), under the ``gdss`` kernels
(Gaussian-EMD, orbit Gaussian sigma 30) and the ``spectre`` kernels (Gaussian-TV). For planar /
sbm / tree, the test graphs are also scored as if generated against the training set for V.U.N.
Prints a markdown table.

    ... score_graphs.py --spread 20 --datasets planar,sbm

``--spread K``: instead, how much the SPECTRE-kernel MMDs of a 40-graph sample move by chance:
K random 40-graph subsets of the training set (seeds 0..K-1), each scored against the 40 test
graphs; prints mean, standard deviation, min and max per statistic. A published row computed on
40 samples is only reproducible within this spread unless its exact sample file is used.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # multi-threaded BLAS on a shared 2-core machine is 10-100x slower

import argparse  # noqa: E402
import time  # noqa: E402

DATASETS = ["community_small", "ego_small", "grid", "enzymes", "comm20", "planar", "sbm", "tree"]
VALIDITY = {"planar": "planar", "sbm": "sbm", "tree": "tree"}


def score_dataset(name: str, n_jobs: int) -> list[str]:
    from unigen.chem.metrics.graphs import score_graphs
    from unigen.data import load_dataset

    train, test = load_dataset(name, "train"), load_dataset(name, "test")
    rows = []
    for protocol in ("gdss", "spectre"):
        start = time.perf_counter()
        out = score_graphs(train, test, protocol=protocol, n_jobs=n_jobs)
        seconds = time.perf_counter() - start
        cells = " | ".join(f"{out[k]:.6f}" for k in ("degree", "clustering", "orbit", "spectral"))
        rows.append(f"| {name} | {len(train)} / {len(test)} | {protocol} | {cells} | {seconds:.1f} |")
    return rows


def vun_row(name: str) -> str:
    from unigen.chem.metrics.graphs import fraction_vun
    from unigen.data import load_dataset

    start = time.perf_counter()
    out = fraction_vun(load_dataset(name, "test"), load_dataset(name, "train"), validity=VALIDITY[name])
    seconds = time.perf_counter() - start
    return f"| {name} | {out['valid']:.3f} | {out['unique']:.3f} | {out['unique_novel']:.3f} | {out['vun']:.3f} | {seconds:.1f} |"


def spread_rows(name: str, draws: int, n_jobs: int) -> list[str]:
    import random

    import numpy as np

    from unigen.chem.metrics.graphs import STATISTICS, graph_statistics, mmd_from_statistics
    from unigen.data import load_dataset

    train, test = load_dataset(name, "train"), load_dataset(name, "test")
    train_stats, test_stats = graph_statistics(train, n_jobs=n_jobs), graph_statistics(test, n_jobs=n_jobs)
    values = {k: [] for k in STATISTICS}
    for seed in range(draws):
        subset = random.Random(seed).sample(train_stats, len(test))
        for k, v in mmd_from_statistics(test_stats, subset, "spectre").items():
            values[k].append(v)
    rows = []
    for k in STATISTICS:
        v = np.array(values[k])
        rows.append(f"| {name} | {k} | {v.mean():.4f} | {v.std():.4f} | {v.min():.4f} | {v.max():.4f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--spread", type=int, default=0, help="random 40-graph train subsets vs test")
    args = parser.parse_args()
    names = args.datasets.split(",")
    if args.spread:
        print(f"| dataset | statistic | mean of {args.spread} | std | min | max |")
        print("|---|---|---|---|---|---|")
        for name in names:
            for row in spread_rows(name, args.spread, args.n_jobs):
                print(row, flush=True)
        return
    print("| dataset | train / test | kernels | degree | clustering | orbit | spectral | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        for row in score_dataset(name, args.n_jobs):
            print(row, flush=True)
    print()
    print("| dataset (test scored vs train) | valid | unique | unique & novel | V.U.N. | seconds |")
    print("|---|---|---|---|---|---|")
    for name in names:
        if name in VALIDITY:
            print(vun_row(name), flush=True)


if __name__ == "__main__":
    main()
