"""unigen: generate and score molecules, 3D molecules, crystals and graphs."""

from unigen._version import __version__
from unigen.checkpoint import load
from unigen.errors import RecordError, UnigenError, UsageError
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
    "load",
]
