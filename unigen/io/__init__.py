"""File I/O: one reader and one writer per format, chosen by file extension or ``format=``.

    >>> result = unigen.io.read("generated.sdf")          # ReadResult(records, errors, source)
    >>> unigen.io.write("out.cif", crystals)               # atomic: no half-written files

| format   | extensions (``.gz`` allowed)      | reads                          | writes                 |
|----------|-----------------------------------|--------------------------------|------------------------|
| smi      | .smi .smiles .txt                 | MolGraph                       | SMILES str, MolGraph   |
| csv      | .csv (a ``smiles`` column)        | MolGraph                       | SMILES str, MolGraph   |
| sdf      | .sdf .sd .mol                     | MolGraph (or Molecule3D)       | MolGraph, Molecule3D   |
| xyz      | .xyz                              | Molecule3D (Crystal w/ Lattice)| Molecule3D, Crystal    |
| extxyz   | .extxyz                           | Molecule3D, Crystal            | Molecule3D, Crystal    |
| cif      | .cif                              | Crystal                        | Crystal                |
| poscar   | POSCAR*, CONTCAR*, .vasp .poscar  | Crystal                        | one Crystal            |
| edgelist | .edgelist .edges                  | Graph                          | Graph                  |
| json     | .json (``{"graphs": [...]}``)     | Graph                          | Graph                  |

Readers never stop at a bad record: it becomes a ``RecordError`` in ``ReadResult.errors``
(a one-line message naming the file, the record and the line) and the other records are
read. A file that cannot be read at all (missing, binary, empty, not the format) raises
``UnigenError`` naming the file. ``read_smiles`` returns raw SMILES strings, invalid ones
included, for scoring. Format details are in each module's docstring.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path

from unigen.errors import UsageError
from unigen.io.result import ReadResult

__all__ = [
    "FORMATS",
    "Format",
    "ReadResult",
    "format_from_path",
    "read",
    "read_smiles",
    "writable_formats",
    "write",
]


@dataclass(frozen=True)
class Format:
    """One file format: where its reader and writer live and which structures it writes."""

    name: str
    extensions: tuple[str, ...]
    reader: str  # "module:function" under unigen.io, imported on first use
    writer: str
    writes: tuple[str, ...]  # class names the writer accepts
    fixed: dict = field(default_factory=dict)  # keyword arguments the registry always passes

    def function(self, which: str):
        module, name = getattr(self, which).split(":")
        return getattr(importlib.import_module(f"unigen.io.{module}"), name)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in [
        Format(
            "smi",
            (".smi", ".smiles", ".txt"),  # DiGress and others publish samples as .txt
            "smiles:read_molgraphs",
            "smiles:write_smiles",
            ("str", "MolGraph"),
            {"format": "smi"},
        ),
        Format(
            "csv",
            (".csv",),
            "smiles:read_molgraphs",
            "smiles:write_smiles",
            ("str", "MolGraph"),
            {"format": "csv"},
        ),
        Format("sdf", (".sdf", ".sd", ".mol"), "sdf:read_sdf", "sdf:write_sdf", ("MolGraph", "Molecule3D")),
        Format("xyz", (".xyz",), "xyz:read_xyz", "xyz:write_xyz", ("Molecule3D", "Crystal")),
        Format("extxyz", (".extxyz",), "xyz:read_xyz", "xyz:write_extxyz", ("Molecule3D", "Crystal")),
        Format("cif", (".cif",), "cif:read_cif", "cif:write_cif", ("Crystal",)),
        Format("poscar", (".vasp", ".poscar"), "poscar:read_poscar", "poscar:write_poscar", ("Crystal",)),
        Format(
            "edgelist", (".edgelist", ".edges"), "graphs:read_edgelist", "graphs:write_edgelist", ("Graph",)
        ),
        Format("json", (".json",), "graphs:read_graph_json", "graphs:write_graph_json", ("Graph",)),
    ]
}
_ALIASES = {
    "smiles": "smi",
    "sd": "sdf",
    "mol": "sdf",
    "vasp": "poscar",
    "contcar": "poscar",
    "graph-json": "json",
    "edges": "edgelist",
}
_POSCAR_NAMES = ("poscar", "contcar")


def format_from_path(path, override: str | None = None) -> Format:
    """The Format for ``path``: ``override`` (a format name) if given, else the extension.

    A trailing ``.gz`` is ignored; a known extension wins, then VASP's ``POSCAR`` / ``CONTCAR``
    names (with any other suffix) are POSCAR files. Unknown names raise a UsageError listing
    the valid formats.
    """
    if override is not None:
        name = _ALIASES.get(override.lower(), override.lower())
        if name not in FORMATS:
            raise UsageError(f"unknown format {override!r}; valid formats: {', '.join(FORMATS)}")
        return FORMATS[name]
    path = Path(path)
    name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    suffix = Path(name).suffix.lower()
    for fmt in FORMATS.values():
        if suffix in fmt.extensions:
            return fmt
    if name.lower().startswith(_POSCAR_NAMES):  # POSCAR, CONTCAR_relaxed, POSCAR.1
        return FORMATS["poscar"]
    raise UsageError(
        f"{path}: cannot tell the file format from {suffix or 'a name without extension'!r}; "
        f"pass --format (format= in Python), one of {', '.join(FORMATS)}"
    )


def writable_formats(record_type: type) -> list[str]:
    """Names of the formats whose writer takes records of ``record_type``."""
    return [name for name, fmt in FORMATS.items() if record_type.__name__ in fmt.writes]


def read(path, format: str | None = None, *, strict: bool = False, **options) -> ReadResult:
    """Read every record of ``path``. ``strict=True`` raises the first bad record's RecordError.

    ``options`` go to the format's reader (e.g. ``occupancy="majority"`` for CIF,
    ``kind="molecule3d"`` for SDF, ``column="SMILES"`` for CSV); unknown ones are a UsageError.
    """
    fmt = format_from_path(path, format)
    reader = fmt.function("reader")
    _check_options(fmt, reader, options)
    result = reader(path, **fmt.fixed, **options)
    if strict and result.errors:
        raise result.errors[0]
    return result


def write(path, records, format: str | None = None, **options) -> None:
    """Write ``records`` to ``path`` atomically (nothing is written if any record fails).

    ``records`` may be a generator (``unigen generate`` streams batches): the writers pull
    records one at a time into a temporary file that is renamed over ``path`` only at the end.
    """
    fmt = format_from_path(path, format)
    writer = fmt.function("writer")
    _check_options(fmt, writer, options)
    writer(path, _checked(path, fmt, records), **fmt.fixed, **options)


def _checked(path, fmt: Format, records):
    """The records, lazily, each checked to be of a type ``fmt`` writes."""
    for index, record in enumerate(records, start=1):
        if type(record).__name__ not in fmt.writes:
            raise UsageError(
                f"{path}: format {fmt.name} writes {' or '.join(fmt.writes)}; record {index} is a {type(record).__name__}"
            )
        yield record


def read_smiles(path, column: str | None = None, format: str | None = None) -> ReadResult:
    """Raw SMILES strings of a .smi / .csv file (invalid ones included), in file order."""
    from unigen.io.smiles import read_smiles as _read_smiles

    fmt = format_from_path(path, format if format else ("csv" if column else None))
    if fmt.name not in ("smi", "csv"):
        raise UsageError(f"{path}: read_smiles reads smi or csv files, not {fmt.name}")
    return _read_smiles(path, column=column, format=fmt.name)


def _check_options(fmt: Format, function, options: dict) -> None:
    allowed = [
        name
        for name, p in inspect.signature(function).parameters.items()
        if p.kind == p.KEYWORD_ONLY and name not in fmt.fixed
    ]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        valid = ", ".join(allowed) if allowed else "none"
        raise UsageError(f"unknown option {', '.join(unknown)} for format {fmt.name}; valid options: {valid}")
