"""Batch keys: one constant per field, unique values, each declared with its shape."""

import ast
import inspect
import re

from unigen.data import keys

_SHAPE = re.compile(r"#\s*\((?:[A-Z0-9]+(?:, )?)*,?\)\s+(bool|int64|float)\s+\S")


def _constants():
    """(name, value, line) of every ``NAME: Final[str] = "..."`` in keys.py."""
    source = inspect.getsource(keys)
    lines = source.splitlines()
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            yield node.target.id, node.value.value, lines[node.lineno - 1]


def test_every_field_has_a_shape_and_dtype_comment():
    missing = [name for name, _, line in _constants() if not _SHAPE.search(line)]
    assert not missing, f"keys without a '# (shape) dtype  meaning' comment: {missing}"


def test_one_name_per_field():
    constants = list(_constants())
    values = [value for _, value, _ in constants]
    assert len(values) == len(set(values))
    assert keys.ALL == tuple(values)


def test_the_node_mask_is_called_node_mask():
    assert keys.NODE_MASK == "node_mask"
    assert not {"mask", "atom_mask"} & set(keys.ALL)
