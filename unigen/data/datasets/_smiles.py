"""Shared machinery for SMILES datasets (qm9, moses, zinc250k): raw SMILES -> MolGraph.

One processed cache per raw SMILES file (all rows, in file order); a split is an index
array into it. ``limit`` without a cache converts only the rows it needs and writes nothing.
``lazy=True`` converts each molecule when it is indexed (no cache at all).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from unigen.data.cache import cache_path, load_cached, save_cached
from unigen.data.packed import PackedStructures, pack
from unigen.data.registry import Dataset
from unigen.errors import RecordError, UnigenError

CONVERT_OPTIONS = ("kekulize", "explicit_hs", "keep_h_counts")


class SmilesDataset(Dataset):
    """Subclasses define ``source(split, options) -> Path``, ``read(path) -> list[str]`` and
    ``rows(split, options, n) -> np.ndarray`` (0-based rows of the source file, in split order)."""

    kind = "molgraph"
    defaults = {"kekulize": True, "explicit_hs": False, "keep_h_counts": False, "lazy": False}
    choices = {
        "kekulize": (True, False),
        "explicit_hs": (True, False),
        "keep_h_counts": (True, False),
        "lazy": (True, False),
    }

    def source(self, split: str, options: dict) -> Path:
        return self.require(split, options)[0]

    def read(self, path: Path) -> list[str]:
        raise NotImplementedError

    def rows(self, split: str, options: dict, n: int) -> np.ndarray:
        return np.arange(n)

    def split_rows(self, split: str, options: dict) -> tuple[Path, list[str], np.ndarray]:
        """(source path, all SMILES of the file, rows of this split honouring ``limit``)."""
        path = self.source(split, options)
        smiles = self.read(path)
        rows = self.rows(split, options, len(smiles))
        return path, smiles, rows if options["limit"] is None else rows[: options["limit"]]

    def smiles(self, split: str, options: dict) -> list[str]:
        _, smiles, rows = self.split_rows(split, options)
        return [smiles[r] for r in rows.tolist()]

    def extra_meta(self, rows: np.ndarray) -> dict[str, list]:
        """Per-molecule metadata besides smiles/row (qm9 adds gdb_id)."""
        return {}

    def load(self, split: str, options: dict) -> Sequence:
        path, smiles, rows = self.split_rows(split, options)
        convert = {k: options[k] for k in CONVERT_OPTIONS}
        if options["lazy"]:
            return LazyMolGraphs(
                [smiles[r] for r in rows.tolist()], rows, convert, str(path), self.extra_meta(rows)
            )
        where = cache_path(self.name, path.name.split(".")[0], [path], convert, self.version)
        arrays = load_cached(where)
        if arrays is None and options["limit"] is not None:  # a small peek: convert just these rows
            return self._select(self._convert(smiles, rows, convert, path), rows, split)
        if arrays is None:
            arrays = self._convert(smiles, np.arange(len(smiles)), convert, path)
            save_cached(where, arrays)
        return self._select(arrays, rows, split)

    def _convert(self, smiles: list[str], rows: np.ndarray, convert: dict, path: Path) -> dict:
        graphs, kept, failed = convert_smiles([smiles[r] for r in rows.tolist()], convert)
        if not graphs:
            raise UnigenError(f"{path}: none of the {len(rows)} SMILES requested could be converted")
        kept_rows = rows[kept]
        meta = {"smiles": [g.meta["smiles"] for g in graphs], "row": kept_rows.tolist()} | self.extra_meta(
            kept_rows
        )
        arrays = pack(graphs, meta)
        arrays["failed_rows"] = rows[failed]
        return arrays

    def _select(self, arrays: dict, rows: np.ndarray, split: str) -> PackedStructures:
        """Map source rows to packed positions; rows whose SMILES failed are dropped, loudly."""
        position = {r: k for k, r in enumerate(arrays["meta.int.row"].tolist())}
        missing = [r for r in rows.tolist() if r not in position]
        if missing:
            warnings.warn(
                f"{self.name}/{split}: {len(missing)} SMILES could not be converted and are skipped (first row {missing[0]})",
                stacklevel=3,
            )
        return PackedStructures(arrays, [position[r] for r in rows.tolist() if r in position])


def convert_smiles(smiles: list[str], convert: dict):
    """SMILES -> (MolGraphs, indices converted, indices that failed)."""
    from unigen.chem.convert import smiles_to_graph

    graphs, kept, failed = [], [], []
    for k, s in enumerate(smiles):
        try:
            graphs.append(smiles_to_graph(s, **convert))
            kept.append(k)
        except ValueError:
            failed.append(k)
    return graphs, np.array(kept, np.int64), np.array(failed, np.int64)


class LazyMolGraphs(Sequence):
    """SMILES converted to MolGraph on access (for MOSES-size sets); bad SMILES raise RecordError.

    ``extra``: more per-molecule metadata columns, aligned with ``smiles``.
    """

    def __init__(
        self, smiles: list[str], rows: np.ndarray, convert: dict, source: str, extra: dict | None = None
    ):
        self.smiles_list, self.rows, self.convert, self.source = smiles, rows, convert, source
        self.extra = extra or {}

    def __len__(self) -> int:
        return len(self.smiles_list)

    def __getitem__(self, k):
        if isinstance(k, slice):
            extra = {key: values[k] for key, values in self.extra.items()}
            return LazyMolGraphs(self.smiles_list[k], self.rows[k], self.convert, self.source, extra)
        from unigen.chem.convert import smiles_to_graph

        try:
            graph = smiles_to_graph(self.smiles_list[k], **self.convert)
        except ValueError as err:
            raise RecordError(self.source, f"data row {int(self.rows[k])}", str(err)) from None
        graph.meta["row"] = int(self.rows[k])
        graph.meta.update({key: values[k] for key, values in self.extra.items()})
        return graph


def read_lines(path: Path, header: str | None) -> list[str]:
    """One SMILES per line (plain or .gz), the header line checked and dropped."""
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    if header is not None and (not lines or lines[0].strip().lower() != header.lower()):
        raise RecordError(
            str(path), 1, f"expected header {header!r}, got {lines[0][:40] if lines else 'an empty file'!r}"
        )
    return [line.strip() for line in lines[1 if header else 0 :] if line.strip()]
