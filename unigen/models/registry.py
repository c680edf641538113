"""Model families by name, and the small interface the training engine relies on.

A family is a ``torch.nn.Module`` subclass of :class:`FamilyModel` that registers itself::

    @register_family("gdss")
    class GDSS(FamilyModel):
        Config = GDSSConfig              # dataclass: the recipe's `model:` section
        record_types = (MolGraph, Graph) # structures it trains on
        ...

Built-in families live in ``unigen.models.<name>`` and are imported on first use, so
``get_family("pard")`` works without importing every family up front.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import ClassVar

import torch

from unigen.errors import UsageError

# family name -> module that registers it when imported
BUILTIN_FAMILIES = {
    "toy": "unigen.models.toy",
    "gdss": "unigen.models.gdss",
    "pard": "unigen.models.pard",
    "uni3dar": "unigen.models.uni3dar",
    "unigenx": "unigen.models.unigenx",
}
_REGISTRY: dict[str, type[FamilyModel]] = {}


class FamilyModel(torch.nn.Module):
    """What the engine, checkpoints and ``finetune`` need from a model family.

    Life cycle: ``state = cls.fit_state(config, records)`` (a tokenizer / vocabulary learnt from
    the training records, JSON-able), ``model = cls(config, state)``, then per step
    ``model.loss(model.collate([model.encode(r) for r in records]))``. A checkpoint stores
    ``config`` and ``card_state()`` in its card and rebuilds the model from exactly these.
    """

    family: ClassVar[str] = ""  # set by @register_family
    Config: ClassVar[type]  # the recipe's `model:` section
    record_types: ClassVar[tuple[type, ...]] = ()  # structure classes accepted by encode()
    # DistributedDataParallel must be told when some parameters get no gradient in a step
    has_unused_parameters: ClassVar[bool] = False

    def __init__(self, config, state: dict | None = None):
        super().__init__()
        self.config = config

    @classmethod
    def fit_state(cls, config, records) -> dict:
        """Tokenizer / vocabulary / normalisation state learnt from training records."""
        return {}

    def card_state(self) -> dict:
        """JSON-able state passed back to ``__init__`` when a checkpoint is loaded."""
        return {}

    def unknown_types(self, records) -> dict[str, int]:
        """Atom / node types in ``records`` this model cannot represent, with their counts."""
        return {}

    def extend_vocab(self, types: list[str]) -> None:
        """Add rows for new atom types (fine-tuning); families that cannot do this refuse."""
        raise UsageError(f"family '{self.family}' cannot extend its vocabulary")

    def encode(self, record):
        """One structure -> one training example (tensors); ValueError if it cannot."""
        raise NotImplementedError

    def collate(self, examples: list) -> dict:
        """A list of examples -> one batch (a dict of tensors)."""
        raise NotImplementedError

    def loss(self, batch: dict):
        """Scalar training loss, or ``(loss, {name: float})`` with extra values to log."""
        raise NotImplementedError

    def forward(self, batch: dict):
        # DistributedDataParallel synchronises gradients only through forward(): route it to loss().
        return self.loss(batch)


def register_family(name: str):
    """Class decorator: make ``cls`` available as family ``name``."""

    def decorate(cls):
        if not issubclass(cls, FamilyModel):
            raise TypeError(f"{cls.__name__} must subclass FamilyModel")
        cls.family = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def get_family(name: str) -> type[FamilyModel]:
    """The model class registered as ``name``; a clear error for unknown or missing ones."""
    if name not in _REGISTRY and name in BUILTIN_FAMILIES:
        try:
            importlib.import_module(BUILTIN_FAMILIES[name])
        except ModuleNotFoundError as err:
            if err.name != BUILTIN_FAMILIES[name]:
                raise
    if name not in _REGISTRY:
        raise UsageError(f"unknown model family '{name}'; available: {', '.join(list_families())}")
    return _REGISTRY[name]


def list_families() -> list[str]:
    """Registered families plus built-in ones whose module is installed."""
    installed = {name for name, module in BUILTIN_FAMILIES.items() if importlib.util.find_spec(module)}
    return sorted(installed | set(_REGISTRY))
