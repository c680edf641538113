"""``unigen generate``: sample molecules or graphs from a shipped model or a checkpoint."""

from __future__ import annotations

import click

from unigen.models.gdss import SAMPLERS
from unigen.pretrained import DEFAULT_MODEL

MOLECULE_FORMATS = ("smi", "sdf", "csv")
GRAPH_FORMATS = ("json", "edgelist")


@click.command(name="generate")
@click.option("--model", "model_name", default=DEFAULT_MODEL, show_default=True, help="Shipped model name or checkpoint directory.")
@click.option("-n", "--num-samples", type=click.IntRange(min=1), default=1000, show_default=True, help="Number of samples.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Output file: .smi/.sdf/.csv (molecules) or .json/.edgelist (graphs).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Diffusion steps (default: the model's).")
@click.option("--sampler", type=click.Choice(SAMPLERS), default=None, help="Sampler (default: the model's).")
@click.option("--snr", type=click.FloatRange(min=0, min_open=True), default=None, help="Langevin corrector signal-to-noise ratio (pc, s4; default: the model's).")
@click.option("--scale-eps", type=click.FloatRange(min=0), default=None, help="Langevin noise scale; 1.0 is unbiased, below 1 sharpens (default: the model's).")
@click.option("--batch-size", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None, help="Also write the summary as JSON.")
def command(model_name, num_samples, output, seed, steps, sampler, snr, scale_eps, batch_size, device, json_out):
    """Generate structures and print validity, uniqueness and novelty."""
    import json

    import torch

    from unigen.checkpoint import load
    from unigen.errors import UsageError
    from unigen.generation import generate
    from unigen.io import format_from_path, write
    from unigen.io.atomic import atomic_write
    from unigen.pretrained import resolve_model

    fmt = format_from_path(output).name
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"device '{device}' requested but CUDA is not available")
    model = load(resolve_model(model_name), device=device)
    kind = getattr(model.config, "kind", None)
    wanted = MOLECULE_FORMATS if kind == "molecule" else GRAPH_FORMATS
    if fmt not in wanted:
        raise UsageError(f"a {kind} model writes {', '.join(wanted)} files, not '{fmt}' ({output})")
    result = generate(model, num_samples, seed=seed, batch_size=batch_size, progress=True, steps=steps, sampler=sampler, snr=snr, scale_eps=scale_eps)
    write(output, result.records)
    _print_summary(result.summary, output, len(result.records))
    if json_out:
        with atomic_write(json_out) as handle:
            json.dump(result.summary, handle, indent=2)


RATES = ("validity_wo_correction", "validity", "uniqueness", "novelty")


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
