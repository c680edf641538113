"""Standard metrics of the field, one module per kind of structure.

    molecules    2D molecules (GDSS / DiGress / MOSES protocols)      ``score_molecules``
    molecules3d  3D molecules (EDM protocol)                          ``score_molecules3d``
    crystals     de novo crystals (CDVAE / DiffCSP protocol)          ``score_crystals``
    csp          crystal structure prediction match rate and RMSE     ``csp_match``
    graphs       generic graphs (GDSS / SPECTRE MMDs)                 ``score_graphs``

Every ``score_*`` function returns a plain dict (JSON-serialisable) that includes the list of
invalid or malformed inputs. Work is spread over the available cores by ``parallel_map``
(per item) or ``_parallel.chunked_map`` (per chunk); heavy libraries are imported inside the
submodules. Reference statistics of large sets (FCD moments, fingerprints, canonical training
SMILES, ...) are computed once and kept by ``cache`` (an unreadable cache file is rebuilt).
"""

from __future__ import annotations

from functools import partial
from typing import Callable, Sequence


def parallel_map(
    function: Callable, items: Sequence, n_jobs: int | None = None, progress: bool = False, desc: str = ""
) -> list:
    """``[function(x) for x in items]`` over worker processes, in order, with a progress bar.

    ``function`` must be picklable (module-level, or a ``functools.partial`` of one). Chunks are
    small enough (about 8 per worker) to balance items of uneven cost; the pool itself is
    ``_parallel.chunked_map``, shared with the graph metrics.
    """
    from unigen.chem.metrics._parallel import chunked_map, resolve_jobs

    chunk_size = max(8, min(1000, len(items) // (8 * resolve_jobs(n_jobs)) or 1))
    return chunked_map(partial(_map_chunk, function), items, n_jobs, chunk_size, progress, desc)


def _map_chunk(function: Callable, chunk: list) -> list:
    return [function(item) for item in chunk]


def fraction(count: int, total: int) -> float:
    """count / total, 0.0 for an empty denominator (an empty input scores 0, not NaN)."""
    return float(count) / total if total else 0.0
