"""SDF (MDL SD) files: records separated by ``$$$$`` lines, each a molblock plus data items.

unigen splits the file into records itself and hands each molblock to RDKit, so a record
RDKit rejects (bad valence, malformed atom line, missing ``M  END`` in a truncated file) is
one RecordError naming the record number, its first line and RDKit's reason; the other
records are still read.

kind="molgraph" (default): a MolGraph of the heavy atoms (Kekulé bonds);
    ``meta["smiles"]`` is RDKit's SMILES of the record (an SDF has no input string).
kind="molecule3d": a Molecule3D with every atom of the molblock (hydrogens included) and
    its coordinates (written with 4 decimals, the format's precision).
The molblock title goes to ``meta["name"]`` and the ``> <key>`` data items to ``meta["props"]``.

Writing: a MolGraph gets 2D coordinates (RDKit Compute2DCoords) so the file is drawable; a
Molecule3D keeps its coordinates, with bonds inferred from distances (``bonds="edm"``,
``unigen.chem.bonds``), by RDKit (``"rdkit"``) or none (``"none"``). Every record carries data
items: ``smiles``, ``index``, its boolean flags (``valid``, ``valid_wo_correction``) as 1 / 0,
and the items it was read with (``meta["props"]``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from unigen.errors import RecordError, UsageError
from unigen.io._text import first_line, read_text, write_text
from unigen.io.result import ReadResult
from unigen.structures import Molecule3D, MolGraph

KINDS = ("molgraph", "molecule3d")
BOND_MODES = ("edm", "rdkit", "none")
_RDKIT_NOISE = re.compile(r"^(\*+|-+|\d+#.*|Stacktrace:|.*Violation.*|Failed Expression:.*)$")


@dataclass
class _SdfRecord:
    line: int  # 1-based line of the record's first (title) line
    molblock: str
    props: dict = field(default_factory=dict)


class _RecordFailure(Exception):
    pass


def read_sdf(path, *, kind: str = "molgraph", sanitize: bool = True) -> ReadResult:
    """Every record of an SDF as a MolGraph (or Molecule3D); bad records become RecordErrors."""
    if kind not in KINDS:
        raise UsageError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    records, errors = [], []
    for number, record in enumerate(split_records(read_text(path)), start=1):
        try:
            structure = _convert(_to_rdkit(record, sanitize), kind, sanitize)
        except _RecordFailure as err:
            errors.append(RecordError(path, number, f"line {record.line}: {err}"))
            continue
        title = record.molblock.split("\n", 1)[0].strip()
        structure.meta.update(
            record=number,
            **({"name": title} if title else {}),
            **({"props": record.props} if record.props else {}),
        )
        records.append(structure)
    return ReadResult(records, errors, str(path))


def has_3d_coordinates(path) -> bool:
    """Whether the first readable record of an SDF holds 3D coordinates (RDKit's ``Is3D``:
    the header's 3D flag or any non-zero z), so ``unigen score`` can treat the file as 3D."""
    from rdkit import Chem, rdBase

    for record in split_records(read_text(path)):
        with rdBase.BlockLogs():
            mol = Chem.MolFromMolBlock(record.molblock, sanitize=False, removeHs=False)
        if mol is not None and mol.GetNumConformers():
            return mol.GetConformer().Is3D()
    return False


def split_records(text: str) -> list[_SdfRecord]:
    """Cut an SDF into records at ``$$$$`` lines; a trailing record without one is kept."""
    records, lines, start = [], [], 1
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() == "$$$$":
            records.append(_make_record(lines, start))
            lines, start = [], number + 1
        else:
            lines.append(line)
    if any(line.strip() for line in lines):
        records.append(_make_record(lines, start))
    return records


def _make_record(lines: list[str], start: int) -> _SdfRecord:
    """Separate the molblock (through ``M  END``) from the ``> <key>`` data items."""
    # search after the 3 header lines, so a title that reads "M  END" is not taken for the end
    end = next((k for k, line in enumerate(lines[3:], start=3) if line.strip().startswith("M  END")), None)
    if end is None:
        return _SdfRecord(start, "\n".join(lines))  # no M  END: RDKit will reject it
    return _SdfRecord(start, "\n".join(lines[: end + 1]) + "\n", _data_items(lines[end + 1 :]))


def _data_items(lines: list[str]) -> dict:
    props, key, values = {}, None, []
    for line in lines + [""]:
        if line.startswith(">") and "<" in line and ">" in line[1:]:
            key, values = line[line.index("<") + 1 : line.rindex(">")], []
        elif key is not None and not line.strip():
            props[key], key = "\n".join(values), None
        elif key is not None:
            values.append(line)
    return props


def _to_rdkit(record: _SdfRecord, sanitize: bool):
    from rdkit import Chem, rdBase

    if "M  END" not in record.molblock:
        raise _RecordFailure("record has no 'M  END' line (truncated or not a molblock)")
    with rdBase.BlockLogs(), rdBase.CaptureErrorLog() as log:  # capture, and print nothing
        mol = Chem.MolFromMolBlock(record.molblock, sanitize=sanitize, removeHs=False)
    if mol is None:
        raise _RecordFailure(f"RDKit cannot read this record: {_last_rdkit_message(log.messages)}")
    return mol


def _last_rdkit_message(messages: str) -> str:
    """RDKit's last informative log line, without time stamp, banner or C++ stack trace."""
    lines = [re.sub(r"^\[[0-9:]+\]\s*", "", line).strip() for line in messages.splitlines()]
    lines = [line for line in lines if line and not _RDKIT_NOISE.match(line)]
    return lines[-1] if lines else "unknown reason"


def _convert(mol, kind: str, sanitize: bool):
    from rdkit import Chem, rdBase

    from unigen.chem.convert import mol_to_graph, rdkit_to_mol3d

    with rdBase.BlockLogs():
        try:
            if kind == "molecule3d":
                return rdkit_to_mol3d(mol)
            # remove H atoms with sanitisation so aromatic rings keep their H counts
            heavy = Chem.RemoveHs(mol, sanitize=sanitize)
            graph = mol_to_graph(heavy, kekulize=True)
        except (ValueError, RuntimeError) as err:
            raise _RecordFailure(first_line(err)) from None
    graph.meta["smiles"] = Chem.MolToSmiles(heavy)
    return graph


def write_sdf(path, records, *, bonds: str = "edm") -> None:
    """Write MolGraphs (2D layout) and Molecule3Ds (their coordinates) as one SDF, atomically.

    A MolGraph that RDKit cannot sanitise raises a RecordError naming its index (1-based).
    """
    if bonds not in BOND_MODES:
        raise UsageError(f"bonds must be one of {', '.join(BOND_MODES)}, got {bonds!r}")
    write_text(path, (_record_text(path, k, record, bonds) for k, record in enumerate(records, start=1)))


def _record_text(path, index: int, record, bonds: str) -> str:
    from rdkit import Chem

    mol = _writable_mol(path, index, record, bonds)
    name = " ".join(str(record.meta.get("name", "")).split())
    mol.SetProp("_Name", name)
    block = Chem.MolToMolBlock(mol, kekulize=isinstance(record, MolGraph))
    return block + _data_block(_properties(index, record, mol)) + "$$$$\n"


def _properties(index: int, record, mol) -> dict:
    """The data items a record carries: SMILES, its index, its flags and any items it was read with.

    ``index`` is ``meta["index"]`` (a generated sample's number) or the 1-based position in
    the file; boolean meta entries (``valid``, ``valid_wo_correction``, ...) are written 1 / 0.
    """
    from rdkit import Chem

    props = {"smiles": record.meta.get("smiles") or _smiles_or_empty(Chem, mol)}
    props["index"] = record.meta.get("index", index)
    props.update({key: int(value) for key, value in record.meta.items() if isinstance(value, bool)})
    props.update(record.meta.get("props") or {})
    return props


def _smiles_or_empty(Chem, mol) -> str:
    try:
        return Chem.MolToSmiles(Chem.RemoveHs(mol, sanitize=False))
    except (ValueError, RuntimeError):
        return ""


def _data_block(props: dict) -> str:
    """``> <key>`` data items; a value's blank lines would end the item, so they are dropped."""
    items = []
    for key, value in props.items():
        lines = [line for line in str(value).splitlines() if line.strip()]
        items.append(f"> <{key}>\n" + "".join(f"{line}\n" for line in lines) + "\n")
    return "".join(items)


def _writable_mol(path, index: int, record, bonds: str):
    from rdkit.Chem import AllChem

    from unigen.chem.convert import graph_to_mol, mol3d_to_rdkit

    if isinstance(record, MolGraph):
        try:
            mol = graph_to_mol(record)
        except ValueError as err:
            raise RecordError(path, index, f"cannot write as SDF: {err}") from None
        AllChem.Compute2DCoords(mol)
        return mol
    if isinstance(record, Molecule3D):
        try:
            mol = mol3d_to_rdkit(record, bonds=bonds)
        except (ValueError, RuntimeError) as err:  # RDKit's bond perception can fail
            raise RecordError(path, index, f"cannot infer bonds ({bonds}): {first_line(err)}") from None
        mol.UpdatePropertyCache(strict=False)
        return mol
    raise RecordError(path, index, f"SDF holds MolGraph or Molecule3D, got {type(record).__name__}")
