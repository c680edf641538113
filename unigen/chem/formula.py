"""Chemical formulas of whole cells: ``"SrTiO3"``, ``"Ba2(CuO2)3"``, ``"C8"`` -> atomic numbers.

A formula here names the *cell content* (every atom of the cell), so counts must be whole
numbers. Errors are :class:`unigen.errors.UsageError` with one line that says what is wrong.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from unigen.errors import UsageError

_TOKEN = re.compile(r"([A-Z][a-z]?)|(\()|(\))(\d*)|(\d+)|(\s+)")
MAX_FORMULA_ATOMS = 1000


def parse_formula(text: str, max_atoms: int = MAX_FORMULA_ATOMS) -> np.ndarray:
    """(N,) int64 atomic numbers of a cell formula, elements in order of first appearance."""
    counts = formula_counts(text, max_atoms)
    return np.array([z for z, n in counts.items() for _ in range(n)], dtype=np.int64)


def formula_counts(text: str, max_atoms: int = MAX_FORMULA_ATOMS) -> dict[int, int]:
    """{Z: count} of a cell formula, in order of first appearance."""
    formula = str(text).strip()
    if not formula:
        raise UsageError("empty formula")
    stack: list[Counter] = [Counter()]
    order: list[int] = []
    last: Counter | None = None  # what a following count multiplies
    position = 0
    while position < len(formula):
        match = _TOKEN.match(formula, position)
        if match is None:
            why = (
                "counts must be whole numbers (the formula of a cell)"
                if formula[position] == "."
                else (f"unexpected {formula[position]!r}")
            )
            raise UsageError(f"malformed formula {formula!r}: {why}")
        symbol, open_, close, close_count, count, _ = match.groups()
        if symbol:
            z = _known_element(symbol, formula)
            last = Counter({z: 1})
            stack[-1].update(last)
            order.append(z)
        elif open_:
            stack.append(Counter())
            last = None
        elif close:
            if len(stack) == 1:
                raise UsageError(f"malformed formula {formula!r}: unmatched ')'")
            group = stack.pop()
            times = int(close_count) if close_count else 1
            last = Counter({z: n * times for z, n in group.items()})
            stack[-1].update(last)
        elif count:
            if last is None:
                raise UsageError(f"malformed formula {formula!r}: a count must follow an element or ')'")
            stack[-1].update({z: n * (int(count) - 1) for z, n in last.items()})
            last = None
        position = match.end()
    if len(stack) != 1:
        raise UsageError(f"malformed formula {formula!r}: unmatched '('")
    counts = {z: stack[0][z] for z in dict.fromkeys(order) if stack[0][z] > 0}
    total = sum(counts.values())
    if total == 0:
        raise UsageError(f"formula {formula!r} has no atoms")
    if total > max_atoms:
        raise UsageError(f"formula {formula!r} has {total} atoms; at most {max_atoms} are supported")
    return counts


def _known_element(symbol: str, formula: str) -> int:
    from ase.data import atomic_numbers

    z = atomic_numbers.get(symbol, 0)
    if not 1 <= z <= 118:
        raise UsageError(f"malformed formula {formula!r}: {symbol!r} is not an element")
    return z


def formula_of(atomic_numbers) -> str:
    """The cell formula in Hill-like order of first appearance: ``[38, 22, 8, 8, 8]`` -> ``"SrTiO3"``."""
    from unigen.chem.convert import element_symbol

    counts = Counter(int(z) for z in atomic_numbers)
    return "".join(f"{element_symbol(z)}{n if n > 1 else ''}" for z, n in counts.items())
