"""``unigen finetune CHECKPOINT --data FILE_OR_DATASET [--set KEY=VALUE ...]``."""

from __future__ import annotations

import os

import click


@click.command("finetune")
@click.argument("checkpoint", type=click.Path())
@click.option("--data", required=True, help="Your SMILES / SDF / XYZ / CIF / graph file, or a dataset name.")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a value of the checkpoint's recipe, e.g. --set train.steps=500.",
)
@click.option(
    "--extend-vocab",
    is_flag=True,
    help="Add atom types the model has never seen as new vocabulary rows (else they are refused).",
)
@click.option(
    "--resume", type=click.Path(), default=None, help="Continue an interrupted fine-tuning run (its out_dir)."
)
@click.option(
    "--out", type=click.Path(file_okay=False), default=None,
    help="Run directory (default: runs/<parent>-finetune in the current directory).",
)  # fmt: skip
def command(checkpoint, data, overrides, extend_vocab, resume, out):
    """Fine-tune the model at CHECKPOINT on your own data.

    The checkpoint's recipe is reused (with --set overrides); the run is written to
    --out (or train.out_dir; default: runs/<parent run>-finetune in the current directory)
    and its cards record the parent checkpoint.
    """
    from unigen.training import finetune

    if out is not None:
        overrides = (*overrides, f"train.out_dir={out}")
    final = finetune(checkpoint, data, overrides, extend_vocab=extend_vocab, resume=resume)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, say it once
        click.echo(f"checkpoint: {final}")
