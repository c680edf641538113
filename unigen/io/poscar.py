"""VASP POSCAR / CONTCAR files (VASP 5 format, with the species line): one crystal per file.

Read and written with pymatgen's ``Poscar``. The file is a single record: a file that
pymatgen cannot read gives a ReadResult with no records and one RecordError. Writing more
than one crystal is a UsageError (use CIF or extended XYZ for many structures). The comment
(first) line becomes ``meta["name"]``; coordinates are written in direct (fractional) form
with 16 significant figures.
"""

from __future__ import annotations

import math
import warnings

from unigen import limits
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

    _check_header(text.splitlines())

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


def _check_header(lines: list[str]) -> None:
    """Species and counts agree and the atoms are within ``UNIGEN_MAX_ATOMS``, before pymatgen
    (which pairs a short species line with the first counts silently)."""
    if len(lines) < 7:
        return  # pymatgen names what is missing
    _check_cell(lines[1:5])
    species, counts = lines[5].split(), lines[6].split()
    if not species or not all(token.isalpha() for token in species):
        return  # VASP 4 (no species line): pymatgen refuses it with its own message
    if not counts or not all(token.isascii() and token.isdigit() for token in counts):
        raise ValueError(f"line 7: atom counts must be non-negative integers, got {lines[6].strip()[:60]!r}")
    if len(species) != len(counts):
        raise ValueError(f"line 6 names {len(species)} species but line 7 gives {len(counts)} atom counts")
    total = sum(int(token) for token in counts)
    if total > limits.limit("atoms"):
        raise ValueError(f"line 7: {limits.exceeded('atoms', total, 'atoms')}")


def _check_cell(lines: list[str]) -> None:
    """A finite, non-zero scale and finite lattice vectors within ``UNIGEN_MAX_CELL_LENGTH``."""
    try:
        scale = [float(token) for token in lines[0].split()]
        vectors = [[float(token) for token in line.split()[:3]] for line in lines[1:]]
    except ValueError:
        return  # pymatgen names the malformed number
    numbers = scale + [x for vector in vectors for x in vector]
    if not scale or not all(math.isfinite(x) for x in numbers) or 0 in scale:
        raise ValueError("lines 2-5: the scale and lattice vectors must be finite numbers (scale not 0)")
    longest = max(math.dist(vector, (0, 0, 0)) for vector in vectors) * scale[0]
    if len(scale) == 1 and scale[0] > 0 and longest > limits.limit("cell_length"):
        raise ValueError(
            f"lines 3-5: lattice vector of {limits.exceeded('cell_length', round(longest), 'Angstrom')}"
        )


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
