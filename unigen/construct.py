"""Dataclasses built from plain mappings: "the config is the constructor".

``from_dict(cls, mapping, section)`` checks every key against the dataclass fields (unknown
keys fail with the list of valid keys) and every value against the field's type hint
(``Literal`` options list their allowed values; ints widen to float; nested dataclasses
recurse; NaN, infinities and integers of 2**63 or more are refused for every field).
Recipes (``unigen.config``), checkpoint cards and a model's sampling options are all read
through it, so it sits in the bottom layer and imports only ``unigen.errors``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from typing import Any, Literal

from unigen.errors import UsageError

__all__ = ["check_keys", "coerce", "from_dict", "show"]

_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def from_dict(cls, mapping, section: str, source: str = "recipe"):
    """Build dataclass ``cls`` from ``mapping``, rejecting unknown keys and wrong types."""
    if not isinstance(mapping, dict):
        raise UsageError(f"{source}: section '{section}' must be a mapping, got {show(mapping)}")
    names = [f.name for f in dataclasses.fields(cls)]
    check_keys(mapping, names, f"section '{section}'", source)
    hints = typing.get_type_hints(cls)
    values = {k: coerce(v, hints[k], f"{section}.{k}", source) for k, v in mapping.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:  # a dataclass __post_init__ rejecting a combination
        raise UsageError(f"{source}: section '{section}': {err}") from None


def check_keys(mapping: dict, valid, section: str, source: str) -> None:
    for key in mapping:
        if key not in valid:
            raise UsageError(
                f"{source}: unknown key '{key}' in {section}; valid keys: {', '.join(sorted(valid))}"
            )


def coerce(value, hint, key: str, source: str):
    """Check ``value`` against type ``hint``; return it (ints widened to float where asked)."""
    nested = _dataclass_in(hint)
    if nested is not None and isinstance(value, dict):
        return from_dict(nested, value, key, source)
    ok, out = _match(value, hint)
    if not ok:
        raise UsageError(f"{source}: {key} must be {_type_name(hint)}, got {show(value)}")
    problem = _unbounded(out)
    if problem:
        raise UsageError(f"{source}: {key} must be {problem}")
    return out


def _unbounded(value) -> str | None:
    """What is wrong with a NaN, an infinity or an integer of 2**63 or more in ``value`` (or a list)."""
    for item in value if isinstance(value, (list, tuple)) else [value]:
        if isinstance(item, float) and not math.isfinite(item):
            return f"a finite number, got {item}"
        if isinstance(item, int) and not isinstance(item, bool) and abs(item) >= 2**63:
            return f"below 2**63 in absolute value, got {item}"
    return None


def _dataclass_in(hint):
    """``hint`` itself, or the dataclass inside ``Optional[hint]``; else None."""
    candidates = (
        typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    )
    found = [c for c in candidates if dataclasses.is_dataclass(c)]
    return found[0] if found else None


def _match(value, hint):
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True, value
    if origin is Literal:
        return value in args, value
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            ok, out = _match(value, arg)
            if ok:
                return True, out
        return False, value
    if origin in (list, tuple):
        return _match_list(value, args[0] if args else Any)
    if dataclasses.is_dataclass(hint):
        return isinstance(value, hint), value
    return _match_scalar(value, origin or hint)


def _match_list(value, item_hint):
    if not isinstance(value, (list, tuple)):
        return False, value
    results = [_match(v, item_hint) for v in value]
    return all(ok for ok, _ in results), [out for _, out in results]


def _match_scalar(value, cls):
    if value is None:
        return cls is type(None), value
    if cls is float:
        if isinstance(value, str) and _FLOAT_RE.match(value.strip()):  # YAML 1.1 reads 1e-3 as a string
            return True, float(value)
        return isinstance(value, (int, float)) and not isinstance(value, bool), float(value) if _is_number(
            value
        ) else value
    if cls is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    return isinstance(value, cls), value


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _type_name(hint) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin in (list, tuple):
        return f"a list of {_type_name(args[0])}" if args else "a list"
    if hint is type(None):
        return "null"
    return {
        int: "an integer",
        float: "a number",
        str: "a string",
        bool: "true or false",
        dict: "a mapping",
    }.get(hint, getattr(hint, "__name__", str(hint)))


def show(value) -> str:
    return f"{value!r} ({type(value).__name__})"
