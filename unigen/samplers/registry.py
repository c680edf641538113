"""Samplers by name. A family's ``Sampling`` options name a sampler; the family looks it up here.

Each entry records the kind of model it drives (``"sde"``: a score function over a system of
SDEs, ``unigen.samplers.pc``; later ``"autoregressive"``, ``"block_ar"``), so a family offers
exactly the samplers of its kind and a wrong name lists the valid ones.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class SamplerEntry:
    name: str
    kind: str
    function: Callable
    fixed: dict = field(default_factory=dict)  # keyword arguments this name always passes

    def __call__(self, *args, **kwargs):
        return self.function(*args, **self.fixed, **kwargs)


_SAMPLERS: dict[str, SamplerEntry] = {}


def register_sampler(name: str, kind: str, **fixed):
    """Decorator: make ``function`` available as sampler ``name`` for models of ``kind``."""

    def decorate(function):
        _SAMPLERS[name] = SamplerEntry(name, kind, function, fixed)
        return function

    return decorate


def sampler_names(kind: str) -> tuple[str, ...]:
    """Names of the registered samplers of ``kind``, in registration order."""
    _load_builtin()
    return tuple(name for name, entry in _SAMPLERS.items() if entry.kind == kind)


def get_sampler(name: str, kind: str) -> SamplerEntry:
    """The sampler ``name`` of ``kind``; ValueError listing the valid names otherwise."""
    _load_builtin()
    entry = _SAMPLERS.get(name)
    if entry is None or entry.kind != kind:
        raise ValueError(f"unknown sampler {name!r}; valid: {', '.join(sampler_names(kind))}")
    return entry


@functools.cache
def _load_builtin() -> None:
    import unigen.samplers.block_ar  # noqa: F401  (registers block_ar)
    import unigen.samplers.octree_ar  # noqa: F401  (registers octree)
    import unigen.samplers.pc  # noqa: F401  (registers pc, euler, euler-langevin, s4)
    import unigen.samplers.slot_ar  # noqa: F401  (registers ddpm, ddim)


def thinned(progress, every: int):
    """``progress`` called on one tick in ``every`` (None stays None): a sampler run ``every``
    times over parts of a batch then reports the ticks of one run, which the bar was sized for."""
    if progress is None or every == 1:
        return progress
    calls = itertools.count(1)
    return lambda tick: progress(tick) if next(calls) % every == 0 else None
