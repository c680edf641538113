"""Time loading and converting all of QM9 (133,885 SMILES) to MolGraph: cold and warm.

cold: read qm9.csv, parse every SMILES with RDKit, build kekulized MolGraphs, pack them and
      write the processed cache (a fresh, empty cache directory).
warm: the same call again: read the processed cache (.npz) only.
materialize: build all 133,885 MolGraph objects from the warm sequence (what iterating costs).

    UNIGEN_DATA_DIR=../shared/data python benchmarks/load_qm9.py [--others]

--others also times cold / warm loads of the other datasets that have a processed cache
(qm9_3d all, perov_5 test, carbon_24 test, enzymes, sbm), skipping absent ones.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import time


def timed(label: str, fn, n: int):
    """Wall and CPU time of ``fn()``; on a shared machine CPU time shows the uncontended cost."""
    start, start_cpu = time.perf_counter(), time.process_time()
    out = fn()
    seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    rate = f"  {n / seconds:10,.0f} structures/s (wall)" if n > 1 else ""
    print(f"{label:<14} wall {seconds:7.2f} s  cpu {cpu:7.2f} s{rate}")
    return out, seconds


def main() -> None:
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    cache = os.environ["UNIGEN_CACHE_DIR"] = tempfile.mkdtemp(prefix="unigen-bench-cache-")
    try:
        run()
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def run() -> None:
    from unigen.data import load_dataset

    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    cold, _ = timed("cold", lambda: load_dataset("qm9", "all"), 133_885)
    warm, _ = timed("warm", lambda: load_dataset("qm9", "all"), len(cold))
    timed("materialize", lambda: list(warm), len(warm))
    assert len(cold) == len(warm) == 133_885, len(cold)
    if "--others" in sys.argv:
        others(load_dataset)


OTHERS = [("qm9_3d", "all"), ("perov_5", "test"), ("carbon_24", "test"), ("enzymes", "all"), ("sbm", "all")]


def others(load_dataset) -> None:
    from unigen.errors import UnigenError

    for name, split in OTHERS:
        try:
            print(f"{name}/{split}")
            cold, _ = timed("  cold", lambda: load_dataset(name, split), 1)
            timed("  warm", lambda: load_dataset(name, split), 1)
            timed("  materialize", lambda: list(cold), len(cold))
        except UnigenError as err:
            print(f"  skipped: {err}")


if __name__ == "__main__":
    main()
