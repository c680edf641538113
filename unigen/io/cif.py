"""CIF files: every ``data_`` block is one record, read by pymatgen's CifParser.

unigen splits the file into data blocks itself (ignoring ``data_`` lines inside
semicolon text fields), so one unreadable block is one RecordError and the other blocks are
still read. pymatgen applies the symmetry operations (listed ``_symmetry_equiv_pos_as_xyz`` /
``_space_group_symop_operation_xyz`` loops, or generated from the space-group symbol) and
returns the full cell as written in the file (``primitive=False`` unless asked).

Partial occupancy (``occupancy=``):
    "error" (default): a block with any partially occupied site is a RecordError naming the
        site, its label and its species with their occupancies.
    "majority": each partially occupied site keeps the species with the largest occupancy
        when that occupancy is at least 0.5 and no other species ties with it; otherwise
        the block is a RecordError. Vacancies are never created; ``meta["disorder_resolved"]``
        counts the sites that were changed.

Writing uses pymatgen's CifWriter (P1 with every atom listed unless ``symprec`` is given).
Each block starts with ``# key: value`` comments: the formula and the space group (spglib,
symprec 0.1 Å, unless the record's meta has them), then the record's other scalar meta.
CIF stores cell lengths and angles, not the orientation of the lattice vectors: after a
round trip the lattice is pymatgen's standard orientation of the same cell. pymatgen returns
the atoms grouped by species (sorted by electronegativity), not in file order, and rounds
fractional coordinates within 1e-4 of simple fractions (1/2, 1/3, ...) to those values.
"""

from __future__ import annotations

import functools
import io
import math
import re
import warnings
from dataclasses import dataclass

from unigen import limits
from unigen.errors import RecordError, UnigenError, UsageError
from unigen.io._text import first_line, read_text, write_text
from unigen.io.result import ReadResult
from unigen.structures import Crystal

OCCUPANCY_POLICIES = ("error", "majority")
_REQUIRED_ITEMS = tuple(f"_cell_length_{x}" for x in "abc") + tuple(
    f"_cell_angle_{x}" for x in ("alpha", "beta", "gamma")
)
_POSITION_ITEMS = re.compile(r"^\s*_atom_site_(fract|cartn)_x\b", re.M | re.I)


@dataclass
class CifBlock:
    name: str  # the block name after ``data_``
    line: int  # 1-based line of the ``data_`` header
    text: str  # the block, text fields blanked out


class _BlockError(Exception):
    pass


def read_cif(
    path, *, occupancy: str = "error", occupancy_tolerance: float = 1.0, primitive: bool = False
) -> ReadResult:
    """Crystals of every data block; each unreadable or disordered block is a RecordError.

    occupancy_tolerance: a site whose occupancies sum to more than 1 but at most this value
        is scaled down to 1 (refinements often give 1.02); above it the block is an error.
    """
    if occupancy not in OCCUPANCY_POLICIES:
        raise UsageError(f"occupancy must be one of {', '.join(OCCUPANCY_POLICIES)}, got {occupancy!r}")
    blocks = split_blocks(read_text(path))
    if not blocks:
        raise UnigenError(f"{path}: no data_ block found (not a CIF file?)")
    records, errors = [], []
    for number, block in enumerate(blocks, start=1):
        try:
            crystal = _block_to_crystal(block, occupancy, occupancy_tolerance, primitive)
        except _BlockError as err:
            errors.append(RecordError(path, number, f"block data_{block.name} (line {block.line}): {err}"))
            continue
        crystal.meta.update(name=block.name, record=number)
        records.append(crystal)
    return ReadResult(records, errors, str(path))


def split_blocks(text: str) -> list[CifBlock]:
    """The data blocks of a CIF, with semicolon text fields replaced by ``?``.

    pymatgen splits on every line starting with ``data_``, even inside a text field;
    blanking the (descriptive) text fields first keeps such lines from starting a block.
    """
    blocks, current, in_text = [], None, False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(";"):
            in_text = not in_text
            if current is not None and in_text:
                current[2].append("?")
            continue
        if in_text:
            continue
        if line.lstrip()[:5].lower() == "data_":
            current = (line.strip()[5:], number, [line.strip()])
            blocks.append(current)
        elif current is not None:
            current[2].append(line)
    return [CifBlock(name, line, "\n".join(lines) + "\n") for name, line, lines in blocks]


def _block_to_crystal(block: CifBlock, occupancy: str, tolerance: float, primitive: bool) -> Crystal:
    _check_required_items(block.text)
    _check_before_parsing(block.text)
    structure = _parse_structure(block.text, tolerance, primitive)
    if len(structure) > limits.limit("atoms"):
        raise _BlockError(f"structure of {limits.exceeded('atoms', len(structure), 'atoms')}")
    resolved = _apply_occupancy_policy(structure, occupancy)
    from unigen.chem.convert import pymatgen_to_crystal

    try:
        crystal = pymatgen_to_crystal(structure)
    except ValueError as err:
        raise _BlockError(str(err)) from None
    if crystal.num_atoms == 0:
        raise _BlockError("no atoms")
    if resolved:
        crystal.meta["disorder_resolved"] = resolved
    return crystal


