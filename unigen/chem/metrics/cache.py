"""The metric caches: reference statistics computed once and kept under ``cache_dir()/metrics``.

A cache file is named ``<kind>-<content hash of the reference set>.<ext>``, holds plain arrays
(``.npz`` / ``.npy`` without pickle) or text, and is written atomically as soon as it is computed,
so an interrupted run keeps what it finished. A file that cannot be read back (truncated, corrupt,
or not what its reader expects) is deleted and recomputed, with a warning, never a traceback.
"""

from __future__ import annotations

import hashlib
import warnings
import zipfile
from pathlib import Path
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")

# what numpy / zipfile / text decoding raise on a damaged file, and what readers raise on a wrong one
_UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError)


def smiles_key(smiles: Sequence[str]) -> str:
    """Content hash of a SMILES list (order-sensitive), used as a cache key."""
    digest = hashlib.sha256()
    for s in smiles:
        digest.update(s.encode())
        digest.update(b"\n")
    return digest.hexdigest()[:24]


def cache_path(kind: str, key: str, ext: str) -> Path:
    """``cache_dir()/metrics/<kind>-<key>.<ext>``."""
    from unigen.paths import cache_dir

    return cache_dir() / "metrics" / f"{kind}-{key}.{ext}"


def load_cached(path: Path, reader: Callable[[Path], T]) -> T | None:
    """``reader(path)``, or None when there is no file or it cannot be read (the file is then removed).

    ``reader`` should raise ``ValueError`` (or let numpy raise) when the content is not what it
    expects, e.g. a wrong length or shape.
    """
    if not path.exists():
        return None
    try:
        return reader(path)
    except _UNREADABLE as err:
        warnings.warn(
            f"metric cache {path} is unreadable ({type(err).__name__}: {err}); recomputing it", stacklevel=2
        )
        path.unlink(missing_ok=True)
        return None


def save_npz(path: Path, **arrays) -> None:
    """Write plain arrays atomically (never a half-written cache)."""
    import numpy as np

    from unigen.atomic import atomic_write

    with atomic_write(path, "wb") as handle:
        np.savez(handle, **arrays)


def read_npz(path: Path, keys: Sequence[str]) -> dict:
    """The named arrays of an ``.npz`` (no pickle); KeyError when one is missing."""
    import numpy as np

    with np.load(path, allow_pickle=False) as f:
        return {key: f[key] for key in keys}
