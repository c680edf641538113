"""Properties to condition on, and classifier-free guidance: the one owner for every family.

A conditioned model is trained with ``model.conditions: [qed, logp]``. Each name is a column of
the user's file (a CSV column or an SDF data item: ``meta["props"]``), a numeric column a dataset
keeps beside its structures (Perov-5's ``heat_ref``, ``dir_gap``) or, failing that, an RDKit
descriptor computed from the molecule (:data:`DESCRIPTORS`). ``fit_conditions`` stores the names
with their training statistics (range, mean, std) in the model's state, so the card says what
the model was trained on and a target outside the range warns.

The condition vector a network sees is ``(B, 2k)`` for k properties: the standardised values,
each multiplied by its "given" flag, followed by the k flags. Training drops conditions
(:func:`training_condition`): a whole row with probability p (the unconditional model), and each
property alone with probability p (so any subset can be asked for). At sampling the properties
not asked for are "not given"; an all-zero vector is the unconditional model.

Classifier-free guidance (:func:`guided`) combines the two predictions as
``uncond + w * (cond - uncond)``: w = 1 is the plain conditional model, w > 1 pushes harder
towards the target, w = 0 ignores it. Families call it on logits or scores from their network.

Targets (``unigen generate --condition``): ``qed=0.8`` (a value) or ``logp=2..3`` (each sample
draws its target uniformly inside the range); sizes (``--num-atoms``): ``12`` or ``15..25``.
"""

from __future__ import annotations

import sys
from typing import Callable

import numpy as np
import torch

from unigen.errors import UsageError
from unigen.structures import MolGraph

DESCRIPTORS = ("qed", "logp", "mw", "tpsa", "sa")


# -- property values of records ------------------------------------------------------------


