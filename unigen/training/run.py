"""Python API behind ``unigen train`` and ``unigen finetune``."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import yaml

from unigen import checkpoint as ckpt
from unigen.atomic import atomic_write
from unigen.config import Recipe, apply_overrides, parse_recipe, recipe_to_dict
from unigen.errors import UsageError
from unigen.models.registry import get_family
from unigen.training.data import check_records, encode_all, load_records, print_report
from unigen.training.engine import Trainer
from unigen.training.state import seed_everything

# the shipped recipe ``unigen train --family F --data FILE`` starts from, by the file's structures
DEFAULT_RECIPES = {
    "pard": {"MolGraph": "pard/moses_cpu", "Graph": "pard/community_small_cpu"},
    "gdss": {"MolGraph": "gdss/qm9", "Graph": "gdss/community_small"},
    "uni3dar": {"Molecule3D": "uni3dar/qm9_cpu", "Crystal": "uni3dar/perov5_cpu"},
    "unigenx": {"Crystal": "unigenx/perov5_csp_cpu"},
}


def train(recipe: Recipe, resume=None, on_step=None) -> Path:
    """Train from ``recipe`` (or continue the run / checkpoint ``resume``); return the final checkpoint."""
    family = get_family(recipe.family)
    start = ckpt.resolve(resume) if resume is not None else None
    resumed = _model_to_resume(start, recipe) if start is not None else None  # checked before reading data
    records, dataset = load_records(recipe.data)
    source = dataset["path"] or f"dataset {dataset['dataset']}"
    check_records(family, records, source)
    if resumed is not None:
        model, out_dir, parent = resumed, start.parent.parent, ckpt.read_card(start).get("parent")
    else:
        out_dir, parent = _fresh_out_dir(recipe.train.out_dir), None
        seed_everything(recipe.train.seed)
        model = family(recipe.model, family.fit_state(recipe.model, records))
    return _run(model, encode_all(model, records, source), recipe, dataset, out_dir, parent, start, on_step)


def file_recipe(family: str, data: str, recipe=None, overrides=(), conditions=()) -> Recipe:
    """The recipe of ``unigen train --family F --data FILE``: ``recipe`` (a file or shipped name; default:
    the family's shipped recipe for the file's structures, :data:`DEFAULT_RECIPES`) on all of ``data``
    (bad records skipped and reported), conditioned on the property names ``conditions``."""
    from unigen.recipes import find

    if conditions:  # said first: no recipe or file can make this family conditionable
        _check_conditionable(family)
    source = _data_source(data)
    path = find(recipe or _default_recipe(family, data, source))
    raw = yaml.safe_load(path.read_text())
    if raw.get("family") != family:
        raise UsageError(f"recipe {path} trains '{raw.get('family')}', not --family {family}")
    raw["data"] = {**source, "limit": None, "skip_bad_records": True}
    stem = Path(data).stem if source["path"] else data
    raw["train"] = dict(raw.get("train") or {}, out_dir=str(Path("runs") / f"{family}-{stem}"))
    if conditions:
        raw["model"] = dict(raw.get("model") or {}, conditions=list(conditions))
    return parse_recipe(raw, overrides, source=f"recipe {path} on {data}")


def _default_recipe(family: str, data: str, source: dict) -> str:
    from unigen.io import format_from_path

    get_family(family)  # an unknown family is named first
    if source["path"] is None:
        raise UsageError(f"--data {data}: pass a file, or a recipe (--recipe) for the dataset")
    kind = next(w for w in format_from_path(data).writes if w != "str")
    options = DEFAULT_RECIPES.get(family, {})
    if kind not in options:
        able = sorted(f for f, kinds in DEFAULT_RECIPES.items() if kind in kinds)
        raise UsageError(
            f"{data} holds {kind} records; family '{family}' has no default recipe for them "
            f"(families that do: {', '.join(able)}); pass --recipe"
        )
    return options[kind]


def _check_conditionable(family: str) -> None:
    fields = {f.name for f in dataclasses.fields(get_family(family).Config)}
    if "conditions" not in fields:
        able = sorted(
            name
            for name in DEFAULT_RECIPES
            if "conditions" in {f.name for f in dataclasses.fields(get_family(name).Config)}
        )
        raise UsageError(
            f"--condition: family '{family}' cannot be conditioned; families that can: {', '.join(able)}"
        )


def finetune(
    checkpoint, data: str, overrides=(), extend_vocab: bool = False, resume=None, on_step=None
) -> Path:
    """Continue training the model at ``checkpoint`` on ``data`` (a file or dataset name).

    The card's recipe is reused with ``data`` and ``overrides`` applied; the new checkpoints
    record the parent. Atom types the model cannot represent are refused, or added as new
    vocabulary rows with ``extend_vocab`` (families that support it).
    """
    parent_dir = ckpt.resolve(checkpoint)
    parent_card = ckpt.read_card(parent_dir)
    recipe = _finetune_recipe(parent_card, parent_dir, data, overrides)
    if resume is not None:
        return train(recipe, resume=resume, on_step=on_step)
    records, dataset = load_records(recipe.data)
    source = dataset["path"] or f"dataset {dataset['dataset']}"
    model = ckpt.load(parent_dir).train()
    check_records(type(model), records, source)
    _check_vocabulary(model, records, source, extend_vocab)
    model.refit_sizes(records)
    out_dir = _fresh_out_dir(recipe.train.out_dir)
    seed_everything(recipe.train.seed)
    parent = {
        "path": str(parent_dir.resolve()),
        **{k: parent_card.get(k) for k in ("family", "steps", "dataset", "git_commit")},
    }
    return _run(model, encode_all(model, records, source), recipe, dataset, out_dir, parent, None, on_step)


def _run(model, examples, recipe, dataset, out_dir, parent, start, on_step) -> Path:
    card = {"recipe": recipe_to_dict(recipe), "dataset": dataset, "parent": parent}
    if recipe.train.progress:  # quiet runs stay quiet; the card records the report either way
        print_report(dataset)
    _write_recipe(out_dir, card["recipe"])
    trainer = Trainer(model, examples, recipe.train, out_dir, card)
    return trainer.fit(resume_from=start, on_step=on_step)


def _model_to_resume(directory: Path, recipe: Recipe):
    """The model of a checkpoint to resume, checked against the recipe's family and arguments."""
    card = ckpt.read_card(directory)
    if card["family"] != recipe.family:
        raise UsageError(
            f"checkpoint {directory} is a '{card['family']}' model; the recipe trains '{recipe.family}'"
        )
    wanted = json.loads(json.dumps(dataclasses.asdict(recipe.model)))  # tuples -> lists, as in the card
    changed = sorted(
        k for k in set(wanted) | set(card["model_args"]) if wanted.get(k) != card["model_args"].get(k)
    )
    if changed:
        raise UsageError(
            f"cannot resume {directory}: the recipe changes model arguments {', '.join(changed)}"
        )
    return ckpt.build_model(card, directory)


