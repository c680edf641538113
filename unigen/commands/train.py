"""``unigen train RECIPE [--set KEY=VALUE ...] [--resume DIR]``; RECIPE is a file or a shipped name."""

from __future__ import annotations

import os

import click


@click.command("train")
@click.argument("recipe")
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
def command(recipe, overrides, resume):
    """Train a model from a RECIPE: a YAML file, or a shipped recipe's name (unigen recipes list).

    \b
    Examples:
      unigen train tiny/gdss --set train.steps=50       (the shipped recipes/tiny/gdss.yaml)
      unigen train my_recipe.yaml

    Multi-GPU: torchrun --nproc_per_node=N -m unigen.cli train RECIPE
    """
    from unigen.config import load_recipe
    from unigen.recipes import find
    from unigen.training import train

    final = train(load_recipe(find(recipe), overrides), resume=resume)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, say it once
        click.echo(f"checkpoint: {final}")
