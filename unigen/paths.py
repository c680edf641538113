"""Where raw benchmark files and processed caches live (read at call time, never at import).

Raw data and processed caches are kept apart: the raw directory may be read-only (CI mounts
``../shared/data`` without write bits).
"""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """Raw data root: ``$UNIGEN_DATA_DIR``, default ``~/.cache/unigen``."""
    return Path(os.environ.get("UNIGEN_DATA_DIR") or Path.home() / ".cache" / "unigen").expanduser()


def cache_dir() -> Path:
    """Processed-cache root: ``$UNIGEN_CACHE_DIR``, default ``~/.cache/unigen/processed``."""
    return Path(
        os.environ.get("UNIGEN_CACHE_DIR") or Path.home() / ".cache" / "unigen" / "processed"
    ).expanduser()
