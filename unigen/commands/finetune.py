"""``unigen finetune [CHECKPOINT | --model M] --data FILE [--steps N] [--set KEY=VALUE ...] [--out DIR]``."""

from __future__ import annotations

import os

import click

# the drug-like base model `unigen finetune` will default to once it ships (see recipes/pard/moses_cpu.yaml)
DRUGLIKE_BASE = "pard-moses"


@click.command("finetune")
@click.argument("checkpoint", type=click.Path(), required=False)
@click.option(
    "--model", "model_name", default=None, help="Shipped model name or checkpoint directory to start from."
)
@click.option("--data", required=True, help="Your SMILES / SDF / XYZ / CIF / graph file, or a dataset name.")
@click.option(
    "--steps", type=click.IntRange(min=1), default=None, help="Optimizer steps (same as --set train.steps=N)."
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a value of the checkpoint's recipe, e.g. --set train.lr=1e-4.",
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
def command(checkpoint, model_name, data, steps, overrides, extend_vocab, resume, out):
    """Fine-tune a model (CHECKPOINT or --model) on your own data.

    The checkpoint's recipe is reused (with --set overrides); unreadable records are skipped and
    reported; the run is written to --out (or train.out_dir; default: runs/<parent run>-finetune
    in the current directory) and its cards record the parent checkpoint.
    """
    from unigen.training import finetune

    start = _start(checkpoint, model_name)
    if steps is not None:
        overrides = (*overrides, f"train.steps={steps}")
    if out is not None:
        overrides = (*overrides, f"train.out_dir={out}")
    final = finetune(start, data, overrides, extend_vocab=extend_vocab, resume=resume)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, say it once
        click.echo(f"checkpoint: {final}")


def _start(checkpoint, model_name) -> str:
    """The model to start from; without one, the drug-like base model once it ships, else a clear error."""
    from unigen.errors import UsageError
    from unigen.pretrained import available

    if checkpoint and model_name:
        raise UsageError("pass the model to fine-tune once: CHECKPOINT or --model, not both")
    if checkpoint or model_name:
        return checkpoint or model_name
    if DRUGLIKE_BASE in available():
        return DRUGLIKE_BASE
    raise UsageError(
        f"the drug-like base model {DRUGLIKE_BASE} has not shipped yet; pass --model with a shipped model "
        f"({', '.join(available())}) or a checkpoint directory"
    )
