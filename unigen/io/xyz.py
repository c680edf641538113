"""XYZ and extended XYZ files, many frames per file.

A frame is an atom-count line, a comment line, then one line per atom:
``symbol x y z [more columns]`` (Cartesian, Angstrom; the symbol may be an atomic number).
Blank lines between frames are allowed.

Extended XYZ (ASE / QUIP convention): the comment line holds ``key=value`` pairs, parsed
with ASE's ``key_val_str_to_dict``. ``Properties=species:S:1:pos:R:3:...`` says which
columns hold the species and the positions; ``Lattice="ax ay az bx by bz cx cy cz"`` (rows
= lattice vectors) with ``pbc`` true in all three directions (the default when a Lattice is
given) makes the frame a ``Crystal``; without a Lattice, or with ``pbc="F F F"``, a frame is
a ``Molecule3D``. Other keys go to ``meta["info"]``; a plain comment to ``meta["comment"]``.

Each bad frame (bad atom count, a non-numeric coordinate, an unknown element, fewer or
more atom lines than the count says, a truncated last frame) is one RecordError naming the
frame number and line; reading resumes at the next line that is a lone integer.
"""

from __future__ import annotations

import functools
import math
import re

import numpy as np

from unigen import limits
from unigen.errors import RecordError
from unigen.io._text import first_line, is_digits, read_text, write_text
from unigen.io.result import ReadResult
from unigen.structures import Crystal, Molecule3D

_EXTENDED = re.compile(r"\b(Lattice|Properties)\s*=")
_PLAIN_COLUMNS = (0, 1)  # species column, first position column


class _FrameError(Exception):
    def __init__(self, line: int, reason: str):
        super().__init__(reason)
        self.line, self.reason = line, reason


def read_xyz(path) -> ReadResult:
    """All frames of an XYZ / extended XYZ file: Molecule3D, or Crystal for periodic frames."""
    lines = read_text(path).splitlines()
    records, errors = [], []
    start = _skip_blank(lines, 0)
    while start < len(lines):
        record = len(records) + len(errors) + 1
        try:
            structure, end = _parse_frame(lines, start)
        except _FrameError as err:
            errors.append(RecordError(path, record, f"line {err.line}: {err.reason}"))
            # resume after the comment line, or right after a count line that was not a count
            end = _next_count_line(lines, start + (2 if _atom_count(lines[start]) is not None else 1))
        else:
            structure.meta["record"] = record
            records.append(structure)
        start = _skip_blank(lines, end)
    return ReadResult(records, errors, str(path))


def _skip_blank(lines: list[str], k: int) -> int:
    while k < len(lines) and not lines[k].strip():
        k += 1
    return k


def _atom_count(line: str) -> int | None:
    """The atom count if ``line`` is a lone non-negative integer, else None."""
    token = line.strip()
    return int(token) if is_digits(token) else None


def _next_count_line(lines: list[str], k: int) -> int:
    while k < len(lines) and _atom_count(lines[k]) is None:
        k += 1
    return k


def _parse_frame(lines: list[str], start: int):
    """Parse the frame whose count line is ``lines[start]``; returns (structure, end index)."""
    count = _atom_count(lines[start])
    if count is None:
        raise _FrameError(start + 1, f"expected the atom count of a frame, got {lines[start].strip()[:60]!r}")
    if count > limits.limit("atoms"):
        raise _FrameError(start + 1, f"frame declares {limits.exceeded('atoms', count, 'atoms')}")
    if start + 1 >= len(lines):
        raise _FrameError(start + 1, "file ends after the atom count (truncated frame)")
    columns, info = _comment_fields(lines[start + 1], start + 2)
    body = lines[start + 2 : start + 2 + count]
    if len(body) < count:
        raise _FrameError(
            start + 2 + len(body), f"file ends after {len(body)} of {count} atom lines (truncated frame)"
        )
    numbers, positions = _parse_atoms(body, start + 3, columns, count)
    end = start + 2 + count
    following = _skip_blank(lines, end)
    if following < len(lines) and _atom_count(lines[following]) is None:
        raise _FrameError(following + 1, f"frame declares {count} atoms but more atom lines follow")
    return _structure(numbers, positions, info, start + 2), end


def _comment_fields(comment: str, line: int) -> tuple[tuple[int, int], dict]:
    """(species column, first position column) and the comment's key=value pairs."""
    if not _EXTENDED.search(comment):
        return _PLAIN_COLUMNS, ({"comment": comment.strip()} if comment.strip() else {})
    from ase.io.extxyz import key_val_str_to_dict

    try:
        info = key_val_str_to_dict(comment)
    except Exception as err:  # ASE raises several types on malformed key=value text
        raise _FrameError(line, f"cannot parse the extended XYZ comment: {first_line(err)}") from None
    return _property_columns(info.get("Properties", "species:S:1:pos:R:3"), line), info


def _property_columns(properties: str, line: int) -> tuple[int, int]:
    fields = properties.split(":")
    if len(fields) % 3:
        raise _FrameError(line, f"malformed Properties={properties!r} (expected name:type:count triples)")
    offsets, column = {}, 0
    for name, _, count in zip(fields[::3], fields[1::3], fields[2::3]):
        if not is_digits(count):
            raise _FrameError(line, f"malformed Properties={properties!r} (column count {count!r})")
        offsets[name] = column
        column += int(count)
    if "species" not in offsets or "pos" not in offsets:
        raise _FrameError(line, f"Properties={properties!r} lacks species or pos")
    return offsets["species"], offsets["pos"]


