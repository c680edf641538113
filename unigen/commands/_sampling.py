"""Options and parsing shared by the sampling commands (``generate``, ``predict-structure``)."""

from __future__ import annotations

import click


def sampling_run_options(steps_help: str, set_example: str, batch_size: int):
    """The options every sampling command shares: --seed, --steps, --set, --batch-size, --device."""
    options = [
        click.option("--seed", type=click.IntRange(min=0, max=2**63 - 1), default=0, show_default=True),
        click.option("--steps", type=click.IntRange(min=1), default=None, help=steps_help),
        click.option(
            "--set",
            "settings",
            multiple=True,
            metavar="sampling.KEY=VALUE",
            help=f"A sampling option of the model's family, e.g. --set {set_example} (repeatable).",
        ),
        click.option(
            "--batch-size", type=click.IntRange(min=1, max=10**6), default=batch_size, show_default=True
        ),
        click.option("--device", default="cpu", show_default=True, help="auto, cpu, cuda or cuda:N."),
    ]

    def decorate(function):
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def sampling_overrides(settings, steps) -> dict:
    """``--set sampling.KEY=VALUE`` items and ``--steps`` -> sampling option overrides."""
    options = parse_sampling_settings(settings)
    if steps is not None:
        options["steps"] = steps
    return options


def parse_sampling_settings(settings) -> dict:
    """``("sampling.snr=0.1", ...)`` -> ``{"snr": 0.1}`` (values parsed as YAML)."""
    from unigen.config import parse_override
    from unigen.errors import UsageError

    options = {}
    for item in settings:
        key, value = parse_override(item)
        section, _, name = key.partition(".")
        if section != "sampling" or not name or "." in name:
            raise UsageError(f"--set: generate takes sampling.KEY=VALUE, got '{item}'")
        options[name] = value
    return options
