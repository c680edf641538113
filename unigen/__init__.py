"""unigen: generate and score molecules, 3D molecules, crystals and graphs.

The public API, one line each (the ``unigen`` command line is a thin layer over these):

    model = unigen.load("gdss-qm9")                      # a shipped model name or a checkpoint directory
    result = unigen.generate(model, 100, seed=0)         # .records (MolGraph ...), .summary (validity first)
    cells = unigen.predict_structures(unigen.load("unigenx-perov5"), [parse_formula("SrTiO3")], k=5)
    records = unigen.read("m.sdf").records               # any format: smi/txt, csv, sdf, xyz, cif, POSCAR, json
    unigen.write("out.cif", cells[0])                    # atomic: no half-written files
    unigen.draw_file("m.sdf", "grid.png")                # PNG: molecule grid, 3D molecules, cells, graphs
    unigen.draw_records(records, "grid.png")
    unigen.MolGraph, unigen.Molecule3D, unigen.Crystal, unigen.Graph    # the record types (numpy)
    unigen.UnigenError, unigen.UsageError, unigen.RecordError           # one-line user-facing errors

(``parse_formula`` is ``unigen.chem.formula.parse_formula``: a formula -> atomic numbers.)
More: ``unigen.chem.convert`` (RDKit / pymatgen / ASE / networkx conversions),
``unigen.chem.validity``, ``unigen.chem.metrics`` (``score_molecules``, ``score_crystals``,
``csp_match``, ...), ``unigen.recipes`` (shipped training recipes), ``unigen.training.train``.
``generate`` and ``predict_structures`` import torch on first use, so ``import unigen`` is quick.
"""

from unigen._version import __version__
from unigen.checkpoint import load
from unigen.draw import draw_file, draw_records
from unigen.errors import RecordError, UnigenError, UsageError
from unigen.io import read, write
from unigen.structures import Crystal, Graph, Molecule3D, MolGraph

__all__ = [
    "Crystal",
    "Graph",
    "MolGraph",
    "Molecule3D",
    "RecordError",
    "UnigenError",
    "UsageError",
    "__version__",
    "draw_file",
    "draw_records",
    "generate",
    "load",
    "predict_structures",
    "read",
    "write",
]

_LAZY = {"generate": "unigen.generation", "predict_structures": "unigen.csp"}  # they import torch


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'unigen' has no attribute {name!r}")
