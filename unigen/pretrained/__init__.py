"""Small default checkpoints shipped inside the package (safetensors + card.yaml each).

A shipped model is a directory ``unigen/pretrained/<name>/`` holding a unigen checkpoint; its
card records the training command and the measured metrics.
"""

from __future__ import annotations

from pathlib import Path

from unigen.errors import UsageError

ROOT = Path(__file__).resolve().parent
DEFAULT_MODEL = "gdss-qm9"


def available() -> list[str]:
    """Names of the shipped models present in this installation."""
    return sorted(p.name for p in ROOT.iterdir() if (p / "card.yaml").is_file())


def shipped_path(name) -> Path | None:
    """The directory of the shipped model ``name``, or None if no such model is shipped."""
    if len(Path(name).parts) != 1:
        return None
    directory = ROOT / str(name)
    return directory if (directory / "card.yaml").is_file() else None


def resolve_model(name_or_path: str) -> Path:
    """A shipped model name or a checkpoint / run directory -> the directory to load."""
    shipped = shipped_path(name_or_path)
    if shipped is not None:
        return shipped
    path = Path(name_or_path)
    if path.exists():
        return path
    names = ", ".join(available()) or "none in this installation"
    raise UsageError(f"model '{name_or_path}' is neither a shipped model ({names}) nor a checkpoint path")
