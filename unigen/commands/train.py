"""``unigen train RECIPE`` or ``unigen train --family F --data FILE [--condition qed,logp]``."""

from __future__ import annotations

import os

import click


@click.command("train")
@click.argument("recipe", required=False)
@click.option(
    "--family", default=None, help="Train this family on --data with its default recipe (no RECIPE)."
)
@click.option(
    "--data", default=None, help="Your SMILES / CSV / SDF / XYZ / CIF / graph file (with --family)."
)
@click.option(
    "--recipe",
    "base_recipe",
    default=None,
    help="With --family: start from this recipe (file or shipped name) instead of the family's default.",
)
@click.option(
    "--condition",
    default=None,
    metavar="NAMES",
    help="With --family: condition on these properties, e.g. qed,logp (CSV columns or RDKit qed, logp, mw, tpsa, sa).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a recipe value, e.g. --set train.lr=3e-4 (repeatable).",
)
@click.option(
    "--resume",
    type=click.Path(),
    default=None,
    help="Continue a run (its out_dir) or a checkpoint from where it stopped.",
)
def command(recipe, family, data, base_recipe, condition, overrides, resume):
    """Train a model from a RECIPE (a YAML file or a shipped recipe's name: unigen recipes list),
    or train --family F on your own --data file with the family's default recipe.

    \b
    Examples:
      unigen train tiny/gdss --set train.steps=50       (the shipped recipes/tiny/gdss.yaml)
      unigen train my_recipe.yaml
      unigen train --family pard --data mine.csv --condition qed,logp --set train.steps=2000

    Unreadable records of --data are skipped and reported. Multi-GPU:
    torchrun --nproc_per_node=N -m unigen.cli train ...
    """
    from unigen.training import train

    final = train(_recipe(recipe, family, data, base_recipe, condition, overrides), resume=resume)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, say it once
        click.echo(f"checkpoint: {final}")


def _recipe(recipe, family, data, base_recipe, condition, overrides):
    from unigen.errors import UsageError

    if recipe is not None:
        if family or data or base_recipe or condition:
            raise UsageError("pass a RECIPE or --family with --data, not both (change a recipe with --set)")
        from unigen.config import load_recipe
        from unigen.recipes import find

        return load_recipe(find(recipe), overrides)
    if not (family and data):
        raise UsageError("pass a RECIPE, or --family F --data FILE (families: gdss, pard, uni3dar, unigenx)")
    from unigen.conditioning import parse_names
    from unigen.training.run import file_recipe

    names = parse_names(condition) if condition else ()
    return file_recipe(family, data, base_recipe, overrides, names)
