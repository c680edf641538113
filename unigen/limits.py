"""Limits on what unigen reads, so a hostile or oversized input is a clear error in bounded
time and memory instead of a hang, a crash or a traceback (docs/limits.md).

Each limit has a default and an environment variable that raises or lowers it (read on every
call, so a test or a user can change it without restarting)::

    UNIGEN_MAX_ATOMS          atoms per structure                       default 1,000
    UNIGEN_MAX_RECORD_BYTES   characters in one record (a SMILES, a CSV field, a CIF block)
                                                                         default 1,000,000
    UNIGEN_MAX_DEPTH          nesting depth of a recipe or card (YAML)  default 64
    UNIGEN_MAX_FILE_BYTES     bytes of a file after decompression      default 256 MiB
    UNIGEN_MAX_GRAPH_NODES    nodes per graph, and a model's max_nodes  default 5,000
    UNIGEN_MAX_CELL_LENGTH    a crystal's lattice vector length, in Angstrom  default 1,000

A record over a limit is one RecordError (skipped, the rest of the file is read); a file over
a limit, or a recipe / card value over one, is a one-line UsageError (exit code 2).
"""

from __future__ import annotations

import os

from unigen.errors import UsageError

__all__ = ["LIMITS", "check", "exceeded", "limit"]

# name -> (environment variable, default, what it bounds)
LIMITS: dict[str, tuple[str, int, str]] = {
    "atoms": ("UNIGEN_MAX_ATOMS", 1_000, "atoms per structure"),
    "record_bytes": ("UNIGEN_MAX_RECORD_BYTES", 1_000_000, "characters per record"),
    "depth": ("UNIGEN_MAX_DEPTH", 64, "nesting depth of YAML"),
    "file_bytes": ("UNIGEN_MAX_FILE_BYTES", 256 << 20, "bytes per file after decompression"),
    "graph_nodes": ("UNIGEN_MAX_GRAPH_NODES", 5_000, "nodes per graph"),
    "cell_length": ("UNIGEN_MAX_CELL_LENGTH", 1_000, "Angstrom per lattice vector"),
}


def limit(name: str) -> int:
    """The current value of limit ``name`` (its environment variable, else the default)."""
    variable, default, _ = LIMITS[name]
    text = os.environ.get(variable, "").strip().replace("_", "")
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise UsageError(f"{variable} must be a positive integer, got {os.environ[variable]!r}")
    return int(text)


def check(name: str, value, what: str) -> None:
    """Raise a one-line UsageError when ``value`` (a count of ``what``) is over limit ``name``."""
    if value > limit(name):
        raise UsageError(exceeded(name, value, what))


def exceeded(name: str, value, what: str) -> str:
    """``"20,000 atoms, over the limit of 1,000 (set UNIGEN_MAX_ATOMS to raise it)"``."""
    return f"{value:,} {what}, over the limit of {limit(name):,} (set {LIMITS[name][0]} to raise it)"
