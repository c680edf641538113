"""unigen: generate and score molecules, 3D molecules, crystals and graphs."""

from unigen.checkpoint import load
from unigen.errors import RecordError, UnigenError, UsageError
from unigen.structures import Crystal, Graph, MolGraph, Molecule3D

__version__ = "0.1.0"

__all__ = ["Crystal", "Graph", "MolGraph", "Molecule3D", "RecordError", "UnigenError", "UsageError", "__version__", "load"]
