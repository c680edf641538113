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
CIF stores cell lengths and angles, not the orientation of the lattice vectors: after a
round trip the lattice is pymatgen's standard orientation of the same cell. pymatgen returns
the atoms grouped by species (sorted by electronegativity), not in file order, and rounds
fractional coordinates within 1e-4 of simple fractions (1/2, 1/3, ...) to those values.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

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
    structure = _parse_structure(block.text, tolerance, primitive)
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
    header = "\n".join([f"data_{name}", *_meta_comments(crystal.meta)])
    return re.sub(r"^data_.*$", lambda _: header, text, count=1, flags=re.M).rstrip() + "\n\n"


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
