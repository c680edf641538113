"""Chemistry: conversions (``convert``), validity checks (``validity``), bond tables (``bonds``), metrics."""

from unigen.chem.bonds import infer_bond_orders
from unigen.chem.validity import (
    compositional_validity,
    graph_validity,
    stability_3d,
    structural_validity,
    valid_mol,
)

__all__ = [
    "compositional_validity",
    "graph_validity",
    "infer_bond_orders",
    "stability_3d",
    "structural_validity",
    "valid_mol",
]
