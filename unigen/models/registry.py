"""Model families by name, and the contract every family implements.

A family is a ``torch.nn.Module`` subclass of :class:`FamilyModel` that registers itself::

    @register_family("gdss")
    class GDSS(FamilyModel):
        Config = GDSSConfig              # dataclass: the recipe's `model:` section
        Sampling = GDSSSampling          # dataclass: sampling options, defaults and ranges
        record_types = (MolGraph, Graph) # structures it trains on
        def loss(self, batch): ...
        def sample(self, n, *, generator, options, conditions=None, progress=None): ...  # -> raw
        def decode(self, raw): ...       # -> list of records of type ``self.record_type``

Nothing above a family knows which family it holds: ``unigen.generation.generate`` validates the
options (``sampling_options``), sizes progress from ``num_sampling_steps``, calls ``sample`` and
``decode`` and hands the records to ``unigen.chem.summary``. The family's whole sampling loop
sits in its sampler (``unigen.samplers``), one short function.

Built-in families live in ``unigen.models.<name>`` and are imported on first use, so
``get_family("pard")`` works without importing every family up front.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import ClassVar

import numpy as np
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
    Sampling: ClassVar[type | None] = None  # sampling options dataclass; None: the family cannot generate
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

    def refit_sizes(self, records) -> None:
        """Fine-tuning: refit the size statistics (node counts, ...) on ``records`` and grow the
        largest size where the family can; a family without size statistics keeps its own."""

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

    # -- generation --------------------------------------------------------------------

    @property
    def record_type(self) -> type | None:
        """The structure class ``decode`` returns (None: this model does not generate)."""
        return None

    def sampling_options(self, **overrides):
        """The model's ``Sampling`` options (the card's ``sampling`` section, else the defaults) with
        ``overrides`` (None values ignored); unknown keys and out-of-range values are UsageErrors."""
        self.refuse_generation()
        from dataclasses import asdict

        from unigen.construct import from_dict

        defaults = getattr(self.config, "sampling", None) or self.Sampling()
        values = {**asdict(defaults), **{k: v for k, v in overrides.items() if v is not None}}
        return from_dict(self.Sampling, values, "sampling", source="sampling options")

    def num_sampling_steps(self, options) -> int:
        """How many steps ``sample`` reports to ``progress`` for one batch with ``options``."""
        raise NotImplementedError

    def sample(self, n: int, *, generator: torch.Generator, options, conditions=None, progress=None):
        """Draw ``n`` raw samples (tensors); ``progress(step)`` is called after each step."""
        self.refuse_generation()
        raise NotImplementedError

    def decode(self, raw) -> list:
        """Raw samples -> a list of ``self.record_type`` records."""
        raise NotImplementedError

    def refuse_generation(self) -> None:
        if self.Sampling is None or self.record_type is None:
            raise UsageError(
                f"family '{self.family}' does not generate structures (it has no sampler); generating families: "
                f"{', '.join(generating_families())}"
            )

    def sampling_condition(self, n: int, conditions, generator, device) -> torch.Tensor | None:
        """(n, 2k) target property conditions of a conditioned model (all "not given" without
        targets: its unconditional mode); None for an unconditional model, which refuses targets."""
        fitted = getattr(self, "state", {}).get("conditions")
        if not fitted:
            self.refuse_conditions(conditions)
            return None
        from unigen.conditioning import target_condition

        return target_condition(fitted, conditions or {}, n, generator, device)

    @staticmethod
    def condition_state(config, records) -> dict:
        """``{"conditions": names with training ranges}`` for a config with ``conditions``, else ``{}``:
        what ``fit_state`` adds for a conditioned model (``unigen.conditioning.fit_conditions``)."""
        names = getattr(config, "conditions", None)
        if not names:
            return {}
        from unigen.conditioning import fit_conditions

        return {"conditions": fit_conditions(names, records)}

    def example_condition(self, record) -> dict:
        """``{COND: (k,) standardised property values}`` for one training record of a conditioned
        model, ``{}`` for an unconditional one: what ``encode`` adds to its example."""
        fitted = getattr(self, "state", {}).get("conditions")
        if not fitted:
            return {}
        from unigen.conditioning import standardised
        from unigen.data.keys import COND

        return {COND: standardised(record, fitted)}

    @staticmethod
    def collated_condition(examples: list[dict]) -> dict:
        """``{COND: (B, k)}`` stacked from examples that carry one (``example_condition``), else ``{}``:
        what ``collate`` adds to its batch."""
        from unigen.data.keys import COND

        return {COND: torch.stack([e[COND] for e in examples])} if COND in examples[0] else {}

    def training_condition(self, batch: dict, dtype=torch.float32) -> torch.Tensor | None:
        """(B, 2k) property conditions with condition dropout (``config.condition_dropout``), or
        None for an unconditional model."""
        if not getattr(self, "state", {}).get("conditions"):
            return None
        from unigen.conditioning import training_condition
        from unigen.data.keys import COND

        if COND not in batch:
            raise ValueError(
                f"this {self.family} model is conditioned: batches need their property values (cond)"
            )
        return training_condition(batch[COND].to(dtype), self.config.condition_dropout)

    def refuse_conditions(self, conditions) -> None:
        """For unconditional models: conditions given are an error, never silently ignored."""
        if conditions:
            raise UsageError(
                f"this '{self.family}' model is unconditional; it cannot take conditions {sorted(conditions)}"
            )

    # -- novelty against the training set ---------------------------------------------

    def register_train_hashes(self, state: dict) -> None:
        """Keep the training set's SMILES hashes (``state.pop("train_hashes")`` when fitted, or an empty
        buffer of ``num_train_hashes`` to be filled from the weights) as a buffer, not card state."""
        hashes = state.pop("train_hashes", None)
        size = len(hashes) if hashes is not None else int(state.get("num_train_hashes", 0))
        self.register_buffer("train_hashes", torch.zeros(size, dtype=torch.int64))
        if hashes is not None:
            self.train_hashes.copy_(torch.tensor(hashes, dtype=torch.int64))

    # -- checkpoints written by older versions -----------------------------------------

    @classmethod
    def upgrade_model_args(cls, args: dict) -> dict:
        """A card's ``model_args`` in an older layout -> today's (default: unchanged)."""
        return args

    @classmethod
    def upgrade_weights(cls, tensors: dict) -> dict:
        """Weights in an older layout -> today's state-dict names and shapes (default: unchanged)."""
        return tensors


