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
    progress: bool | None = False,
    desc: str = "",
) -> list:
    """Apply ``chunk_func`` (list -> list of the same length) to consecutive chunks of ``items``.

    Runs in-process when one job is asked for or there is a single chunk; otherwise spreads the
    chunks over a process pool (``chunk_func`` must be a module-level function). Order is kept.
    ``progress``: ``unigen.progress.progress_bar``'s ``enabled`` (a bar on a terminal, a plain
    line every ~10 s when piped; False: silent).
    """
    from unigen.progress import progress_bar

    items = list(items)
    chunks = [items[i : i + chunk_size] for i in range(0, len(items), chunk_size)]
    n_jobs = resolve_jobs(n_jobs)
    out: list = []
    with progress_bar(total=len(items), desc=desc or "scoring", unit="item", enabled=progress) as bar:
        if n_jobs == 1 or len(chunks) < 2:
            for chunk in chunks:
                out += chunk_func(chunk)
                bar.update(len(chunk))
            return out
        pool = ProcessPoolExecutor(min(n_jobs, len(chunks)), initializer=_ignore_sigint)
        try:
            for chunk, part in zip(chunks, pool.map(chunk_func, chunks)):
                out += part
                bar.update(len(chunk))
        except BaseException:  # Ctrl-C or a failed chunk: drop the queued chunks, stop the workers
            _stop(pool)
            raise
        pool.shutdown()
    return out


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which cancels the pool (no traceback per worker)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel queued chunks and end the running ones now, not after every chunk has finished."""
    processes = list((pool._processes or {}).values())  # no public API before Python 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=1.0)
