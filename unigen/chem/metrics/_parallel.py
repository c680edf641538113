"""Chunked process-pool map with an optional progress bar, shared by the metric modules."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Sequence


def resolve_jobs(n_jobs: int | None) -> int:
    """None or 0 -> every available core; otherwise at least 1."""
    if not n_jobs:
        return max(
            1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        )
    return max(1, int(n_jobs))


def chunked_map(
    chunk_func: Callable[[list], list],
    items: Sequence,
    n_jobs: int | None = None,
    chunk_size: int = 1000,
    progress: bool = False,
    desc: str = "",
) -> list:
    """Apply ``chunk_func`` (list -> list of the same length) to consecutive chunks of ``items``.

    Runs in-process when one job is asked for or there is a single chunk; otherwise spreads the
    chunks over a process pool (``chunk_func`` must be a module-level function). Order is kept.
    """
    from tqdm.auto import tqdm

    items = list(items)
    chunks = [items[i : i + chunk_size] for i in range(0, len(items), chunk_size)]
    n_jobs = resolve_jobs(n_jobs)
    out: list = []
    with tqdm(total=len(items), disable=not progress, desc=desc) as bar:
        if n_jobs == 1 or len(chunks) < 2:
            for chunk in chunks:
                out += chunk_func(chunk)
                bar.update(len(chunk))
            return out
        with ProcessPoolExecutor(min(n_jobs, len(chunks))) as pool:
            for chunk, part in zip(chunks, pool.map(chunk_func, chunks)):
                out += part
                bar.update(len(chunk))
    return out