def _check_required_items(text: str) -> None:
    """Name a missing cell parameter or coordinate column (pymatgen's errors do not)."""
    for item in _REQUIRED_ITEMS:
        if not re.search(rf"^\s*{item}\s", text, re.M | re.I):
            raise _BlockError(f"missing {item}")
    if not _POSITION_ITEMS.search(text):
        raise _BlockError("no atom sites (_atom_site_fract_x or _atom_site_Cartn_x)")


def _check_before_parsing(text: str) -> None:
    """Refuse what pymatgen would take minutes over or silently get wrong, before it parses.

    Its site merging is quadratic in the atoms after symmetry (100,000 atoms in P1: hours), so
    the atom-site rows times the symmetry operations must stay within ``UNIGEN_MAX_ATOMS``;
    cell lengths must be positive and within ``UNIGEN_MAX_CELL_LENGTH``; an occupancy must be
    a number >= 0 (pymatgen drops a site of occupancy -1 or NaN: NaCl would read as a lone Cl).
    """
    if len(text) > limits.limit("record_bytes"):
        raise _BlockError(f"block of {limits.exceeded('record_bytes', len(text), 'characters')}")
    for axis in "abc":
        length = _number(_item(text, f"_cell_length_{axis}"))
        if length is None or not 0 < length <= limits.limit("cell_length"):
            raise _BlockError(
                f"_cell_length_{axis} must be a length in (0, {limits.limit('cell_length'):,}] Angstrom "
                f"(UNIGEN_MAX_CELL_LENGTH), got {_item(text, f'_cell_length_{axis}')!r}"
            )
    headers, rows = _loop_with(text, ("_atom_site_fract_x", "_atom_site_cartn_x"))
    operations = max(1, _symmetry_operations(text))
    if len(rows) * operations > limits.limit("atoms"):
        what = limits.exceeded("atoms", len(rows) * operations, "atoms")
        raise _BlockError(f"{len(rows):,} atom sites x {operations} symmetry operations: up to {what}")
    if "_atom_site_occupancy" in headers:
        column = headers.index("_atom_site_occupancy")
        for row in rows:
            value = row[column] if column < len(row) else "?"
            occupancy = _number(value)
            if value not in ("?", ".") and (occupancy is None or occupancy < 0):
                raise _BlockError(f"atom site {row[0]!r} has occupancy {value!r}; it must be a number >= 0")


_UNCERTAINTY = re.compile(r"\(\d+\)$")


def _item(text: str, name: str) -> str | None:
    found = re.search(rf"^\s*{name}\s+(\S+)", text, re.M | re.I)
    return found.group(1) if found else None


