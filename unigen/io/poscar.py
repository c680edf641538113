"""VASP POSCAR / CONTCAR files (VASP 5 format, with the species line): one crystal per file.

Read and written with pymatgen's ``Poscar``. The file is a single record: a file that
pymatgen cannot read gives a ReadResult with no records and one RecordError. Writing more
than one crystal is a UsageError (use CIF or extended XYZ for many structures). The comment
(first) line becomes ``meta["name"]``; coordinates are written in direct (fractional) form
with 16 significant figures.
"""

from __future__ import annotations

import warnings

from unigen.errors import RecordError, UsageError
from unigen.io._text import first_line, read_text, write_text
from unigen.io.result import ReadResult
from unigen.structures import Crystal


def read_poscar(path) -> ReadResult:
    """The crystal of a POSCAR file, or one RecordError saying why it could not be read."""
    text = read_text(path)
    try:
        crystal = _parse(text)
    except ValueError as err:
        return ReadResult([], [RecordError(path, 1, str(err))], str(path))
    crystal.meta.update(name=text.splitlines()[0].strip(), record=1)
    return ReadResult([crystal], [], str(path))


def _parse(text: str) -> Crystal:
    from pymatgen.io.vasp import Poscar

    from unigen.chem.convert import pymatgen_to_crystal

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            structure = Poscar.from_str(text, read_velocities=False).structure
        except Exception as err:  # pymatgen raises many types on malformed POSCAR text
            raise ValueError(
                f"not a readable POSCAR (VASP 5 format with a species line): {first_line(err)}"
            ) from None
    if len(structure) == 0:
        raise ValueError("no atoms")
    return pymatgen_to_crystal(structure)


def write_poscar(path, records) -> None:
    """Write exactly one Crystal as a POSCAR file (atomic write)."""
    records = list(records)
    if len(records) != 1:
        raise UsageError(
            f"{path}: POSCAR holds one structure, got {len(records)}; write CIF or extxyz for several"
        )
    crystal = records[0]
    if not isinstance(crystal, Crystal):
        raise RecordError(path, 1, f"POSCAR holds Crystal, got {type(crystal).__name__}")
    write_text(path, [_poscar_text(crystal)])


def _poscar_text(crystal: Crystal) -> str:
    from pymatgen.io.vasp import Poscar

    from unigen.chem.convert import crystal_to_pymatgen

    structure = crystal_to_pymatgen(crystal)
    comment = " ".join(str(crystal.meta.get("name") or structure.composition.formula).split())
    return Poscar(structure, comment=comment, sort_structure=False).get_str(
        direct=True, significant_figures=16
    )
