"""``unigen data``: list the benchmark datasets, show one, fetch its raw files."""

from __future__ import annotations

import click


@click.group(name="data")
def command():
    """List, fetch and inspect benchmark datasets (raw files under UNIGEN_DATA_DIR)."""


@command.command(name="list")
def list_command():
    """Every dataset: kind, split sizes and whether its files are present."""
    from unigen.data import dataset_info, list_datasets
    from unigen.paths import data_dir

    click.echo(f"data dir: {data_dir()}")
    rows = [_row(dataset_info(name)) for name in list_datasets()]
    widths = [max(len(r[i]) for r in rows + [_HEADER]) for i in range(len(_HEADER))]
    for row in [_HEADER, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


_HEADER = ("name", "kind", "splits", "available")


def _row(info: dict) -> tuple[str, ...]:
    stats = info["stats"]
    splits = ", ".join(f"{s} {stats[s]:,}" if s in stats else s for s in info["splits"] if s != "all")
    return info["name"], info["kind"], splits, _availability(info["missing"])


def _availability(missing: dict[str, list[str]]) -> str:
    """ "yes", or "no (missing X)", or "partial: a, b (missing X)" over the splits."""
    splits = [s for s in missing if s != "all"] or list(missing)
    have = [s for s in splits if not missing[s]]
    absent = sorted({path for s in splits for path in missing[s]})
    if not absent:
        return "yes"
    first = absent[0] + (f" +{len(absent) - 1} more" if len(absent) > 1 else "")
    return f"partial: {', '.join(have)} (missing {first})" if have else f"no (missing {first})"


@command.command(name="info")
@click.argument("name")
def info_command(name):
    """Files, options, availability and the STATS table of one dataset."""
    import inspect

    from unigen.data import dataset_info

    info = dataset_info(name)
    click.echo(f"{info['name']} ({info['kind']}); splits: {', '.join(info['splits'])}")
    click.echo(f"options: {', '.join(f'{k}={v!r}' for k, v in info['options'].items())}")
    for raw in info["files"]:
        state = "present" if raw["present"] else "MISSING"
        click.echo(f"  [{state}] {raw['local']}" + (f"\n            from {raw['url']}" if raw["url"] else ""))
    click.echo("")
    click.echo(inspect.cleandoc(info["doc"]))


@command.command(name="fetch")
@click.argument("name")
@click.option("--force", is_flag=True, help="Download again even if the file is present.")
@click.option("--allow-unverified", is_flag=True, help="Also download files that have no recorded checksum.")
def fetch_command(name, force, allow_unverified):
    """Download the missing raw files of NAME into UNIGEN_DATA_DIR (checksums verified)."""
    from unigen.data.fetch import fetch

    fetch(name, force=force, allow_unverified=allow_unverified, log=click.echo)
