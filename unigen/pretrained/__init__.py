"""Small default checkpoints shipped inside the package (safetensors + card.yaml each).

A shipped model is a directory ``unigen/pretrained/<name>/`` holding a unigen checkpoint; its
card records the training command and the measured metrics. Load one with
``unigen.checkpoint.load(name)``; ``unigen.checkpoint.resolve`` owns the name-or-path rules.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent
DEFAULT_MODEL = "gdss-qm9"
DEFAULT_CSP_MODEL = "unigenx-perov5"  # unigen predict-structure


def available() -> list[str]:
    """Names of the shipped models present in this installation."""
    return sorted(p.name for p in ROOT.iterdir() if (p / "card.yaml").is_file())


def shipped_path(name) -> Path | None:
    """The directory of the shipped model ``name``, or None if no such model is shipped."""
    if len(Path(name).parts) != 1:
        return None
    directory = ROOT / str(name)
    return directory if (directory / "card.yaml").is_file() else None