def _parse_atoms(body: list[str], first_line_no: int, columns: tuple[int, int], count: int):
    species_at, pos_at = columns
    numbers, positions = [], []
    for k, line in enumerate(body):
        tokens = line.split()
        if len(tokens) < max(species_at + 1, pos_at + 3):
            raise _FrameError(
                first_line_no + k,
                f"frame declares {count} atoms but this line is not an atom line: {line.strip()[:60]!r}",
            )
        numbers.append(_atomic_number(tokens[species_at], first_line_no + k))
        positions.append(_coordinates(tokens[pos_at : pos_at + 3], first_line_no + k))
    return np.array(numbers, np.int64), np.array(positions, np.float64).reshape(count, 3)


@functools.cache
def _symbol_table() -> dict[str, int]:
    from ase.data import atomic_numbers

    return {symbol: z for symbol, z in atomic_numbers.items() if z > 0}


def _atomic_number(token: str, line: int) -> int:
    z = int(token) if is_digits(token) else _symbol_table().get(token.capitalize(), 0)
    if not 1 <= z <= 118:
        raise _FrameError(line, f"unknown element {token!r}")
    return z


def _coordinates(tokens: list[str], line: int) -> list[float]:
    try:
        values = [float(t) for t in tokens]
    except ValueError:
        raise _FrameError(line, f"non-numeric coordinate in {' '.join(tokens)!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise _FrameError(line, f"non-finite coordinate in {' '.join(tokens)!r}")
    return values


def _structure(numbers, positions, info: dict, comment_line: int):
    lattice = info.pop("Lattice", None)
    pbc = _pbc(info.pop("pbc", lattice is not None), comment_line)
    info.pop("Properties", None)
    meta = _plain_meta(info)
    if lattice is None or not pbc.any():
        return Molecule3D(numbers, positions, meta=meta)
    if not pbc.all():
        raise _FrameError(comment_line, f"partially periodic frame (pbc={pbc.tolist()}) is not supported")
    lattice = _lattice(lattice, comment_line)
    if abs(np.linalg.det(lattice)) < 1e-8:
        raise _FrameError(comment_line, "Lattice is singular (zero volume)")
    frac = np.mod(positions @ np.linalg.inv(lattice), 1.0)
    frac[frac >= 1.0] = 0.0  # np.mod(-1e-17, 1) rounds to 1.0
    return Crystal(numbers, frac, lattice, meta=meta)


def _pbc(value, line: int) -> np.ndarray:
    pbc = np.asarray(value)
    if pbc.dtype != bool or pbc.size not in (1, 3):
        raise _FrameError(line, f"pbc must be one or three of T / F, got {np.ravel(pbc).tolist()[:6]}")
    return np.broadcast_to(pbc.ravel(), (3,))


def _lattice(value, line: int) -> np.ndarray:
    """Lattice= as rows = lattice vectors: nine finite numbers, each vector within the length limit."""
    try:
        lattice = np.asarray(value, np.float64).reshape(3, 3).T  # ASE parses Lattice= column-major
    except (ValueError, TypeError):
        raise _FrameError(line, f"Lattice must be nine numbers, got {str(value)[:60]!r}") from None
    if not np.isfinite(lattice).all():
        raise _FrameError(line, "Lattice holds a non-finite number")
    longest = float(np.linalg.norm(lattice, axis=1).max())
    if longest > limits.limit("cell_length"):
        raise _FrameError(
            line, f"Lattice vector of {limits.exceeded('cell_length', round(longest), 'Angstrom')}"
        )
    return lattice


def _plain_meta(info: dict) -> dict:
    """Comment key=values as plain Python values; ``name`` and ``comment`` go to the top."""
    info = {key: value.tolist() if hasattr(value, "tolist") else value for key, value in info.items()}
    meta = {key: str(info.pop(key)) for key in ("name", "comment") if key in info}
    if info:
        meta["info"] = info
    return meta


def write_xyz(path, records, *, extended: bool = False) -> None:
    """Write Molecule3D / Crystal frames atomically (Crystal frames always use extended XYZ).

    Coordinates are written with 10 decimals; ``meta["name"]`` (or ``meta["comment"]``)
    becomes the comment (plain) or a ``name=`` key (extended).
    """
    write_text(path, (_frame_text(path, k, record, extended) for k, record in enumerate(records, start=1)))


def write_extxyz(path, records) -> None:
    """Extended XYZ: every frame carries Properties= and pbc= (and Lattice= for crystals)."""
    write_xyz(path, records, extended=True)


def _frame_text(path, index: int, record, extended: bool) -> str:
    from ase.data import chemical_symbols

    if not isinstance(record, (Molecule3D, Crystal)):
        raise RecordError(path, index, f"XYZ holds Molecule3D or Crystal, got {type(record).__name__}")
    positions = record.cart_coords if isinstance(record, Crystal) else record.positions
    atoms = "".join(
        f"{chemical_symbols[z]:<2s} {x:16.10f} {y:16.10f} {w:16.10f}\n"
        for z, (x, y, w) in zip(record.atomic_numbers.tolist(), positions.tolist())
    )
    return f"{record.num_atoms}\n{_comment(record, extended)}\n{atoms}"


def _comment(record, extended: bool) -> str:
    name = " ".join(str(record.meta.get("name", record.meta.get("comment", ""))).split())
    if not extended and not isinstance(record, Crystal):
        return name
    fields = []
    if isinstance(record, Crystal):
        fields.append('Lattice="' + " ".join(f"{v:.10f}" for v in record.lattice.ravel().tolist()) + '"')
    fields.append("Properties=species:S:1:pos:R:3")
    fields.append('pbc="T T T"' if isinstance(record, Crystal) else 'pbc="F F F"')
    if name:
        fields.append('name="' + name.replace('"', "'") + '"')
    return " ".join(fields)
