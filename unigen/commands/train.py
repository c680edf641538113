"""``unigen train RECIPE [--set KEY=VALUE ...] [--resume DIR]``."""

from __future__ import annotations

import os

import click


@click.command("train")
@click.argument("recipe", type=click.Path(dir_okay=False))
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
    """Train a model from a RECIPE YAML file (see recipes/ and docs/training.md).

    Multi-GPU: torchrun --nproc_per_node=N -m unigen.cli train RECIPE
    """
    from unigen.config import load_recipe
    from unigen.training import train

    final = train(load_recipe(recipe, overrides), resume=resume)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, say it once
        click.echo(f"checkpoint: {final}")
