"""``unigen recipes list|show NAME``: the training recipes shipped with unigen."""

from __future__ import annotations

import click


@click.group("recipes")
def command():
    """The training recipes shipped with unigen (``unigen train NAME`` runs one)."""


@command.command("list")
def list_recipes():
    """Every shipped recipe, with the first line of its comment."""
    from unigen.recipes import find, names

    for name in names():
        click.echo(f"{name:28s} {_summary(find(name))}")


@command.command("show")
@click.argument("name")
def show(name):
    """Print a shipped recipe (copy it to change it: unigen recipes show tiny/gdss > my.yaml)."""
    from unigen.recipes import find

    click.echo(find(name).read_text(), nl=False)


def _summary(path, width: int = 80) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            text = line.lstrip("# ").strip()
            return text if len(text) <= width else text[: width - 3] + "..."
        if line.strip():
            break
    return ""
