"""Scatter kernels for the sparse attention path: sum, max and softmax over groups.

Every function reduces along dim 0 of ``src`` (shape ``(E, *)``) into ``dim_size`` groups given
by ``index`` (shape ``(E,)``, values in ``[0, dim_size)``). Empty groups give 0.

Backends:
- ``"torch"``: native ``index_add_`` / ``scatter_reduce_`` (always available);
- ``"torch_scatter"``: the optional ``torch-scatter`` package (``pip install unigen[scatter]``);
- ``"auto"``: ``torch_scatter`` when it is installed, ``torch`` otherwise.
Both backends are tested for parity (``tests/backbone/test_scatter.py``).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from typing import Literal

from torch import Tensor

ScatterBackend = Literal["auto", "torch", "torch_scatter"]
BACKENDS = ("auto", "torch", "torch_scatter")


@lru_cache(maxsize=1)
def torch_scatter_available() -> bool:
    """Whether the optional ``torch_scatter`` package can be imported."""
    return importlib.util.find_spec("torch_scatter") is not None


def resolve_backend(backend: ScatterBackend = "auto") -> str:
    """Turn ``"auto"`` into a concrete backend; reject unknown or missing ones."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown scatter backend {backend!r}; valid: {', '.join(BACKENDS)}")
    if backend == "auto":
        return "torch_scatter" if torch_scatter_available() else "torch"
    if backend == "torch_scatter" and not torch_scatter_available():
        raise ValueError(
            "scatter backend 'torch_scatter' requested but torch-scatter is not installed "
            "(pip install --no-build-isolation torch-scatter)"
        )
    return backend


def _broadcast_index(index: Tensor, src: Tensor) -> Tensor:
    """Expand ``index (E,)`` to the shape of ``src (E, *)``."""
    return index.view(-1, *([1] * (src.dim() - 1))).expand_as(src)


def scatter_sum(src: Tensor, index: Tensor, dim_size: int, backend: ScatterBackend = "auto") -> Tensor:
    """Sum ``src (E, *)`` into ``(dim_size, *)`` by ``index (E,)``."""
    if resolve_backend(backend) == "torch_scatter":
        import torch_scatter

        return torch_scatter.scatter_sum(src, index, dim=0, dim_size=dim_size)
    out = src.new_zeros((dim_size, *src.shape[1:]))
    return out.index_add_(0, index, src)


def scatter_max(src: Tensor, index: Tensor, dim_size: int, backend: ScatterBackend = "auto") -> Tensor:
    """Group-wise maximum of ``src (E, *)`` as ``(dim_size, *)``; empty groups give 0."""
    if resolve_backend(backend) == "torch_scatter":
        import torch_scatter

        return torch_scatter.scatter_max(src, index, dim=0, dim_size=dim_size)[0]
    out = src.new_zeros((dim_size, *src.shape[1:]))
    return out.scatter_reduce_(0, _broadcast_index(index, src), src, reduce="amax", include_self=False)


def scatter_softmax(src: Tensor, index: Tensor, dim_size: int, backend: ScatterBackend = "auto") -> Tensor:
    """Softmax of ``src (E, *)`` within each group of ``index (E,)``; returns ``(E, *)``.

    ``dim_size`` is the number of groups (e.g. the number of query nodes).
    """
    if resolve_backend(backend) == "torch_scatter":
        import torch_scatter

        return torch_scatter.scatter_softmax(src, index, dim=0, dim_size=dim_size)
    # The shift cancels in the ratio, so it carries no gradient.
    shift = scatter_max(src.detach(), index, dim_size, "torch")
    exp = (src - shift.index_select(0, index)).exp()
    denom = scatter_sum(exp, index, dim_size, "torch")
    return exp / denom.index_select(0, index)
