"""Presenting metric dicts: an aligned text table for people, JSON for machines."""

from __future__ import annotations

import json
import math

import numpy as np


def scalar_items(metrics: dict) -> list[tuple[str, object]]:
    """The (name, value) pairs worth a table row: numbers, strings, booleans and None."""
    return [
        (k, v) for k, v in metrics.items() if v is None or isinstance(v, (int, float, str, bool, np.number))
    ]


def format_value(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "nan" if math.isnan(value) else f"{float(value):.4f}"
    return str(value)


def format_table(metrics: dict, title: str | None = None, notes: list[str] | None = None) -> str:
    """Two aligned columns, ``metric`` and ``value``; lists and dicts are left to the JSON."""
    rows = [(name, format_value(value)) for name, value in scalar_items(metrics)]
    width = max([len("metric")] + [len(name) for name, _ in rows])
    lines = [title] if title else []
    lines.append(f"{'metric':<{width}}  value")
    lines.append(f"{'-' * width}  {'-' * max([5] + [len(v) for _, v in rows])}")
    lines += [f"{name:<{width}}  {value}" for name, value in rows]
    lines += notes or []
    return "\n".join(lines)


def to_jsonable(value):
    """numpy scalars / arrays -> Python numbers / lists; NaN and inf -> None (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(value)
    return value


def write_json(path, payload: dict) -> None:
    """Write ``payload`` as indented strict JSON, atomically (never a half-written file)."""
    from unigen.atomic import atomic_write

    with atomic_write(path) as handle:
        json.dump(to_jsonable(payload), handle, indent=2, allow_nan=False)
        handle.write("\n")
