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
    if data.limit is not None:
        records = records[: data.limit]
    if not records:
        raise UsageError(f"{source} holds no records to train on")
    path = str(Path(data.path).resolve()) if data.path else None
    info = {
        "dataset": data.dataset,
        "path": path,
        "split": data.split if data.dataset else None,
        "records": len(records),
    }
    return records, info


def read_file(path: Path, skip_bad_records: bool = False) -> list:
    """Structures from a user file via ``unigen.io.read``; bad records fail unless skipped."""
    if not path.exists():
        raise UsageError(f"data file {path} does not exist")
    if path.is_dir():
        raise UsageError(f"data file {path} is a directory")
    from unigen.io import read

    result = read(path)
    if result.errors and not skip_bad_records:
        first = result.errors[0]
        more = f" (and {len(result.errors) - 1} more)" if len(result.errors) > 1 else ""
        raise UsageError(f"{first}{more}; pass --set data.skip_bad_records=true to skip bad records")
    return list(result.records)


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
