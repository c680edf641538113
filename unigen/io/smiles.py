"""SMILES files: ``.smi`` (one SMILES per line) and ``.csv`` (a named SMILES column).

``.smi``: each non-blank line is ``SMILES [name]`` (whitespace separated; the rest of the line
is the name). Lines starting with ``#`` are comments. A first line whose first word is
``smiles`` (any case) is a header and skipped.

``.csv``: the SMILES column is ``column=`` or, by default, the column named ``smiles``
(any case); a column named ``name`` or ``id`` (any case) fills ``meta["name"]``, and every
column but the SMILES one goes to ``meta["props"]`` as text (property columns to train on).

Two ways to read: ``read_smiles`` returns the raw strings (scoring needs the invalid ones
too); ``read_molgraphs`` parses each into a MolGraph (``meta["smiles"]`` = the input string)
and reports each SMILES RDKit rejects as a RecordError naming its line.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from unigen import limits
from unigen.errors import RecordError, UnigenError, UsageError
from unigen.io._text import read_text, write_text
from unigen.io.result import ReadResult
from unigen.structures import MolGraph


@dataclass
class _Entry:
    record: int  # 1-based record number
    line: int  # 1-based line number in the file
    smiles: str
    name: str | None = None
    props: dict | None = None  # CSV: the other columns, as text (``meta["props"]``, as SDF data items)


def read_smiles(path, column: str | None = None, format: str | None = None) -> ReadResult:
    """Raw SMILES strings of a .smi or .csv file, invalid ones included, in file order."""
    entries, errors = _entries(path, column, format)
    return ReadResult([entry.smiles for entry in entries], errors, str(path))


def read_molgraphs(
    path,
    *,
    column: str | None = None,
    kekulize: bool = True,
    explicit_hs: bool = False,
    format: str | None = None,
) -> ReadResult:
    """MolGraphs parsed from a .smi or .csv file; each unparsable SMILES becomes a RecordError."""
    from unigen.chem.convert import smiles_to_graph

    entries, errors = _entries(path, column, format)
    records = []
    for entry in entries:
        if not entry.smiles:
            errors.append(RecordError(path, entry.record, f"line {entry.line}: empty SMILES"))
            continue
        try:
            graph = smiles_to_graph(entry.smiles, kekulize=kekulize, explicit_hs=explicit_hs)
        except ValueError as err:
            errors.append(RecordError(path, entry.record, f"line {entry.line}: {err}"))
            continue
        graph.meta.update(
            record=entry.record, line=entry.line, **({"name": entry.name} if entry.name else {})
        )
        if entry.props:
            graph.meta["props"] = entry.props
        records.append(graph)
    errors.sort(key=lambda error: error.record)
    return ReadResult(records, errors, str(path))


def _entries(path, column, format) -> tuple[list[_Entry], list[RecordError]]:
    is_csv = format == "csv" if format else bool(column) or _is_csv_path(path)
    text = read_text(path)
    entries, errors = _csv_entries(text, path, column) if is_csv else (_smi_entries(text), [])
    return _gated(entries, errors, path)


# one atom: a bracket atom, a two-letter organic-subset element, a one-letter one, a wildcard
_ATOM_TOKEN = re.compile(r"\[[^\]]*\]|Cl|Br|[BCNOPSFI]|[bcnops]|\*")


def _gated(entries: list[_Entry], errors: list[RecordError], path):
    """Move SMILES over the size limits to the errors before RDKit sees them.

    RDKit's recursive canonicaliser crashes the whole process (SIGSEGV) on a chain of
    ~20,000 atoms, so the atom tokens are counted first, with a regex, in linear time.
    """
    kept = []
    for entry in entries:
        too_long = len(entry.smiles) > limits.limit("record_bytes")
        size = len(entry.smiles) if too_long else len(_ATOM_TOKEN.findall(entry.smiles))
        if too_long or size > limits.limit("atoms"):
            what = limits.exceeded(
                *(("record_bytes", size, "characters") if too_long else ("atoms", size, "atoms"))
            )
            errors.append(RecordError(path, entry.record, f"line {entry.line}: SMILES of {what}"))
        else:
            kept.append(entry)
    return kept, errors


def _is_csv_path(path) -> bool:
    suffixes = [s.lower() for s in Path(path).suffixes]
    return ".csv" in suffixes[-2:]


def _smi_entries(text: str) -> list[_Entry]:
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.strip().split(maxsplit=1)
        if not parts or parts[0].startswith("#"):
            continue
        if not entries and parts[0].lower() == "smiles":
            continue  # header line
        entries.append(_Entry(len(entries) + 1, number, parts[0], parts[1] if len(parts) > 1 else None))
    return entries


def _csv_entries(text: str, path, column: str | None) -> tuple[list[_Entry], list[RecordError]]:
    csv.field_size_limit(limits.limit("record_bytes"))
    reader = csv.reader(io.StringIO(text))
    header = _next_row(reader, path)
    if header is None:
        raise UnigenError(f"{path}: no CSV header row")
    smiles_at = _column_index(header, column, path)
    name_at = _column_index(header, None, path, candidates=("name", "id"), required=False)
    entries, errors = [], []
    while (row := _next_row(reader, path, entries, errors)) is not None:
        _add_csv_row(row, reader.line_num, header, smiles_at, name_at, path, entries, errors)
    return entries, errors


def _next_row(reader, path, entries=(), errors=None):
    """The next CSV row (None at the end); a field over the size limit skips its row as a RecordError."""
    while True:
        line = reader.line_num
        try:
            return next(reader, None)
        except csv.Error as err:
            if "field larger than field limit" not in str(err) or errors is None or reader.line_num == line:
                raise UnigenError(f"{path}: line {reader.line_num}: not valid CSV ({err})") from None
            what = limits.exceeded("record_bytes", limits.limit("record_bytes") + 1, "characters or more")
            errors.append(
                RecordError(
                    path, len(entries) + len(errors) + 1, f"line {reader.line_num}: a field of {what}"
                )
            )


def _add_csv_row(row, line, header, smiles_at, name_at, path, entries, errors) -> None:
    if not any(cell.strip() for cell in row):
        return
    record = len(entries) + len(errors) + 1
    if len(row) <= smiles_at:
        errors.append(
            RecordError(
                path, record, f"line {line}: row has {len(row)} columns, no {header[smiles_at]!r} value"
            )
        )
        return
    name = row[name_at].strip() if name_at is not None and name_at < len(row) else None
    props = {key.strip(): cell.strip() for k, (key, cell) in enumerate(zip(header, row)) if k != smiles_at}
    entries.append(_Entry(record, line, row[smiles_at].strip(), name or None, props or None))


def _column_index(header: list[str], column, path, candidates=("smiles",), required=True) -> int | None:
    wanted = [column] if column else list(candidates)
    folded = [cell.strip().lower() for cell in header]
    for name in wanted:
        if name.lower() in folded:
            return folded.index(name.lower())
    if not required:
        return None
    what = f"column {column!r}" if column else "column named 'smiles'"
    raise UsageError(
        f"{path}: no {what}; columns are {', '.join(repr(c) for c in header)} (choose one with column=...)"
    )


def write_smiles(path, records, *, format: str | None = None) -> None:
    """Write SMILES strings or MolGraphs (as canonical SMILES) to .smi or .csv, atomically.

    A MolGraph's ``meta["name"]`` is written after its SMILES (.smi) or in a ``name`` column
    (.csv, added when any record has a name). A MolGraph that is not a valid molecule raises
    a RecordError naming its index (1-based); filter with ``unigen.chem.validity`` first
    when writing raw generator output.
    """
    is_csv = format == "csv" if format else _is_csv_path(path)
    if is_csv:  # the header depends on every record's name: read them all first
        records = list(records)
    rows = ((_smiles_of(path, k, record), _name_of(record)) for k, record in enumerate(records, start=1))
    if is_csv:
        write_text(path, _csv_chunks(rows, with_names=any(_name_of(r) for r in records)))
    else:  # streamed: a generator of records is written as it yields
        write_text(path, (f"{smiles} {name}\n" if name else f"{smiles}\n" for smiles, name in rows))


def _name_of(record) -> str | None:
    name = record.meta.get("name") if isinstance(record, MolGraph) else None
    if name is None:
        return None
    return " ".join(str(name).split()) or None  # one line, single spaces


def _csv_chunks(rows, with_names: bool):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["smiles", "name"] if with_names else ["smiles"])
    yield buffer.getvalue()
    for smiles, name in rows:
        buffer.seek(0), buffer.truncate()
        writer.writerow([smiles, name or ""] if with_names else [smiles])
        yield buffer.getvalue()


def _smiles_of(path, index: int, record) -> str:
    if isinstance(record, MolGraph):
        from unigen.chem.convert import graph_to_smiles

        try:
            return graph_to_smiles(record)
        except ValueError as err:
            raise RecordError(path, index, f"cannot write as SMILES: {err}") from None
    if not isinstance(record, str):
        raise RecordError(path, index, f"SMILES files hold strings or MolGraph, got {type(record).__name__}")
    if not record.strip() or any(ch.isspace() for ch in record.strip()):
        raise RecordError(path, index, f"not writable as one SMILES token: {record!r}")
    return record.strip()
