"""Read the GDSS / SPECTRE graph pickles without letting them run arbitrary code.

Those benchmark files are pickled lists / dicts of ``networkx.Graph``. A plain
``pickle.load`` would import and call whatever the file names (``os.system`` included). Here
``find_class`` admits only the classes these files were found to reference (checked by
tracing every ``find_class`` call on each file): the networkx graph class, the filter views
that ``Graph.subgraph`` leaves behind in GDSS's ENZYMES.pkl, and numpy's scalar / dtype
reconstructors for its numpy-int node ids. Anything else raises ``UnigenError``.
"""

from __future__ import annotations

import pickle
from pathlib import Path

from unigen.errors import UnigenError

ALLOWED = {
    ("builtins", "dict"),
    ("networkx.classes.graph", "Graph"),
    # subgraph views (GDSS ENZYMES.pkl keeps G.subgraph(...) views, not copies)
    ("networkx.classes.coreviews", "FilterAtlas"),
    ("networkx.classes.coreviews", "FilterAdjacency"),
    ("networkx.classes.filters", "show_nodes"),
    ("networkx.classes.filters", "no_filter"),
    ("networkx.classes.function", "frozen"),
    # numpy integer node ids / labels (numpy 1.x module name and its numpy 2 twin)
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the (module, name) pairs in ``ALLOWED``."""

    source = "<pickle>"

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED:
            raise UnigenError(
                f"{self.source}: refusing to unpickle {module}.{name}; "
                "only networkx graphs and numpy scalars are allowed in graph dataset files"
            )
        if module == "numpy.core.multiarray":  # numpy 2 renamed the module; same function
            module = "numpy._core.multiarray" if _has_numpy2_core() else module
        return super().find_class(module, name)

    def persistent_load(self, pid):
        raise UnigenError(f"{self.source}: refusing persistent id {pid!r} in a graph dataset file")


def _has_numpy2_core() -> bool:
    import importlib.util

    return importlib.util.find_spec("numpy._core") is not None


def safe_load(path) -> object:
    """Unpickle ``path`` with ``RestrictedUnpickler``; every failure is a one-line UnigenError."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            unpickler = RestrictedUnpickler(handle)
            unpickler.source = str(path)
            return unpickler.load()
    except UnigenError:
        raise
    except FileNotFoundError:
        raise UnigenError(f"missing dataset file {path}") from None
    except Exception as err:  # corrupt pickles raise many types (UnpicklingError, EOFError, ...)
        raise UnigenError(f"{path}: not a readable graph pickle ({type(err).__name__}: {err})") from None
