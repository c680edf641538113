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
cache: build the reference caches one at a time (``--what moses:canonical moses:fcd-test ...``;
       run each under its own lock on a shared machine): canonical training SMILES, FCD
       statistics and MOSES fingerprints / fragments / scaffolds of each test set.
moses-speed: 25,000 SMILES (a random sample of MOSES train, seed 0) scored with the full MOSES
       protocol (validity, uniqueness, novelty against all 1,584,663 training SMILES, FCD/Test,
       FCD/TestSF, SNN / Frag / Scaf against all of test and test_scaffolds, IntDiv, IntDiv2,
       Filters); warm = the reference caches built by ``cache`` beforehand. Prints wall and CPU
       time and peak memory (PSS of this process plus its worker pools, sampled every 0.2 s).
profile: cProfile of one cold MOSES-protocol call in one process (``--sample`` generated molecules
       from MOSES train, ``--ref-sample`` molecules of test / test_scaffolds, novelty against
       ``--train-sample`` training molecules, empty cache); prints the top functions by
       cumulative time and writes them to ``--out``.
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
    memory = f", peak {out['peak_gb']:.2f} GB PSS" if "peak_gb" in out else ""
    print(f"\n### {title}  ({seconds:.1f} s wall, {out['cpu_seconds']:.1f} s CPU{memory})")
    for key in SHOWN:
        if key in out:
            print(f"| {key} | {out[key]:.6g} |")
    print(f"| num_generated / num_valid | {out['num_generated']} / {out['num_valid']} |", flush=True)


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the worker pools)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class PeakMemory:
    """Peak proportional set size (PSS) of this process and its children, sampled in a thread.

    PSS splits pages shared after ``fork`` between the processes, so the sum is what the job
    really holds (the sum of RSS would count the parent's memory once per worker).
    """

    def __init__(self, interval: float = 0.2):
        import threading

        self.interval, self.peak = interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        import psutil

        me = psutil.Process()
        total = 0
        for proc in [me] + me.children(recursive=True):
            try:
                total += proc.memory_full_info().pss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _timed(**kwargs):
    from unigen.chem.metrics.molecules import score_molecules

    start, cpu = time.perf_counter(), _cpu_seconds()
    with PeakMemory() as memory:
        out = score_molecules(**kwargs)
    out["cpu_seconds"] = _cpu_seconds() - cpu
    out["peak_gb"] = memory.peak / 2**30
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


def run_cache(what: list[str], n_jobs: int) -> None:
    """Build reference caches one by one, printing the time of each."""
    from unigen.chem.metrics import moses
    from unigen.chem.metrics.fcd import fcd_stats
    from unigen.chem.metrics.molecules import _nspdk_reference, _reference_canonical, canonical_list
    from unigen.data import load_smiles

    protocols = {"moses": "moses", "qm9": "gdss"}
    builders = {
        "canonical": lambda name: canonical_list(load_smiles(name, "train"), n_jobs),
        "fcd-test": lambda name: fcd_stats(
            _reference_canonical(load_smiles(name, "test"), protocols[name], n_jobs)
        ),
        "fcd-test_scaffolds": lambda name: fcd_stats(load_smiles(name, "test_scaffolds")),
        "moses-test": lambda name: moses.cached_reference_stats(load_smiles(name, "test"), n_jobs),
        "moses-test_scaffolds": lambda name: moses.cached_reference_stats(
            load_smiles(name, "test_scaffolds"), n_jobs
        ),
        "nspdk-test": lambda name: _nspdk_reference(load_smiles(name, "test"), n_jobs),
    }
    for item in what:
        name, _, kind = item.partition(":")
        start, cpu = time.perf_counter(), _cpu_seconds()
        builders[kind](name)
        print(
            f"cache {item}: {time.perf_counter() - start:.1f} s wall, {_cpu_seconds() - cpu:.1f} s CPU",
            flush=True,
        )


def run_moses_speed(n_jobs: int, sample_size: int) -> None:
    from unigen.data import load_smiles

    train = load_smiles("moses", "train")
    out, sec = _timed(
        smiles=random.Random(0).sample(train, sample_size),
        train_smiles=train,
        test_smiles=load_smiles("moses", "test"),
        test_scaffold_smiles=load_smiles("moses", "test_scaffolds"),
        protocol="moses",
        n_jobs=n_jobs,
    )
    _print(
        f"MOSES speed: {sample_size:,} SMILES, full protocol, warm reference caches, n_jobs={n_jobs}",
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


def run_profile(sample_size: int, ref_size: int, train_size: int, out_path: str | None) -> None:
    """cProfile of a cold MOSES-protocol score_molecules call, in-process (n_jobs=1)."""
    import cProfile
    import io
    import pstats

    from unigen.data import load_smiles

    os.environ["UNIGEN_CACHE_DIR"] = tempfile.mkdtemp(prefix="unigen-profile-")
    train = load_smiles("moses", "train")
    rng = random.Random(1)
    args = dict(
        smiles=random.Random(0).sample(train, sample_size),
        train_smiles=rng.sample(train, train_size),
        test_smiles=rng.sample(load_smiles("moses", "test"), ref_size),
        test_scaffold_smiles=rng.sample(load_smiles("moses", "test_scaffolds"), ref_size),
        protocol="moses",
        metrics=["validity", "uniqueness", "novelty", "fcd", "moses"],
        n_jobs=1,
    )
    profiler = cProfile.Profile()
    out, sec = profiler.runcall(_timed, **args)
    _print(
        f"profile: {sample_size:,} generated, {ref_size:,} per test set, {train_size:,} train, cold", out, sec
    )
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(45)
    report = "\n".join(line for line in text.getvalue().splitlines() if line.strip())
    print(report)
    if out_path:
        with open(out_path, "w") as handle:
            handle.write(report + "\n")


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
    parser.add_argument(
        "part", choices=["qm9", "speed", "moses", "moses-speed", "cache", "profile", "fcd-sizes"]
    )
    parser.add_argument("--what", nargs="*", default=[], help="cache: e.g. moses:canonical qm9:fcd-test")
    parser.add_argument("--train-sample", type=int, default=100_000, help="profile: training molecules")
    parser.add_argument("--out", default=None, help="profile: where to write the profile table")
    parser.add_argument("--sizes", default="30000,100000", help="fcd-sizes: comma-separated sample sizes")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--cold", action="store_true")
    parser.add_argument(
        "--sample",
        type=int,
        default=None,
        help="molecules scored (moses 30,000, moses-speed 25,000, profile 2,000)",
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
        run_moses(args.n_jobs, args.sample or 30_000, args.group_sample, args.ref_sample)
    elif args.part == "moses-speed":
        run_moses_speed(args.n_jobs, args.sample or 25_000)
    elif args.part == "cache":
        run_cache(args.what, args.n_jobs)
    elif args.part == "profile":
        run_profile(args.sample or 2_000, args.ref_sample or 5_000, args.train_sample, args.out)
    else:
        run_fcd_sizes(args.n_jobs, [int(x) for x in args.sizes.split(",")])


if __name__ == "__main__":
    main()
