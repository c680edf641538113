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
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from unigen import limits
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

    def __post_init__(self):
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be a positive number of records or null, got {self.limit}")


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

    def __post_init__(self):
        _check_ranges(self, _TRAIN_RANGES)
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas}")
        if not self.out_dir.strip():
            raise ValueError("out_dir must name a directory, got ''")
        if Path(self.out_dir).is_file():
            raise ValueError(f"out_dir {self.out_dir} is an existing file, not a directory")


# field -> (low, high, brackets): "[]" closed, "(" / ")" excludes that end; high None: unbounded
_TRAIN_RANGES = {
    "steps": (1, 10**9, "[]"),
    "batch_size": (1, 10**6, "[]"),
    "lr": (0, 10, "[]"),  # 0 freezes the weights (tests, probes); negative or NaN is refused
    "min_lr_ratio": (0, 1, "[]"),
    "warmup": (0, 10**9, "[]"),
    "weight_decay": (0, None, "[]"),
    "grad_clip": (0, None, "[]"),
    "ema_decay": (0, 1, "[)"),
    "seed": (0, 2**63 - 1, "[]"),
    "log_every": (1, None, "[]"),
    "ckpt_every": (1, None, "[]"),
    "keep_last": (1, None, "[]"),
    "cpu_threads": (1, 1024, "[]"),
}


def _check_ranges(config, ranges: dict) -> None:
    """Raise ValueError naming the first field of ``config`` outside its range (None values pass)."""
    for name, (low, high, brackets) in ranges.items():
        value = getattr(config, name)
        if value is not None and not _inside(value, low, high, brackets):
            shown = f"{brackets[0]}{low}, {'inf' if high is None else f'{high:,}'}{brackets[1]}"
            raise ValueError(f"{name} must lie in {shown}, got {value}")


def _inside(value, low, high, brackets: str) -> bool:
    above_low = value > low if brackets[0] == "(" else value >= low
    below_high = high is None or (value < high if brackets[1] == ")" else value <= high)
    return above_low and below_high


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
    check_sizes(raw.get("model"), "model", source)
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
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"recipe {path} is not a UTF-8 text file") from None
    raw, problem = parse_yaml(text)
    if problem:
        raise UsageError(f"recipe {path}: {problem}")
    if not isinstance(raw, dict):
        raise UsageError(f"recipe {path} must be a YAML mapping with keys {', '.join(SECTIONS)}")
    return raw


def parse_yaml(text: str) -> tuple[object, str | None]:
    """``(value, None)``, or ``(None, problem)`` for a document a recipe or card never needs.

    Refused: invalid YAML, duplicate keys (YAML would keep the last one silently), nesting
    deeper than ``UNIGEN_MAX_DEPTH``, recursive aliases, and aliases that expand to more than
    ``MAX_YAML_VALUES`` values (a 661-byte "billion laughs" file expands to 10^9).
    """
    loader = None
    try:
        loader = _StrictLoader(text)  # its reader already refuses control characters
        node = loader.get_single_node()
        if node is None:  # an empty document
            return None, None
        problem = _expansion_problem(node)
        return (None, problem) if problem else (loader.construct_document(node), None)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        return None, f"not valid YAML{where}: {getattr(err, 'problem', None) or str(err).splitlines()[0]}"
    finally:
        if loader is not None:
            loader.dispose()


MAX_YAML_VALUES = 100_000  # values in a recipe or card once aliases are expanded (a card holds ~500)
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with a nesting bound while composing and duplicate keys refused."""

    depth = 0

    def compose_node(self, parent, index):
        if self.depth >= limits.limit("depth"):
            mark = self.peek_event().start_mark
            raise yaml.YAMLError(
                f"{limits.exceeded('depth', self.depth + 1, 'levels of nesting')} at line {mark.line + 1}"
            )
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = self.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _expansion_problem(root) -> str | None:
    """Recursive aliases, or aliases expanding past the value or depth bounds (None: neither)."""
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth) once known; (-1, -1) while open

    def measure(node) -> tuple[int, int]:
        known = sizes.get(id(node))
        if known == (-1, -1):
            raise _Refused(f"a YAML alias refers to itself (line {node.start_mark.line + 1})")
        if known is not None:
            return known
        sizes[id(node)] = (-1, -1)
        measured = [measure(child) for child in _children(node)]
        values = 1 + sum(v for v, _ in measured)
        depth = 1 + max((d for _, d in measured), default=0)
        if values > MAX_YAML_VALUES or depth > limits.limit("depth"):
            raise _Refused(
                f"its YAML aliases expand to over {MAX_YAML_VALUES:,} values or "
                f"{limits.limit('depth')} levels of nesting (a 'billion laughs' file?)"
            )
        sizes[id(node)] = (values, depth)
        return values, depth

    try:
        measure(root)
    except _Refused as refused:
        return str(refused)
    return None


class _Refused(Exception):
    pass


def _children(node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


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


def check_sizes(mapping, where: str, source: str) -> None:
    """Every ``max_*`` integer in ``mapping`` (nested too) lies in [0, UNIGEN_MAX_GRAPH_NODES].

    ``max_nodes``, ``max_atoms``, ``max_blocks``, ... size dense tensors (GDSS's adjacency is
    max_nodes^2 per sample), so a card or recipe with max_nodes 10^5 is refused here, before
    a model allocates anything.
    """
    if not isinstance(mapping, dict):
        return
    for key, value in mapping.items():
        name = f"{where}.{key}"
        if isinstance(value, dict):
            check_sizes(value, name, source)
        elif str(key).startswith("max_") and isinstance(value, int) and not isinstance(value, bool):
            if value < 0:
                raise UsageError(f"{source}: {name} must be >= 0, got {value}")
            if value > limits.limit("graph_nodes"):
                raise UsageError(f"{source}: {name} is {limits.exceeded('graph_nodes', value, 'nodes')}")


def check_card(card: dict, source: str) -> None:
    """Values of a checkpoint card's ``model_args`` and ``state`` a model is built from.

    Sizes as :func:`check_sizes`; every number finite; count tables (``node_counts``, ...)
    lists of non-negative numbers, not all zero; ``num_train_hashes`` a non-negative integer.
    """
    check_sizes(card.get("model_args"), "model_args", source)
    state = card["state"]
    check_sizes(state, "state", source)
    _check_finite(state, "state", source)
    for key, value in state.items():
        if str(key).endswith("_counts"):
            _check_count_table(value, f"state.{key}", source)
    hashes = state.get("num_train_hashes", 0)
    if not isinstance(hashes, int) or isinstance(hashes, bool) or hashes < 0:
        raise UsageError(
            f"{source}: state.num_train_hashes must be a non-negative integer, got {show(hashes)}"
        )


def _check_finite(value, where: str, source: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _check_finite(item, f"{where}.{key}", source)
    elif isinstance(value, list):
        for k, item in enumerate(value):
            _check_finite(item, f"{where}[{k}]", source)
    elif isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"{source}: {where} must be a finite number, got {value}")


def _check_count_table(value, where: str, source: str) -> None:
    numbers = isinstance(value, list) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in value
    )
    if not numbers or not any(value):
        raise UsageError(
            f"{source}: {where} must be a list of counts >= 0, not all zero, got {show(value)[:80]}"
        )
    if len(value) > limits.limit("graph_nodes"):
        raise UsageError(f"{source}: {where} is {limits.exceeded('graph_nodes', len(value), 'entries long')}")