def parse_names(text) -> list[str]:
    """``"qed,logp"`` (or a list) -> ``["qed", "logp"]``; empty or repeated names are refused."""
    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else [str(n) for n in text]
    if not names or not all(names):
        raise UsageError(f"--condition: expected comma-separated property names, got {text!r}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UsageError(f"--condition: property {', '.join(repeated)} is named more than once")
    return names


def record_value(record, name: str) -> float:
    """The value of property ``name`` for one record: its file column, else an RDKit descriptor.

    ValueError when neither exists or the value is not a finite number (the caller names the record).
    """
    props = {str(k).strip().lower(): v for k, v in _columns(record.meta).items()}
    if name.lower() in props:
        try:
            value = float(props[name.lower()])
        except (TypeError, ValueError):
            raise ValueError(f"property {name!r} is {props[name.lower()]!r}, not a number") from None
    elif name.lower() in DESCRIPTORS:
        value = descriptor(name.lower(), record)
    else:
        columns = ", ".join(repr(k) for k in props) or "none"
        raise ValueError(
            f"no property {name!r}: not a column of the file (columns: {columns}) "
            f"nor an RDKit descriptor ({', '.join(DESCRIPTORS)})"
        )
    if not np.isfinite(value):
        raise ValueError(f"property {name!r} is {value}, not a finite number")
    return value


def _columns(meta: dict) -> dict:
    """A record's property columns: file columns (``meta["props"]``: CSV, SDF data items) and the
    numeric columns a dataset keeps beside the structure (Perov-5's ``heat_ref``, ``dir_gap``)."""
    numeric = {
        k: v
        for k, v in meta.items()
        if k not in _BOOKKEEPING and isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
    }
    return {**numeric, **(meta.get("props") or {})}


_BOOKKEEPING = ("record", "index", "material_id")  # numbers in meta that are not properties


def descriptor(name: str, record) -> float:
    """RDKit's ``qed``, ``logp`` (Crippen), ``mw``, ``tpsa`` or ``sa`` (Ertl's SA score) of a MolGraph."""
    if not isinstance(record, MolGraph):
        raise ValueError(f"descriptor {name!r} needs a molecule, got a {type(record).__name__}")
    from unigen.chem.convert import graph_to_mol

    mol = graph_to_mol(record)
    return float(_descriptor_functions()[name](mol))


def _descriptor_functions() -> dict[str, Callable]:
    from rdkit.Chem import QED, Crippen, Descriptors, rdMolDescriptors

    return {
        "qed": QED.qed,
        "logp": Crippen.MolLogP,
        "mw": Descriptors.MolWt,
        "tpsa": rdMolDescriptors.CalcTPSA,
        "sa": lambda mol: _sa_scorer().calculateScore(mol),
    }


def _sa_scorer():
    """RDKit's Contrib SA_Score module (shipped with the rdkit wheels); a clear error without it."""
    try:
        from rdkit.Contrib.SA_Score import sascorer
    except ImportError:
        import os

        from rdkit import RDConfig

        sys.path.append(os.path.join(RDConfig.RDContribDir, "SA_Score"))
        try:
            import sascorer
        except ImportError:
            raise UsageError(
                "descriptor 'sa' needs RDKit's Contrib SA_Score (sascorer), which this RDKit lacks"
            ) from None
    return sascorer


def property_table(records, names: list[str], source: str) -> np.ndarray:
    """(n, k) float64 values of ``names`` for every record; the first record lacking one is a UsageError."""
    table = np.zeros((len(records), len(names)))
    for i, record in enumerate(records):
        for j, name in enumerate(names):
            try:
                table[i, j] = record_value(record, name)
            except ValueError as err:
                number = record.meta.get("record", i + 1)
                raise UsageError(f"{source}: record {number}: {err}") from None
    return table


def fit_conditions(names: list[str], records, source: str = "training data") -> dict:
    """The state a conditioned model keeps: names with their training min, max, mean and std."""
    table = property_table(records, names, source)
    return {
        "names": list(names),
        "low": table.min(0).tolist(),
        "high": table.max(0).tolist(),
        "mean": table.mean(0).tolist(),
        "std": np.maximum(table.std(0), 1e-6).tolist(),
    }


def check_guidance(weight: float) -> None:
    """The range every family's ``sampling.guidance`` option accepts (ValueError otherwise)."""
    if not 0 <= weight <= 50:
        raise ValueError(f"guidance must be in 0..50, got {weight}")


def check_condition_dropout(p: float) -> None:
    """The range every family's ``model.condition_dropout`` accepts (ValueError otherwise)."""
    if not 0 <= p < 1:
        raise ValueError(f"condition_dropout must be in [0, 1), got {p}")


def condition_dim(state: dict | None) -> int:
    """Width of the condition vector for a fitted state (0: unconditional)."""
    return 2 * len(state["names"]) if state else 0


def standardised(record, state: dict) -> torch.Tensor:
    """(k,) float32: one record's property values, standardised with the training statistics."""
    values = [record_value(record, name) for name in state["names"]]
    return _standardise(torch.tensor(values, dtype=torch.float64), state).float()


def _standardise(values: torch.Tensor, state: dict) -> torch.Tensor:
    mean = torch.tensor(state["mean"], dtype=values.dtype, device=values.device)
    std = torch.tensor(state["std"], dtype=values.dtype, device=values.device)
    return (values - mean) / std


# -- the condition vector in training and sampling -------------------------------------------


def training_condition(values: torch.Tensor, dropout: float) -> torch.Tensor:
    """(B, k) standardised values -> (B, 2k) with condition dropout (a row, and each property, w.p. p)."""
    rows = torch.rand(values.shape[0], 1, device=values.device) >= dropout
    given = (torch.rand(values.shape, device=values.device) >= dropout) & rows
    return with_flags(values, given)


def with_flags(values: torch.Tensor, given: torch.Tensor) -> torch.Tensor:
    """(B, k) values and (B, k) bool "given" flags -> (B, 2k) [values * given, given]."""
    flags = given.to(values.dtype)
    return torch.cat([values * flags, flags], -1)


def target_condition(state: dict, targets: dict, n: int, generator=None, device=None) -> torch.Tensor:
    """(n, 2k) condition vectors for ``targets`` ({name: value or (low, high)}); a range draws each
    sample's target uniformly inside it. Unknown names are a UsageError; targets outside the
    training range warn on stderr."""
    names = state["names"]
    unknown = sorted(set(targets) - set(names))
    if unknown:
        raise UsageError(
            f"this model is conditioned on {', '.join(names)}; it cannot take {', '.join(unknown)}"
        )
    values = torch.zeros(n, len(names), dtype=torch.float64)
    given = torch.zeros(n, len(names), dtype=torch.bool)
    for j, name in enumerate(names):
        if name not in targets:
            continue
        low, high = as_range(targets[name], name)
        _warn_outside(name, low, high, state["low"][j], state["high"][j])
        u = torch.rand(n, generator=generator, dtype=torch.float64, device=_device_of(generator))
        values[:, j], given[:, j] = low + (high - low) * u.cpu(), True
    return with_flags(_standardise(values, state), given).float().to(device)


def _device_of(generator) -> str:
    return generator.device if generator is not None else "cpu"


_WARNED: set[str] = set()  # each warning once per process, not once per sampled batch


def _warn_outside(name: str, low: float, high: float, train_low: float, train_high: float) -> None:
    message = (
        f"warning: target {name}={_shown(low, high)} lies outside the training range "
        f"{train_low:.3g}..{train_high:.3g}; expect the model to miss it"
    )
    if (low < train_low or high > train_high) and message not in _WARNED:
        _WARNED.add(message)
        print(message, file=sys.stderr)


def _shown(low: float, high: float) -> str:
    return f"{low:g}" if low == high else f"{low:g}..{high:g}"


def guided(forward: Callable, cond: torch.Tensor | None, weight: float):
    """Classifier-free guidance: ``uncond + weight * (cond - uncond)`` of ``forward(cond)``, which
    returns a tensor or a tuple of tensors. No condition, or weight 1, is one plain call."""
    if cond is None or weight == 1.0:
        return forward(cond)
    conditional, unconditional = forward(cond), forward(torch.zeros_like(cond))
    if isinstance(conditional, torch.Tensor):
        return mix_guided(conditional, unconditional, weight)
    return tuple(mix_guided(c, u, weight) for c, u in zip(conditional, unconditional))


def doubled(cond: torch.Tensor) -> torch.Tensor:
    """(n, 2k) -> (2n, 2k): the conditional rows, then the same rows unconditional (all not given),
    for families that guide by running both halves in one batch (``side_by_side``, ``mix_guided``)."""
    return torch.cat([cond, torch.zeros_like(cond)])


def side_by_side(h: torch.Tensor) -> torch.Tensor:
    """(2n, d) states of a ``doubled`` batch -> (n, 2d): each row's conditional and unconditional
    halves next to each other, so a sampler that knows nothing of guidance still sees n rows."""
    return torch.cat(h.chunk(2), dim=-1)


def mix_guided(conditional: torch.Tensor, unconditional: torch.Tensor, weight: float) -> torch.Tensor:
    """``unconditional + weight * (conditional - unconditional)`` (for families that run both
    halves in one doubled batch instead of through :func:`guided`)."""
    # equal entries stay as they are: -inf logits (sizes never seen) would give -inf - -inf = NaN
    mixed = unconditional + weight * (conditional - unconditional)
    return torch.where(conditional == unconditional, conditional, mixed)


# -- parsing targets and sizes ----------------------------------------------------------------


def parse_targets(items) -> dict[str, tuple[float, float]]:
    """``["qed=0.8", "logp=2..3"]`` (each item may hold several, comma-separated) -> {name: (low, high)}."""
    targets = {}
    for item in (part for text in items for part in text.split(",") if part.strip()):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--condition: expected NAME=VALUE or NAME=LOW..HIGH, got {item!r}")
        if name in targets:
            raise UsageError(f"--condition: property {name!r} is given more than once")
        targets[name] = parse_range(value, f"--condition {name}", float)
    return targets


def parse_range(text, what: str, kind=float) -> tuple:
    """``"0.8"`` -> (0.8, 0.8); ``"2..3"`` -> (2.0, 3.0); ``kind=int`` for sizes. UsageError otherwise."""
    low_text, sep, high_text = str(text).strip().partition("..")
    try:
        low = kind(low_text)
        high = kind(high_text) if sep else low
    except ValueError:
        raise UsageError(f"{what}: expected a number or LOW..HIGH, got {text!r}") from None
    if not (np.isfinite(low) and np.isfinite(high)) or low > high:
        raise UsageError(f"{what}: expected finite LOW <= HIGH, got {text!r}")
    return low, high


def as_range(value, name: str) -> tuple[float, float]:
    """A target given as a number, a (low, high) pair or a ``"low..high"`` string -> (low, high)."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return parse_range(f"{value[0]}..{value[1]}", f"condition {name}")
    return parse_range(value, f"condition {name}")


def size_range(num_atoms, max_nodes: int) -> tuple[int, int] | None:
    """A sampling option ``num_atoms`` (0: free, ``12``, ``"15..25"``) -> (low, high) within 1..max_nodes."""
    if num_atoms in (0, "", None):
        return None
    low, high = parse_range(num_atoms, "num_atoms", int)
    if low < 1 or high > max_nodes:
        raise UsageError(
            f"num_atoms {_shown(low, high)}: this model generates 1..{max_nodes} atoms; "
            "fine-tune it on larger structures (unigen finetune) to raise its maximum"
        )
    return low, high


def draw_sizes(counts, low: int, high: int, n: int, generator=None) -> torch.Tensor:
    """(n,) sizes in low..high drawn from the training histogram ``counts`` restricted to the range
    (uniform over the range where the histogram has no mass there)."""
    weights = torch.zeros(high + 1, dtype=torch.float64)
    known = torch.as_tensor(list(counts or [])[: high + 1], dtype=torch.float64)
    weights[: len(known)] = known
    weights[:low] = 0.0
    if weights.sum() <= 0:
        weights[low:] = 1.0
    return torch.multinomial(weights / weights.sum(), n, replacement=True, generator=generator).cpu()
