"""Every import inside unigen follows the layer rules of docs/architecture.md.

The rule table lives only in the doc; this test parses it. Top-level imports, imports inside
functions, relative imports, ``importlib.import_module("unigen....")`` and ``"unigen.mod:Name"``
registry strings all count.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "unigen"
DOC = REPO / "docs" / "architecture.md"
ROOT = "unigen"  # the unit of unigen/__init__.py (the public API)
GENERIC = ("processes", "samplers", "backbone", "heads")
DOMAIN = ("chem", "io", "data", "tokenizers", "structures", "models")

_ROW = re.compile(r"^\|\s*(\d+)[^|]*\|\s*`([\w.]+)`\s*\|([^|]*)\|")
_NAME = re.compile(r"`([\w.]+)`")
_REGISTRY_STRING = re.compile(r"^(unigen(?:\.\w+)*):\w+$")
_IMPORTERS = ("import_module", "find_spec", "__import__")


@dataclass(frozen=True)
class Rule:
    layer: int
    may_import: frozenset[str]


def parse_rules(text: str) -> dict[str, Rule]:
    """The table between the ``rules:start`` / ``rules:end`` markers: unit -> Rule."""
    block = text.split("<!-- rules:start -->")[1].split("<!-- rules:end -->")[0]
    rows = {m[2]: (int(m[1]), m[3].strip()) for m in map(_ROW.match, block.splitlines()) if m}
    rules = {}
    for unit, (layer, cell) in rows.items():
        if cell == "*":
            allowed = {u for u, (lower, _) in rows.items() if lower < layer}
        else:
            allowed = set(_NAME.findall(cell))
        rules[unit] = Rule(layer, frozenset(allowed))
    return rules


RULES = parse_rules(DOC.read_text(encoding="utf-8"))


def unit_of(module: str) -> str | None:
    """The unit owning ``module`` (longest prefix), or None if no row covers it."""
    if module == ROOT:
        return ROOT
    owners = [
        u for u in RULES if u != ROOT and (module == f"{ROOT}.{u}" or module.startswith(f"{ROOT}.{u}."))
    ]
    return max(owners, key=len, default=None)


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _module_name(file: Path) -> tuple[str, bool]:
    parts = list(file.relative_to(PACKAGE.parent).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_package else parts), is_package


def _from_target(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _string_prefix(arg) -> str | None:
    """The module named by a constant or f-string argument (``f"unigen.commands.{x}"`` -> unigen.commands)."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        return arg.values[0].value.rstrip(".") or None
    return None


def imports(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """Every ``(line, unigen module)`` that ``source`` imports, wherever the import sits."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _from_target(node, module, is_package)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.append((node.lineno, full if _is_module(full) else base))
        elif isinstance(node, ast.Call) and node.args:
            name = getattr(node.func, "attr", getattr(node.func, "id", None))
            target = _string_prefix(node.args[0]) if name in _IMPORTERS else None
            if target:
                found.append((node.lineno, target))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = _REGISTRY_STRING.match(node.value)
            if match:
                found.append((node.lineno, match[1]))
    return [(line, t) for line, t in found if t == ROOT or t.startswith(f"{ROOT}.")]


def violations() -> list[str]:
    """One line per import (or file) that breaks the rules."""
    problems = []
    for file in sorted(PACKAGE.rglob("*.py")):
        rel = file.relative_to(REPO)
        module, is_package = _module_name(file)
        unit = unit_of(module)
        if unit is None:
            problems.append(f"{rel}: module {module} belongs to no unit of docs/architecture.md")
            continue
        for line, target in imports(file.read_text(encoding="utf-8"), module, is_package):
            other = unit_of(target)
            if not _is_module(target):
                problems.append(f"{rel}:{line}: imports {target}, which does not exist (moved or removed?)")
            elif other is None:
                problems.append(
                    f"{rel}:{line}: imports {target}, which belongs to no unit of docs/architecture.md"
                )
            elif other != unit and other not in RULES[unit].may_import:
                allowed = ", ".join(sorted(RULES[unit].may_import)) or "nothing from unigen"
                problems.append(
                    f"{rel}:{line}: `{unit}` imports {target} (`{other}`); `{unit}` may import only {allowed}"
                )
    return problems


# ---------------------------------------------------------------------------------------


def test_every_import_follows_the_documented_rules():
    problems = violations()
    assert not problems, "imports that break docs/architecture.md:\n" + "\n".join(problems)


def test_generic_machinery_may_never_import_domain_code():
    for unit in GENERIC:
        assert unit in RULES, f"docs/architecture.md has no row for {unit}"
        forbidden = sorted(RULES[unit].may_import & set(DOMAIN))
        assert not forbidden, f"the rules let generic `{unit}` import {', '.join(forbidden)}"


def test_rules_name_known_units_point_down_and_allow_no_cycle():
    for unit, rule in RULES.items():
        unknown = sorted(rule.may_import - set(RULES))
        assert not unknown, f"`{unit}` may import unknown units {unknown}"
        upward = sorted(u for u in rule.may_import if RULES[u].layer > rule.layer)
        assert not upward, f"`{unit}` (layer {rule.layer}) may import higher layers: {upward}"
    state: dict[str, str] = {}

    def visit(unit, path):
        state[unit] = "open"
        for other in sorted(RULES[unit].may_import):
            assert state.get(other) != "open", f"the rules allow a cycle: {' -> '.join([*path, other])}"
            if other not in state:
                visit(other, [*path, other])
        state[unit] = "done"

    for unit in RULES:
        if unit not in state:
            visit(unit, [unit])


def test_every_subpackage_and_top_level_module_has_a_row():
    present = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    present |= {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    missing = sorted(name for name in present if unit_of(f"{ROOT}.{name}") is None)
    assert not missing, f"add rows to docs/architecture.md for {missing}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n    from unigen.chem.convert import mol_to_graph\n", "unigen.chem.convert"),
        ("from ..chem import convert\n", "unigen.chem.convert"),
        ("from .. import models\n", "unigen.models"),
        ("import importlib\nimportlib.import_module('unigen.io.cif')\n", "unigen.io.cif"),
        ("import importlib\nimportlib.import_module(f'unigen.commands.{name}')\n", "unigen.commands"),
        ("TABLE = {'x': 'unigen.tokenizers.octree:OctreeTokenizer'}\n", "unigen.tokenizers.octree"),
        ("from unigen import __version__\n", "unigen"),
    ],
)
def test_the_checker_sees_lazy_relative_and_string_imports(source, expected):
    assert expected in [target for _, target in imports(source, "unigen.samplers.pc")]


def test_a_forbidden_import_is_reported_with_file_line_and_rule(tmp_path, monkeypatch):
    fake = tmp_path / "unigen"
    for package in ("", "processes", "chem"):
        (fake / package).mkdir(parents=True, exist_ok=True)
        (fake / package / "__init__.py").write_text("")
    (fake / "chem" / "validity.py").write_text("def valid_mol(mol):\n    return True\n")
    (fake / "processes" / "sde.py").write_text("def f():\n    from unigen.chem.validity import valid_mol\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    problems = violations()
    assert problems == [
        "unigen/processes/sde.py:2: `processes` imports unigen.chem.validity (`chem`); `processes` may import only data.keys, errors"
    ]
