"""Recipes: YAML files mapped 1:1 onto dataclasses, with ``--set key=value`` overrides.

A recipe has four sections, each the constructor of one object::

    family: toy                 # a registered model family (unigen.models.registry)
    shared: {width: 64}         # optional: values declared once, referenced as "${width}"
    model: {d_model: "${width}"}   # the family's ``Config`` dataclass
    data: {path: molecules.smi}    # DataConfig
    train: {steps: 200, lr: 1e-3}  # TrainConfig

Unknown keys are rejected with the list of valid keys; values are checked against the
dataclass field types (``Literal`` options list their allowed values). Overrides use dotted
keys (``train.lr=3e-4``) whose values are parsed as YAML. Relative ``data.path`` values in a
recipe file are resolved against the recipe's directory; paths given with ``--set`` are
resolved against the current directory.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from unigen.construct import check_keys, coerce, from_dict, show
from unigen.errors import UsageError

SECTIONS = ("family", "shared", "model", "data", "train")
_REF_RE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


@dataclass
class DataConfig:
    """Where training records come from: a named dataset or a user file (exactly one)."""

    dataset: str | None = None  # a name known to unigen.data.load_dataset (qm9, zinc250k, ...)
    path: str | None = None  # a SMILES / SDF / XYZ / CIF / graph file read by unigen.io.read
    split: str = "train"  # dataset split (ignored for files)
    limit: int | None = None  # keep only the first `limit` records (smoke runs)
    skip_bad_records: bool = False  # skip unreadable records in a file instead of failing
    options: dict = field(default_factory=dict)  # extra keyword arguments for load_dataset
    # more sources appended to this one, each a mapping like this section without ``extra``
    # (e.g. Perov-5 val plus the real train rows of its dev subset)
    extra: list[dict] = field(default_factory=list)


@dataclass
class TrainConfig:
    """The training engine's settings (see docs/training.md)."""

    steps: int = 1000  # optimizer steps in total
    batch_size: int = 32  # examples per step per process
    lr: float = 1e-3  # peak learning rate of AdamW
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio
    warmup: int = 100  # linear warm-up steps
    weight_decay: float = 0.01  # AdamW weight decay (matrices only, not biases / norms)
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    grad_clip: float = 1.0  # max global gradient norm; 0 disables clipping
    ema_decay: float = 0.999  # exponential moving average of weights; 0 disables EMA
    seed: int = 0  # seeds weights, data order and the model's noise
    log_every: int = 10  # steps between CSV log rows
    ckpt_every: int = 500  # steps between checkpoints (the last step is always saved)
    keep_last: int = 3  # checkpoints kept on disk (older ones are deleted)
    out_dir: str = "runs/train"  # run directory: checkpoints/, metrics.csv, recipe.yaml
    device: Literal["auto", "cpu", "cuda"] = "auto"
    cpu_threads: int | None = (
        None  # torch intra-op threads on CPU (null: torch's default); 1 suits tiny models
    )
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 autocast on a GPU that supports it
    progress: bool = True  # tqdm progress bar on rank 0
    tensorboard: bool = False  # also write TensorBoard events (needs the tensorboard package)


@dataclass
class Recipe:
    """A whole training recipe; ``model`` is an instance of the family's ``Config``."""

    family: str
    model: Any
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    shared: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------
# Public entry points