def molecule_vocabulary(records) -> dict:
    """The state a molecule family fits from its training records: sorted atom types (Z) and the
    SMILES hashes for novelty (``train_hashes``, moved into a buffer by ``register_train_hashes``)."""
    from unigen.chem.summary import training_hashes

    return {
        "atom_types": sorted({int(z) for r in records for z in r.atomic_numbers}),
        "train_hashes": training_hashes(records),
    }


def unknown_elements(records, known) -> dict[str, int]:
    """Element symbols of ``records`` (anything with ``atomic_numbers``) outside ``known`` (Z values),
    with their atom counts: the shared body of ``FamilyModel.unknown_types`` for atom-typed families."""
    from collections import Counter

    from unigen.chem.convert import element_symbol

    known = {int(z) for z in known}
    counts = Counter(int(z) for r in records for z in r.atomic_numbers if int(z) not in known)
    return {element_symbol(z): n for z, n in sorted(counts.items())}


def per_sample_compositions(conditions, n: int, family: str) -> list:
    """``{"composition": Z}`` (one cell's atomic numbers, shared by all ``n``) or ``{"composition":
    [Z_1, ..., Z_n]}`` -> ``n`` compositions; UsageError on any other condition or count."""
    unknown = set(conditions) - {"composition"}
    if unknown:
        raise UsageError(f"{family} takes the condition 'composition' only, got {sorted(unknown)}")
    given = conditions["composition"]
    if len(given) and np.ndim(given[0]) == 0:  # one composition for all n
        given = [given] * n
    if len(given) != n:
        raise UsageError(f"{len(given)} compositions for {n} samples")
    return [np.asarray(z, dtype=np.int64) for z in given]


def check_known_elements(atomic_numbers, known) -> None:
    """UsageError naming the elements of one composition that a model (knowing ``known`` Z) never saw."""
    unknown = sorted(set(np.asarray(atomic_numbers).tolist()) - {int(z) for z in known})
    if unknown:
        from unigen.chem.convert import element_symbol

        raise UsageError(
            f"this model was trained without element(s) {', '.join(element_symbol(u) for u in unknown)}; "
            f"it knows {len(known)} elements (see its card)"
        )


def split_loss(out) -> tuple[torch.Tensor, dict]:
    """What ``loss`` returned -> ``(scalar loss, {name: float})`` (see ``FamilyModel.loss``)."""
    if isinstance(out, tuple):
        loss, extras = out
        return loss, {k: float(v) for k, v in extras.items()}
    return out, {}


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


def generating_families() -> list[str]:
    """Installed families that can generate (their class declares ``Sampling``)."""
    names = []
    for name in list_families():
        try:
            if get_family(name).Sampling is not None:
                names.append(name)
        except UsageError:
            continue
    return names


def list_families() -> list[str]:
    """Registered families plus built-in ones whose module is installed."""
    installed = {name for name, module in BUILTIN_FAMILIES.items() if importlib.util.find_spec(module)}
    return sorted(installed | set(_REGISTRY))
