"""Hostile inputs to every command (issue 18): generate the corpus, run it, print the counts.

    nice python benchmarks/fuzz_corpus.py [--mutants 40] [--timeout 120] [--memory-gb 6] [--json OUT]

The corpus is ``tests/fuzz/corpus.py``: one hand-made file per known failure (gzip bombs,
20,000-atom SMILES, XYZ frames claiming 10^5 atoms, CIFs with 10^5 atoms, YAML billion
laughs, hostile checkpoint cards, absurd CLI options, out-of-range recipe values) plus
``--mutants`` random mutations of every fixture in ``data/fixtures`` and of the tiny recipe,
each run through every command that reads its format. Cases run one at a time in worker
processes (``tests/fuzz/runner.py``) under ``--timeout`` seconds and an address-space cap of
``--memory-gb``; a killed worker is a crash, one past the limit a hang.

Prints: cases per category and command, counts of clean / traceback / crash / hang, peak
resident memory of any case, the slowest cases, and every case that was not clean.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import platform
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzz import corpus, runner  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=40, help="mutations per fixture")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per case")
    parser.add_argument("--memory-gb", type=float, default=6.0, help="address-space cap per worker")
    parser.add_argument("--json", type=Path, default=None, help="write every outcome as JSON")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="unigen-fuzz-") as scratch:
        started = time.monotonic()
        cases = corpus.build(Path(scratch), mutants=args.mutants, seed=args.seed)
        built = time.monotonic() - started
        outcomes = runner.run(cases, Path(scratch), timeout=args.timeout, memory_gb=args.memory_gb)
        elapsed = time.monotonic() - started
    _report(args, outcomes, built, elapsed)
    if args.json:
        args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=1))


def _report(args, outcomes, built: float, elapsed: float) -> None:
    print(f"# fuzz corpus, {datetime.date.today()}, {platform.node()}, python {platform.python_version()}")
    print(
        f"# {len(outcomes)} cases (mutants={args.mutants}, seed={args.seed}), built in {built:.0f} s, "
        f"ran in {elapsed:.0f} s; limit {args.timeout:.0f} s and {args.memory_gb:g} GB per case"
    )
    by_category = collections.Counter(o.category for o in outcomes)
    by_command = collections.Counter(o.argv[0] for o in outcomes)
    print("cases by category:", dict(sorted(by_category.items())))
    print("cases by command: ", dict(sorted(by_command.items())))
    print("outcomes:         ", runner.counts(outcomes))
    exits = collections.Counter(o.code for o in outcomes if o.verdict == "clean")
    print("clean exit codes: ", dict(sorted(exits.items(), key=str)))
    peak = max(outcomes, key=lambda o: o.peak_mb)
    print(f"peak memory:       {peak.peak_mb:.0f} MB ({peak.name}, {peak.argv[0]})")
    print("slowest cases:")
    for o in sorted(outcomes, key=lambda o: -o.seconds)[:5]:
        print(f"  {o.seconds:6.1f} s  {o.name} ({o.argv[0]}): {o.message[:90]}")
    for o in outcomes:
        if o.verdict != "clean":
            print(f"NOT CLEAN {o.verdict}: {o.name} ({' '.join(o.argv)[:120]}): {o.message}")


if __name__ == "__main__":
    main()
