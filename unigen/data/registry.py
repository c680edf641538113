"""The dataset registry: one ``Dataset`` subclass per file in ``unigen/data/datasets/``.

Each dataset declares its raw files (path under ``data_dir()``, canonical URL, checksum
prefix), its splits, its options with defaults, and a STATS table in its docstring. The
public functions here look datasets up by name and load them:

    load_dataset("qm9", "test")              -> sequence of MolGraph (meta["smiles"])
    load_smiles("moses", "train")            -> list[str], no RDKit
    list_datasets()                          -> names
    dataset_info("qm9")                      -> files, splits, availability, STATS
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from unigen.errors import UnigenError, UsageError
from unigen.paths import data_dir


@dataclass(frozen=True)
class RawFile:
    """One raw file of a dataset.

    path: relative to ``data_dir()``.
    url: canonical public address (None when there is none); ``member`` names the file
        inside the zip archive (e.g. a PyPI wheel) found at ``url``.
    sha256: hex prefix of the file's sha256 as recorded in the provenance notes (16 or 8
        characters); None when no checksum is recorded.
    note: how to obtain the file when ``url`` cannot provide it.
    """

    path: str
    url: str | None = None
    sha256: str | None = None
    member: str | None = None
    note: str = ""

    @property
    def local(self) -> Path:
        return data_dir() / self.path


class Dataset:
    """Base class: subclasses set the class attributes and implement ``load``."""

    name: ClassVar[str]
    kind: ClassVar[str]  # "molgraph" | "mol3d" | "crystal" | "graph"
    splits: ClassVar[tuple[str, ...]]
    files: ClassVar[tuple[RawFile, ...]]
    defaults: ClassVar[dict] = {}  # option -> default value
    choices: ClassVar[dict[str, tuple]] = {}  # option -> allowed values
    version: ClassVar[int] = 1  # bump when processing changes: old caches are then ignored

    # -- options and splits ------------------------------------------------------------

    def resolve_options(self, options: dict) -> dict:
        """Defaults updated with ``options``; unknown keys and bad values raise UsageError."""
        valid = {"limit": None} | dict(self.defaults)
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise UsageError(
                f"unknown option {unknown[0]!r} for dataset {self.name}; valid: {', '.join(sorted(valid))}"
            )
        resolved = valid | options
        for key, allowed in self.choices.items():
            if resolved[key] not in allowed:
                raise UsageError(f"{self.name}: option {key}={resolved[key]!r} not in {list(allowed)}")
        limit = resolved["limit"]
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise UsageError(f"{self.name}: limit must be a non-negative integer, got {limit!r}")
        return resolved

    def check_split(self, split: str) -> str:
        if split not in self.splits:
            raise UsageError(f"dataset {self.name} has no split {split!r}; splits: {', '.join(self.splits)}")
        return split

    # -- files -----------------------------------------------------------------------

    def files_for(self, split: str, options: dict) -> list[RawFile]:
        """The raw files needed to load ``split`` with ``options`` (default: all of them)."""
        return list(self.files)

    def require(self, split: str, options: dict) -> list[Path]:
        """Local paths of the files for ``split``; the first missing one raises UnigenError."""
        for raw in self.files_for(split, options):
            if not raw.local.exists():
                raise UnigenError(missing_message(self.name, raw))
        return [raw.local for raw in self.files_for(split, options)]

    def known_files(self) -> list[RawFile]:
        """Every raw file this dataset can read, whatever the options (for ``info``)."""
        return list(self.files)

    def availability(self) -> dict[str, list[str]]:
        """split -> missing file paths (relative to data_dir()), with default options."""
        options = self.resolve_options({})
        return {s: [r.path for r in self.files_for(s, options) if not r.local.exists()] for s in self.splits}

    # -- loading ---------------------------------------------------------------------

    def load(self, split: str, options: dict) -> Sequence:
        raise NotImplementedError

    def smiles(self, split: str, options: dict) -> list[str]:
        raise UsageError(f"dataset {self.name} holds {self.kind} structures, not SMILES")

    @classmethod
    def stats(cls) -> dict[str, int]:
        return parse_stats(cls.__doc__ or "")


def missing_message(dataset: str, raw: RawFile) -> str:
    if raw.note:
        how = raw.note
    elif raw.url:
        how = f"run `unigen data fetch {dataset}{'' if raw.sha256 else ' --allow-unverified'}`"
    else:
        how = "see data/README.md"
    return f"{dataset}: missing dataset file {raw.local} ({how})"


_STATS_ROW = re.compile(r"^\|\s*([\w-]+)\s*\|\s*([\d,]+)\s*\|")


def parse_stats(doc: str) -> dict[str, int]:
    """The ``split -> structure count`` rows of a docstring's STATS table."""
    _, _, table = doc.partition("STATS")
    return {
        m[1]: int(m[2].replace(",", ""))
        for line in table.splitlines()
        if (m := _STATS_ROW.match(line.strip()))
    }


# ---------------------------------------------------------------------------------------
# the registry

_REGISTRY: dict[str, Dataset] = {}
_DISCOVERED = False


def register(cls: type[Dataset]) -> type[Dataset]:
    """Class decorator: make a dataset loadable by its ``name``."""
    _REGISTRY[cls.name] = cls()
    return cls


def _discover() -> None:
    """Import every module of ``unigen.data.datasets`` once (each registers itself)."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    package = importlib.import_module("unigen.data.datasets")
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"unigen.data.datasets.{info.name}")


def get_dataset(name: str) -> Dataset:
    _discover()
    if name not in _REGISTRY:
        raise UsageError(f"unknown dataset {name!r}; available: {', '.join(list_datasets())}")
    return _REGISTRY[name]


def list_datasets() -> list[str]:
    _discover()
    return sorted(_REGISTRY)


def load_dataset(name: str, split: str = "train", **options) -> Sequence:
    """Load one split of a benchmark dataset as a sequence of unigen structures.

    Common option: ``limit`` (first N structures of the split). Other options are per
    dataset (``dataset_info(name)["options"]``); unknown ones raise UsageError.
    """
    dataset = get_dataset(name)
    resolved = dataset.resolve_options(options)
    return dataset.load(dataset.check_split(split), resolved)


def load_smiles(name: str, split: str = "train", **options) -> list[str]:
    """The raw SMILES strings of a split, in split order (fast: no RDKit)."""
    dataset = get_dataset(name)
    resolved = dataset.resolve_options(options)
    return dataset.smiles(dataset.check_split(split), resolved)


def dataset_info(name: str) -> dict:
    """Kind, splits, options, raw files, per-split availability and the STATS table."""
    dataset = get_dataset(name)
    return {
        "name": dataset.name,
        "kind": dataset.kind,
        "splits": list(dataset.splits),
        "options": {"limit": None} | dict(dataset.defaults),
        "files": [
            raw.__dict__ | {"local": str(raw.local), "present": raw.local.exists()}
            for raw in dataset.known_files()
        ],
        "missing": dataset.availability(),
        "stats": dataset.stats(),
        "doc": dataset.__doc__ or "",
    }