def _number(token: str | None) -> float | None:
    """A CIF number (``4.213(2)`` included) if finite, else None."""
    try:
        value = float(_UNCERTAINTY.sub("", token or ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _loop_with(text: str, wanted: tuple[str, ...]) -> tuple[list[str], list[list[str]]]:
    """Headers (lower case) and whitespace-split rows of the first loop naming one of ``wanted``."""
    lines = text.splitlines()
    for start, line in enumerate(lines):
        if line.strip().lower() != "loop_":
            continue
        headers, k = [], start + 1
        while k < len(lines) and lines[k].strip().startswith("_"):
            headers.append(lines[k].split()[0].lower())
            k += 1
        if not any(name in headers for name in wanted):
            continue
        values = []
        while k < len(lines) and not lines[k].strip().lower().startswith(("_", "loop_", "data_")):
            values.extend(lines[k].split() if not lines[k].lstrip().startswith("#") else [])
            k += 1
        width = max(1, len(headers))
        return headers, [values[i : i + width] for i in range(0, len(values), width)]
    return [], []


_SYMOP_ITEMS = ("_symmetry_equiv_pos_as_xyz", "_space_group_symop_operation_xyz")
_SPACE_GROUP_ITEMS = ("_symmetry_space_group_name_h-m", "_space_group_name_h-m_alt")


def _symmetry_operations(text: str) -> int:
    """How many symmetry operations pymatgen applies: the listed ones, else those of the group symbol."""
    _, operations = _loop_with(text, _SYMOP_ITEMS)
    if operations:
        return len(operations)
    for name in _SPACE_GROUP_ITEMS:
        symbol = re.search(rf"^\s*{re.escape(name)}\s+(['\"]?)(.+?)\1\s*$", text, re.M | re.I)
        if symbol:
            return _group_order(symbol.group(2).strip())
    return 1


@functools.lru_cache(maxsize=256)
def _group_order(symbol: str) -> int:
    from pymatgen.symmetry.groups import SpaceGroup

    try:
        return len(SpaceGroup(symbol).symmetry_ops)
    except Exception:  # an unknown symbol: pymatgen falls back to P1 or fails on its own
        return 1


def _parse_structure(text: str, tolerance: float, primitive: bool):
    from pymatgen.io.cif import CifParser

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parser = CifParser(io.StringIO(text), occupancy_tolerance=tolerance)
            return parser.parse_structures(primitive=primitive, on_error="raise")[0]
        except Exception as err:  # pymatgen raises many types on malformed CIF text
            raise _BlockError(_pymatgen_reason(err, caught)) from None


def _pymatgen_reason(err: Exception, caught) -> str:
    cause = err.__cause__ or err
    if isinstance(cause, KeyError):
        return f"missing CIF item {cause.args[0]!r}"
    reason = first_line(cause)
    if reason.startswith("No structure parsed") or reason.startswith("Invalid CIF"):
        notes = [first_line(w.message) for w in caught if "Possible issue" not in str(w.message)]
        reason = "pymatgen could not build a structure" + (f" ({notes[-1]})" if notes else "")
    if "exceeded tolerance" in reason:
        reason += "; pass occupancy_tolerance=1.05 (say) to scale such sites down to 1"
    return reason


def _apply_occupancy_policy(structure, occupancy: str) -> int:
    """Resolve (in place) or reject partially occupied sites; returns how many changed."""
    changed = 0
    for index, site in enumerate(structure):
        if site.is_ordered:
            continue
        description = _describe_site(index, site)
        if occupancy == "error":
            raise _BlockError(
                f"{description} is partially occupied; pass occupancy='majority' to keep the majority species"
            )
        structure.replace(index, _majority_species(site, description), coords=site.frac_coords)
        changed += 1
    return changed


def _majority_species(site, description: str):
    ranked = sorted(site.species.items(), key=lambda item: -item[1])
    species, fraction = ranked[0]
    tie = len(ranked) > 1 and abs(ranked[1][1] - fraction) < 1e-6
    if fraction < 0.5 - 1e-6 or tie:
        raise _BlockError(f"{description} has no majority species (needs one species with occupancy >= 0.5)")
    return species


def _describe_site(index: int, site) -> str:
    label = getattr(site, "label", None)
    where = " ".join(f"{x:.4f}" for x in site.frac_coords)
    occupancies = ", ".join(f"{sp}:{occ:g}" for sp, occ in site.species.items())
    return f"site {index}{f' ({label})' if label else ''} at {where} [{occupancies}]"


def write_cif(path, records, *, symprec: float | None = None) -> None:
    """Write crystals as one data block each (names from ``meta["name"]``, made unique)."""
    used: set[str] = set()
    write_text(
        path, (_block_text(path, k, crystal, used, symprec) for k, crystal in enumerate(records, start=1))
    )


def _block_text(path, index: int, crystal, used: set, symprec) -> str:
    from pymatgen.io.cif import CifWriter

    from unigen.chem.convert import crystal_to_pymatgen

    if not isinstance(crystal, Crystal):
        raise RecordError(path, index, f"CIF holds Crystal, got {type(crystal).__name__}")
    structure = crystal_to_pymatgen(crystal)
    name = _unique_name(str(crystal.meta.get("name") or structure.composition.reduced_formula), used)
    text = str(CifWriter(structure, symprec=symprec))
    header = "\n".join([f"data_{name}", *_meta_comments(_described(crystal.meta, crystal, structure))])
    return re.sub(r"^data_.*$", lambda _: header, text, count=1, flags=re.M).rstrip() + "\n\n"


def _described(meta: dict, crystal, structure) -> dict:
    """The meta with a formula and a space group first (computed unless the record has them)."""
    from unigen.chem.symmetry import space_group

    described = {"formula": meta.get("formula") or structure.composition.reduced_formula}
    described.update(meta if "space_group" in meta else {**space_group(crystal), **meta})
    return described


def _meta_comments(meta: dict) -> list[str]:
    """Scalar meta entries (rank, space group, validity flags, ids) as ``# key: value`` lines that
    every CIF reader skips; the name is the block name and a stored source CIF is left out."""
    scalar = (str, int, float, bool, type(None))
    return [
        f"# {key}: {value}"
        for key, value in meta.items()
        if key not in ("name", "cif") and isinstance(value, scalar) and "\n" not in str(value)
    ]


def _unique_name(name: str, used: set) -> str:
    base = re.sub(r"\s+", "_", name.strip()) or "structure"
    candidate, k = base, 1
    while candidate.lower() in used:
        k += 1
        candidate = f"{base}_{k}"
    used.add(candidate.lower())
    return candidate
