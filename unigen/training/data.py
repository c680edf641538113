"""Training records from a recipe's ``data:`` section, and their encoding by a family."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from unigen.config import DataConfig
from unigen.errors import UnigenError, UsageError


def load_records(data: DataConfig) -> tuple[list, dict]:
    """(records, description) for a named dataset or a user file; ``limit`` applied; the
    sources of ``data.extra`` appended in order (their descriptions under ``"extra"``)."""
    records, info = _load_one(data)
    if data.extra:
        from unigen.construct import from_dict

        more = [_load_one(from_dict(DataConfig, m, "data.extra", "recipe")) for m in data.extra]
        records = records + [r for part, _ in more for r in part]
        info = info | {"extra": [i for _, i in more], "records_total": len(records)}
    return records, info


def _load_one(data: DataConfig) -> tuple[list, dict]:
    if data.dataset is not None:
        records, source = _dataset_records(data), f"dataset {data.dataset} ({data.split})"
    else:
        records, source = read_file(Path(data.path), data.skip_bad_records), str(data.path)
    skipped = getattr(records, "skipped", [])
    if data.limit is not None:
        records = records[: data.limit]
    if not records:
        reasons = f" ({len(skipped)} unreadable: {_first_reasons(skipped)})" if skipped else ""
        raise UsageError(f"{source} holds no records to train on{reasons}")
    path = str(Path(data.path).resolve()) if data.path else None
    info = {
        "dataset": data.dataset,
        "path": path,
        "split": data.split if data.dataset else None,
        "records": len(records),
    }
    if path is not None:
        info |= file_report(records, skipped)
    return records, info


def file_report(records: list, skipped: list) -> dict:
    """What a user's file held: records skipped as unreadable (how many, the first three reasons),
    charged atoms and aromatic bonds (RDKit's perception; families read molecules kekulized and
    model charges as their docs say)."""
    from unigen.structures import MolGraph

    molecules = [r for r in records if isinstance(r, MolGraph)]
    report = {"skipped_records": len(skipped), "skipped_first": [_reason(e) for e in skipped[:3]]}
    if molecules:
        report["charged_atoms"] = int(sum(int((m.charges != 0).sum()) for m in molecules))
        report["aromatic_bonds"] = sum(_aromatic_bonds(m) for m in molecules)
    return report


def _aromatic_bonds(graph) -> int:
    from unigen.chem.convert import graph_to_mol

    try:
        return sum(bond.GetIsAromatic() for bond in graph_to_mol(graph).GetBonds())
    except ValueError:
        return 0


def print_report(info: dict) -> None:
    """The training report of a user's file on stderr (rank 0), once training is about to start
    (with the progress output: not when ``train.progress`` is off)."""
    import os
    import sys

    if info.get("path") is None or os.environ.get("RANK", "0") != "0":
        return
    if info.get("skipped_records"):
        first = "; ".join(info["skipped_first"]) + (", ..." if info["skipped_records"] > 3 else "")
        print(
            f"{info['path']}: skipped {info['skipped_records']} unreadable records ({first})", file=sys.stderr
        )
    chemistry = (
        f"; {info['charged_atoms']} charged atoms, {info['aromatic_bonds']} aromatic bonds"
        if "charged_atoms" in info
        else ""
    )
    print(f"{info['path']}: {info['records']} records to train on{chemistry}", file=sys.stderr)


def _reason(error) -> str:
    return f"record {error.record}: {error.reason}"


def _first_reasons(errors: list) -> str:
    return "; ".join(_reason(e) for e in errors[:3]) + (", ..." if len(errors) > 3 else "")


def read_file(path: Path, skip_bad_records: bool = False) -> list:
    """Structures from a user file via ``unigen.io.read``; bad records fail unless skipped."""
    if not path.exists():
        raise UsageError(f"data file {path} does not exist")
    if path.is_dir():
        raise UsageError(f"data file {path} is a directory")
    from unigen.io import read

    try:
        result = read(path)
    except UnigenError as err:  # an empty or unreadable training file is bad input: exit code 2
        raise UsageError(str(err)) from None
    if result.errors and not skip_bad_records:
        first = result.errors[0]
        more = f" (and {len(result.errors) - 1} more)" if len(result.errors) > 1 else ""
        raise UsageError(f"{first}{more}; pass --set data.skip_bad_records=true to skip bad records")
    return _Records(result.records, skipped=list(result.errors))


class _Records(list):
    """The records of a file, remembering the unreadable ones skipped (their RecordErrors)."""

    def __init__(self, records, skipped: list):
        super().__init__(records)
        self.skipped = skipped


def check_records(model_cls, records: list, source: str) -> None:
    """Refuse records of a structure type the family does not train on."""
    kinds = Counter(type(r).__name__ for r in records if not isinstance(r, model_cls.record_types))
    if kinds:
        wanted = " / ".join(t.__name__ for t in model_cls.record_types)
        found = ", ".join(f"{n} {k}" for k, n in kinds.items())
        raise UsageError(f"{source}: family '{model_cls.family}' trains on {wanted} records, found {found}")


def encode_all(model, records: list, source: str) -> list:
    """``model.encode`` every record; the first failure names the record."""
    examples = []
    for index, record in enumerate(records):
        try:
            examples.append(model.encode(record))
        except ValueError as err:
            number = getattr(record, "meta", {}).get("record", index + 1)
            raise UsageError(f"{source}: record {number}: {err}") from None
    return examples


def _dataset_records(data: DataConfig) -> list:
    try:
        from unigen.data import load_dataset
    except ImportError:
        raise UnigenError(
            "named datasets need unigen.data.load_dataset, which this installation lacks"
        ) from None
    options = dict(data.options) | ({"limit": data.limit} if data.limit is not None else {})
    return list(load_dataset(data.dataset, split=data.split, **options))
