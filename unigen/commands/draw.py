"""``unigen draw FILE -o grid.png``: a picture of the structures in any file unigen reads."""

from __future__ import annotations

import click

from unigen.draw import MAX_ITEMS, PER_ROW


@click.command("draw")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="PNG file to write.")
@click.option("--format", "file_format", default=None, help="FILE's format, if the extension does not tell.")
@click.option(
    "--max", "max_items", type=click.IntRange(1, 500), default=MAX_ITEMS, show_default=True,
    help="Draw at most this many records (the first ones).",
)  # fmt: skip
@click.option(
    "--per-row", type=click.IntRange(1, 20), default=PER_ROW, show_default=True, help="Pictures per row."
)
def command(file, output, file_format, max_items, per_row):
    """Draw FILE: molecules as a grid with SMILES, 3D molecules and crystal cells with ASE, graphs with networkx.

    \b
    Examples:
      unigen draw m.sdf -o grid.png
      unigen draw samples.txt --format smi -o grid.png --max 12
      unigen draw out.cif -o cells.png
    """
    from unigen.draw import check_png_path, draw_records
    from unigen.io import read

    check_png_path(output)
    result = read(file, format=file_format).raise_if_empty()
    drawn = draw_records(result.records, output, max_items=max_items, per_row=per_row)
    skipped = f" ({len(result.errors)} unreadable records skipped)" if result.errors else ""
    click.echo(f"drew {drawn} of {len(result.records)} structures from {file} to {output}{skipped}")
