"""``unigen generate``: sample structures from a shipped model or a checkpoint, of any family.

Family options go through ``--set sampling.KEY=VALUE`` and are checked by the model's
``Sampling`` dataclass; the output format must be one whose writer takes the model's records.
Under ``torchrun`` the samples are split across ranks and rank 0 writes one file.
Records are written as each batch finishes, into a temporary file renamed over ``--output``
at the end: Ctrl-C (exit code 130) or an error leaves no output file behind.
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
@click.option(
    "--png",
    "png_out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also draw the first structures written (molecules: a grid with SMILES) to a PNG.",
)
@click.option(
    "--condition",
    "condition_items",
    multiple=True,
    metavar="NAME=VALUE",
    help="Target property of a conditioned model: qed=0.8, or a range logp=2..3 (repeatable).",
)
@click.option(
    "--guidance",
    type=float,
    default=None,
    help="Classifier-free guidance weight for --condition (1: plain conditional; default: the model's).",
)
@click.option(
    "--num-atoms", default=None, metavar="N|LOW..HIGH", help="Atoms (nodes) per sample: 12 or 15..25."
)
def command(
    model_name,
    num_samples,
    output,
    seed,
    steps,
    settings,
    batch_size,
    device,
    json_out,
    png_out,
    condition_items,
    guidance,
    num_atoms,
):
    """Generate structures and print a summary (for molecules: validity, uniqueness, novelty)."""
    import json

    import torch

    from unigen.atomic import atomic_write
    from unigen.checkpoint import load
    from unigen.distributed import joined_world
    from unigen.draw import MAX_ITEMS, check_png_path
    from unigen.generation import GenerationStream
    from unigen.io import format_from_path, write
    from unigen.training.engine import pick_device

    fmt = format_from_path(output).name
    if png_out:
        check_png_path(png_out)
    options = sampling_overrides(settings, steps)
    device = pick_device(device)
    with joined_world(device) as world:
        if device.type == "cuda" and world.size > 1:  # torchrun: one GPU per rank
            device = torch.device(f"cuda:{world.local_rank}")
        model = load(model_name, device=device)
        model.refuse_generation()
        check_output_format(model, fmt, output)
        conditions = control_options(model, options, condition_items, guidance, num_atoms)
        stream = GenerationStream(
            model,
            num_samples,
            seed=seed,
            batch_size=batch_size,
            progress=None,
            conditions=conditions,
            **options,
        )
        if not world.is_main:  # the other ranks only sample; rank 0 gathers, summarises and writes
            for _ in stream:
                pass
            return
        first, written = [], [0]  # the first records written (for --png) and how many
        write(output, _counting(stream, first, MAX_ITEMS if png_out else 0, written))
        _print_summary(stream.summary, output, written[0])
        if json_out:
            with atomic_write(json_out) as handle:
                json.dump(stream.summary, handle, indent=2)
        if png_out and first:
            from unigen.draw import draw_records

            draw_records(first, png_out)
            click.echo(f"drew {len(first)} structures to {png_out}")


def _counting(records, first: list, keep: int, written: list):
    """The records, unchanged; keeps the first ``keep`` in ``first`` and counts them in ``written``."""
    for record in records:
        if len(first) < keep:
            first.append(record)
        written[0] += 1
        yield record


def control_options(model, options: dict, condition_items, guidance, num_atoms) -> dict | None:
    """--condition targets (returned), --guidance and --num-atoms (added to ``options``); a model
    whose family has no such sampling option is told in one line which families have it."""
    from unigen.conditioning import parse_targets

    for flag, key, value in (("--guidance", "guidance", guidance), ("--num-atoms", "num_atoms", num_atoms)):
        if value is not None:
            _require_option(model, flag, key)
            options[key] = value
    return parse_targets(condition_items) or None


def _require_option(model, flag: str, key: str) -> None:
    from dataclasses import fields

    from unigen.errors import UsageError
    from unigen.models.registry import generating_families, get_family

    if key not in {f.name for f in fields(model.Sampling)}:
        able = [f for f in generating_families() if key in {x.name for x in fields(get_family(f).Sampling)}]
        raise UsageError(
            f"{flag}: '{model.family}' models do not take it; families that do: {', '.join(able)}"
        )


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
# what a rate counts, printed after it (the JSON keys are the printed names)
NOTES = {
    "validity_wo_correction": "raw samples, before valency correction",
    "validity": "after valency correction",
}


def _print_summary(summary: dict, output: str, written: int) -> None:
    click.echo(f"wrote {written} structures to {output}")
    for key, value in summary.items():
        if value is None:
            shown = "n/a"
        elif key in RATES:
            shown = f"{100 * value:.2f} %"
        else:
            shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        note = f"  ({NOTES[key]})" if key in NOTES and "validity_wo_correction" in summary else ""
        click.echo(f"  {key:24s} {shown:>9s}{note}")
