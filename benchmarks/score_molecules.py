"""Molecule metrics on real data: QM9 reference rows, the MOSES training-set row, and the speed run.

    UNIGEN_DATA_DIR=/path/to/data nice python benchmarks/score_molecules.py qm9
    UNIGEN_DATA_DIR=/path/to/data nice python benchmarks/score_molecules.py speed [--cold]
    UNIGEN_DATA_DIR=/path/to/data nice python benchmarks/score_molecules.py moses [--sample 30000]

qm9:   (a) 10,000 training molecules (random, seed 0) scored as generated against the GDSS test
       split (FCD, NSPDK vs test; novelty vs train, so 0 by construction); (b) the test split
       scored as generated, novelty vs train.
speed: 10,000 SMILES (the first 10,000 of the QM9 test split) scored with validity,
       uniqueness, novelty against the 120,803 training SMILES, FCD and NSPDK against the test
       split. ``--cold`` uses an empty cache directory, so the training set is canonicalised and
       the test statistics computed inside the timed call.
moses: MOSES's "training set" reference row: a random sample of the MOSES training set (seed 0)
       scored as generated: FCD against all of test and test_scaffolds; the MOSES group (SNN,
       Frag, Scaf, IntDiv, Filters) on the first ``--group-sample`` of them against test sets
       optionally subsampled (``--ref-sample``) to fit a small machine. Novelty is skipped (0 by
       construction; canonicalising 1.58 M training SMILES is the costly part).
fcd-sizes: FCD of MOSES training samples of each ``--sizes`` against the full test sets, to
       show the finite-sample bias of FCD.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # multi-threaded BLAS on a shared 2-core machine is 10-100x slower

import argparse  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

SHOWN = [
    "validity",
    "uniqueness",
    "novelty",
    "vun",
    "FCD/Test",
    "NSPDK/Test",
    "FCD/TestSF",
    "SNN/Test",
    "SNN/TestSF",
    "Frag/Test",
    "Frag/TestSF",
    "Scaf/Test",
    "Scaf/TestSF",
    "IntDiv",
    "IntDiv2",
    "Filters",
]


def _print(title: str, out: dict, seconds: float) -> None:
    print(f"\n### {title}  ({seconds:.1f} s wall, {out['cpu_seconds']:.1f} s CPU)")
    for key in SHOWN:
        if key in out:
            print(f"| {key} | {out[key]:.6g} |")
    print(f"| num_generated / num_valid | {out['num_generated']} / {out['num_valid']} |", flush=True)


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the worker pools)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(**kwargs):
    from unigen.chem.metrics.molecules import score_molecules

    start, cpu = time.perf_counter(), _cpu_seconds()
    out = score_molecules(**kwargs)
    out["cpu_seconds"] = _cpu_seconds() - cpu
    return out, time.perf_counter() - start


def run_qm9(n_jobs: int) -> None:
    from unigen.data import load_smiles

    train, test = load_smiles("qm9", "train"), load_smiles("qm9", "test")
    sample = random.Random(0).sample(train, 10_000)
    out, sec = _timed(
        smiles=sample, train_smiles=train, test_smiles=test, protocol="gdss", n_jobs=n_jobs, progress=True
    )
    _print("QM9 (GDSS split): 10,000 train molecules as generated vs test", out, sec)
    out, sec = _timed(
        smiles=test,
        train_smiles=train,
        protocol="gdss",
        metrics=["validity", "uniqueness", "novelty"],
        n_jobs=n_jobs,
    )
    _print("QM9 (GDSS split): test split as generated, novelty vs train", out, sec)


def run_speed(n_jobs: int, cold: bool) -> None:
    from unigen.data import load_smiles

    if cold:
        os.environ["UNIGEN_CACHE_DIR"] = tempfile.mkdtemp(prefix="unigen-cold-")
    train, test = load_smiles("qm9", "train"), load_smiles("qm9", "test")
    out, sec = _timed(
        smiles=test[:10_000], train_smiles=train, test_smiles=test, protocol="gdss", n_jobs=n_jobs
    )
    _print(
        f"speed: 10,000 SMILES, {len(train):,} train, {'cold' if cold else 'warm'} cache, n_jobs={n_jobs}",
        out,
        sec,
    )


def run_moses(n_jobs: int, sample_size: int, group_size: int, ref_size: int) -> None:
    from unigen.data import load_smiles

    train = load_smiles("moses", "train")
    test, scaffolds = load_smiles("moses", "test"), load_smiles("moses", "test_scaffolds")
    sample = random.Random(0).sample(train, sample_size)
    args = dict(
        test_smiles=test, test_scaffold_smiles=scaffolds, protocol="moses", n_jobs=n_jobs, progress=True
    )
    if ref_size:
        rng = random.Random(1)
        args.update(
            test_smiles=rng.sample(test, ref_size), test_scaffold_smiles=rng.sample(scaffolds, ref_size)
        )
    out, sec = _timed(smiles=sample[:group_size], metrics=["validity", "moses"], **args)
    refs = f"{ref_size:,}-molecule random subsets (seed 1)" if ref_size else "all"
    _print(f"MOSES group: first {group_size:,} of the sample vs {refs} of test / test_scaffolds", out, sec)
    args.update(
        test_smiles=test, test_scaffold_smiles=scaffolds
    )  # FCD last: its test statistics may be cached by then
    out, sec = _timed(smiles=sample, metrics=["validity", "uniqueness", "fcd"], **args)
    _print(f"MOSES train sample ({sample_size:,}, seed 0): FCD vs all of test / test_scaffolds", out, sec)


def run_fcd_sizes(n_jobs: int, sizes: list[int]) -> None:
    """FCD of MOSES training samples of several sizes against the full test sets (sample-size bias)."""
    from unigen.chem.metrics.fcd import fcd_stats, frechet_distance
    from unigen.chem.metrics.molecules import canonical_list
    from unigen.data import load_smiles

    train = load_smiles("moses", "train")
    test, scaffolds = (
        fcd_stats(load_smiles("moses", "test")),
        fcd_stats(load_smiles("moses", "test_scaffolds")),
    )
    for size in sizes:
        start = time.perf_counter()
        sample = [c for c in canonical_list(random.Random(0).sample(train, size), n_jobs=n_jobs) if c]
        gen = fcd_stats(sample, cache=False)
        seconds = time.perf_counter() - start
        print(
            f"| {size:,} | {frechet_distance(gen, test):.4f} | {frechet_distance(gen, scaffolds):.4f} | {seconds:.0f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["qm9", "speed", "moses", "fcd-sizes"])
    parser.add_argument("--sizes", default="30000,100000", help="fcd-sizes: comma-separated sample sizes")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--cold", action="store_true")
    parser.add_argument(
        "--sample", type=int, default=30_000, help="train molecules scored (FCD, validity, uniqueness)"
    )
    parser.add_argument(
        "--group-sample", type=int, default=30_000, help="how many of them get the MOSES group"
    )
    parser.add_argument(
        "--ref-sample", type=int, default=0, help="subsample test sets for SNN/Frag/Scaf (0 = all)"
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    if args.part == "qm9":
        run_qm9(args.n_jobs)
    elif args.part == "speed":
        run_speed(args.n_jobs, args.cold)
    elif args.part == "moses":
        run_moses(args.n_jobs, args.sample, args.group_sample, args.ref_sample)
    else:
        run_fcd_sizes(args.n_jobs, [int(x) for x in args.sizes.split(",")])


if __name__ == "__main__":
    main()