def _finetune_recipe(card: dict, directory: Path, data: str, overrides) -> Recipe:
    raw = card.get("recipe")
    if not isinstance(raw, dict):
        raise UsageError(f"checkpoint {directory} records no recipe to fine-tune with")
    from unigen.models.registry import get_family

    raw = dict(raw, model=get_family(card["family"]).upgrade_model_args(card["model_args"]))
    raw["data"] = {**_data_source(data), "limit": None, "skip_bad_records": True}
    raw["train"] = dict(raw.get("train") or {}, out_dir=_finetune_out_dir(directory))
    return parse_recipe(apply_overrides(raw, overrides), source=f"fine-tune of {directory}")


def _finetune_out_dir(directory: Path) -> str:
    """``runs/<parent run>-finetune`` under the current directory, never next to the parent
    (a shipped model lives inside the installed package, a checkout's run maybe read-only)."""
    run = directory.parent.parent if directory.parent.name == "checkpoints" else directory
    return str(Path("runs") / f"{run.name}-finetune")


def _data_source(data: str) -> dict:
    """``--data``: an existing file, else a dataset name; a path-like name that is missing fails."""
    path = Path(data)
    if path.exists():
        return {"path": str(path.resolve()), "dataset": None}
    if path.suffix or "/" in data or "\\" in data:
        raise UsageError(f"data file {data} does not exist")
    return {"dataset": data, "path": None}


def _check_vocabulary(model, records, source: str, extend: bool) -> None:
    unknown = model.unknown_types(records)
    if not unknown:
        return
    listed = ", ".join(f"{t} ({n} atoms)" for t, n in unknown.items())
    if not extend:
        raise UsageError(
            f"{source}: atom types the '{model.family}' model cannot represent: {listed}; "
            "remove those records or pass --extend-vocab to add them as new types"
        )
    model.extend_vocab(list(unknown))


def _fresh_out_dir(out_dir: str) -> Path:
    out = Path(out_dir)
    if ckpt.latest_checkpoint(out) is not None:
        raise UsageError(
            f"{out} already holds checkpoints; pass --resume {out} to continue, or set train.out_dir"
        )
    return out


def _write_recipe(out_dir: Path, recipe: dict) -> None:
    if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 writes
        return
    with atomic_write(Path(out_dir) / "recipe.yaml") as handle:
        yaml.safe_dump(recipe, handle, sort_keys=False)
