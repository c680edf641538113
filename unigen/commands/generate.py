"""``unigen generate``: sample structures from a shipped model or a checkpoint, of any family.

Family options go through ``--set sampling.KEY=VALUE`` and are checked by the model's
``Sampling`` dataclass; the output format must be one whose writer takes the model's records.
Under ``torchrun`` the samples are split across ranks and rank 0 writes one file.
"""

from __future__ import annotations

import click

from unigen.commands._sampling import sampling_overrides, sampling_run_options
from unigen.pretrained import DEFAULT_MODEL


@click.command(name="generate")
@click.option(
    "--model",
    "model_name",
    default=DEFAULT_MODEL,
    show_default=True,
    help="Shipped model name or checkpoint directory.",
)
@click.option(
    "-n",
    "--num-samples",
    type=click.IntRange(min=1, max=10**7),
    default=1000,
    show_default=True,
    help="Number of samples.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    required=True,
    help="Output file; the formats depend on the model's records (smi/sdf/csv for molecules, json/edgelist for graphs).",
)
@sampling_run_options(
    steps_help="Sampling steps (default: the model's); same as --set sampling.steps=N.",
    set_example="sampling.snr=0.1",
    batch_size=1000,
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the summary as JSON.",
)
def command(model_name, num_samples, output, seed, steps, settings, batch_size, device, json_out):
    """Generate structures and print a summary (for molecules: validity, uniqueness, novelty)."""
    import json

    import torch

    from unigen.atomic import atomic_write
    from unigen.checkpoint import load
    from unigen.distributed import init_world
    from unigen.generation import generate
    from unigen.io import format_from_path, write
    from unigen.training.engine import pick_device

    fmt = format_from_path(output).name
    options = sampling_overrides(settings, steps)
    device = pick_device(device)
    world = init_world(device)
    if device.type == "cuda" and world.size > 1:  # torchrun: one GPU per rank
        device = torch.device(f"cuda:{world.local_rank}")
    model = load(model_name, device=device)
    model.refuse_generation()
    check_output_format(model, fmt, output)
    result = generate(model, num_samples, seed=seed, batch_size=batch_size, progress=True, **options)
    if not world.is_main:
        return
    write(output, result.records)
    _print_summary(result.summary, output, len(result.records))
    if json_out:
        with atomic_write(json_out) as handle:
            json.dump(result.summary, handle, indent=2)


def check_output_format(model, fmt: str, output: str) -> None:
    from unigen.errors import UsageError
    from unigen.io import writable_formats

    wanted = writable_formats(model.record_type)
    if fmt not in wanted:
        kind = model.record_type.__name__
        raise UsageError(
            f"this model generates {kind} records: write them as {', '.join(wanted)}, not '{fmt}' ({output})"
        )


RATES = (
    "validity_wo_correction",
    "validity",
    "uniqueness",
    "novelty",
    "atom_stability",
    "mol_stability",
    "struct_validity",
    "comp_validity",
)


def _print_summary(summary: dict, output: str, written: int) -> None:
    click.echo(f"wrote {written} structures to {output}")
    for key, value in summary.items():
        if value is None:
            shown = "n/a"
        elif key in RATES:
            shown = f"{100 * value:.2f} %"
        else:
            shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        click.echo(f"  {key:24s} {shown}")