def load_recipe(path, overrides=()) -> Recipe:
    """Read a recipe YAML file, apply ``KEY=VALUE`` overrides and validate every section."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"recipe file {path} does not exist")
    raw = _read_yaml(path)
    _resolve_data_path(raw, path.parent)
    return parse_recipe(raw, overrides, source=f"recipe {path}")


def parse_recipe(raw: dict, overrides=(), source: str = "recipe") -> Recipe:
    """Validate a recipe mapping (after applying overrides) into a :class:`Recipe`."""
    raw = apply_overrides(raw, overrides)
    check_keys(raw, SECTIONS, "the recipe's top level", source)
    if "family" not in raw:
        raise UsageError(f"{source}: missing key 'family'")
    shared = raw.get("shared") or {}
    if not isinstance(shared, dict):
        raise UsageError(f"{source}: section 'shared' must be a mapping, got {show(shared)}")
    raw = _interpolate(raw, shared, source)
    from unigen.models.registry import get_family

    try:
        family = get_family(coerce(raw["family"], str, "family", source))
    except UsageError as err:
        raise UsageError(f"{source}: {err}") from None
    return Recipe(
        family=family.family,
        model=from_dict(family.Config, raw.get("model") or {}, "model", source),
        data=_data_config(raw.get("data") or {}, source),
        train=from_dict(TrainConfig, raw.get("train") or {}, "train", source),
        shared=shared,
    )


def recipe_to_dict(recipe: Recipe) -> dict:
    """The recipe as plain YAML-able data (what a checkpoint card records)."""
    out = {"family": recipe.family}
    if recipe.shared:
        out["shared"] = dict(recipe.shared)
    out.update({name: dataclasses.asdict(getattr(recipe, name)) for name in ("model", "data", "train")})
    return out


def apply_overrides(raw: dict, overrides) -> dict:
    """Return a copy of ``raw`` with each ``a.b.c=value`` applied (value parsed as YAML)."""
    import copy

    raw = copy.deepcopy(raw)
    for item in overrides:
        key, value = parse_override(item)
        _set_dotted(raw, key, value)
    return raw


# ---------------------------------------------------------------------------------------
# YAML reading and overrides


def _read_yaml(path: Path) -> dict:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UsageError(f"recipe {path} is not valid YAML{where}: {problem}") from None
    except UnicodeDecodeError:
        raise UsageError(f"recipe {path} is not a UTF-8 text file") from None
    if not isinstance(raw, dict):
        raise UsageError(f"recipe {path} must be a YAML mapping with keys {', '.join(SECTIONS)}")
    return raw


def _resolve_data_path(raw: dict, base: Path) -> None:
    data = raw.get("data")
    if isinstance(data, dict) and isinstance(data.get("path"), str) and not Path(data["path"]).is_absolute():
        data["path"] = str((base / data["path"]).resolve())


def parse_override(item: str) -> tuple[str, object]:
    """``"a.b=value"`` -> ``("a.b", value)``, the value parsed as YAML."""
    if "=" not in item:
        raise UsageError(f"--set expects KEY=VALUE (e.g. train.lr=3e-4), got '{item}'")
    key, text = item.split("=", 1)
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    return key.strip(), value


def _set_dotted(raw: dict, key: str, value) -> None:
    parts = key.split(".")
    if not all(parts):
        raise UsageError(f"--set: malformed key '{key}'")
    node = raw
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise UsageError(f"--set {key}: '{'.'.join(parts[: depth + 1])}' is a value, not a section")
        node = child
    node[parts[-1]] = value


def _interpolate(obj, shared: dict, source: str, where: str = ""):
    """Replace strings of the form "${name}" with ``shared[name]`` (keeping its type)."""
    if isinstance(obj, dict):
        return {
            k: (v if k == "shared" and not where else _interpolate(v, shared, source, f"{where}{k}."))
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_interpolate(v, shared, source, where) for v in obj]
    match = _REF_RE.match(obj) if isinstance(obj, str) else None
    if not match:
        return obj
    if match.group(1) not in shared:
        defined = ", ".join(sorted(shared)) or "none"
        raise UsageError(
            f"{source}: {where.rstrip('.')} refers to unknown shared value '{obj}'; defined: {defined}"
        )
    return shared[match.group(1)]


# ---------------------------------------------------------------------------------------
# Validation


def _data_config(mapping, source: str, section: str = "data") -> DataConfig:
    data = from_dict(DataConfig, mapping, section, source)
    if (data.dataset is None) == (data.path is None):
        raise UsageError(f"{source}: section '{section}' needs exactly one of 'dataset' or 'path'")
    for k, more in enumerate(data.extra):
        if not isinstance(more, dict) or "extra" in more:
            raise UsageError(f"{source}: {section}.extra[{k}] must be a mapping without its own 'extra'")
        _data_config(more, source, f"{section}.extra[{k}]")
    return data
