"""Processed-dataset cache: raw file -> packed arrays in ``cache_dir()/<dataset>/``.

A cache file is keyed by the sha256 of the raw file(s), the processing options and the
dataset's processing version, so editing a raw file, changing an option or changing the
processing code all give a fresh file and stale ones are never read. Files are ``.npz``
read with ``allow_pickle=False``: loading a cache never executes code. Caches are never
written next to the raw data (which may be read-only).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from unigen.atomic import atomic_write
from unigen.errors import UnigenError
from unigen.paths import cache_dir

_SHA_MEMO: dict[tuple, str] = {}


def file_sha256(path: Path) -> str:
    """Full sha256 of a file, remembered per (path, size, mtime) within this process."""
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA_MEMO:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        _SHA_MEMO[key] = digest.hexdigest()
    return _SHA_MEMO[key]


def cache_path(dataset: str, stem: str, raw_files: list[Path], options: dict, version: int) -> Path:
    """Where the processed form of ``raw_files`` under ``options`` lives (it may not exist yet)."""
    identity = {
        "files": [file_sha256(p) for p in raw_files],
        "options": {k: options[k] for k in sorted(options)},
        "version": version,
    }
    key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return cache_dir() / dataset / f"{stem}-{key}.npz"


def load_cached(path: Path) -> dict[str, np.ndarray] | None:
    """Arrays of an existing cache file, or None when there is none (or it is unreadable)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):  # truncated, altered or foreign: rebuild
        print(f"warning: processed cache {path} is unreadable; rebuilding it", file=sys.stderr)
        return None


def save_cached(path: Path, arrays: dict[str, np.ndarray]) -> None:
    try:
        with atomic_write(path, "wb") as handle:
            np.savez(handle, **arrays)
    except OSError as err:
        raise UnigenError(f"cannot write processed cache {path}: {err.strerror or err}") from None


def cached(path: Path, build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Load ``path`` if present, else ``build()`` the arrays and save them there."""
    arrays = load_cached(path)
    if arrays is None:
        arrays = build()
        save_cached(path, arrays)
    return arrays
