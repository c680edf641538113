"""``unigen tokenize FILE``: show the octree tokens of 3D structures, their statistics, or
check that they decode back (largest round-trip error per structure)."""

from __future__ import annotations

import click

DEFAULT_LEVELS = {"Molecule3D": 6, "Crystal": 8}  # Uni-3DAR: QM9 6, MP-20 8
STRUCTURE_FILES = "xyz, extxyz, sdf, cif or POSCAR"


@click.command("tokenize")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--level",
    "levels",
    type=click.IntRange(1, 16),
    default=None,
    help="Octree depth L (box of 2^L cells of 0.24 Å). Default: 6 for molecules, 8 for crystals.",
)
@click.option("--format", "file_format", default=None, help="File format, if the extension does not tell.")
@click.option("--stats", is_flag=True, help="Print token counts per structure instead of the tokens.")
@click.option(
    "--check", is_flag=True, help="Decode the tokens again and report the largest round-trip error."
)
def command(file, levels, file_format, stats, check):
    """Tokenize the 3D molecules or crystals of FILE with the Uni-3DAR octree tokenizer."""
    structures = _read_structures(file, file_format)
    tokenizers = {}
    rows = []
    for index, structure in enumerate(structures, start=1):
        kind = type(structure).__name__
        tokenizer = tokenizers.setdefault(kind, _tokenizer(levels or DEFAULT_LEVELS[kind]))
        record = structure.meta.get("record", index)
        sequence = _encode(tokenizer, structure, file, record)
        if check or stats:
            rows.append(_row(tokenizer, structure, sequence, record, check))
        else:
            _print_tokens(tokenizer, sequence, structure, record)
    if stats:
        _print_stats(rows)
    if check:
        _print_check(rows, tokenizers)


def _read_structures(path, file_format) -> list:
    from unigen.errors import UnigenError
    from unigen.io import format_from_path, read

    options = {"kind": "molecule3d"} if format_from_path(path, file_format).name == "sdf" else {}
    result = read(path, format=file_format, strict=True, **options).raise_if_empty()
    for index, record in enumerate(result.records, start=1):
        if type(record).__name__ not in DEFAULT_LEVELS:
            raise UnigenError(
                f"{path}: record {index} is a {type(record).__name__}; tokenize needs 3D molecules "
                f"or crystals ({STRUCTURE_FILES})"
            )
    return result.records


def _tokenizer(levels: int):
    from unigen.tokenizers.octree import OctreeTokenizer

    return OctreeTokenizer(levels=levels)


def _encode(tokenizer, structure, path, record):
    from unigen.errors import RecordError, UnigenError

    try:
        return tokenizer.encode(structure)
    except UnigenError as err:
        raise RecordError(path, record, str(err)) from None


def _formula(atomic_numbers) -> str:
    from collections import Counter

    from ase.data import chemical_symbols

    counts = Counter(chemical_symbols[int(z)] for z in atomic_numbers)
    return "".join(f"{symbol}{n if n > 1 else ''}" for symbol, n in sorted(counts.items()))


def _print_tokens(tokenizer, sequence, structure, record) -> None:
    click.echo(
        f"# record {record}: {_formula(structure.atomic_numbers)}, {structure.num_atoms} atoms, "
        f"{len(sequence)} tokens (levels {tokenizer.levels})"
    )
    click.echo(f"{'index':>5} {'tree':>4} {'level':>5} {'token':<12} {'fine':<13} centre (Å, box frame)")
    for i in range(len(sequence)):
        leaf = sequence.level[i] == 0
        fine = " ".join(str(b) for b in sequence.fine[i]) if leaf else "-"
        centre = " ".join(f"{c:.2f}" for c in sequence.centre[i])
        click.echo(
            f"{i:>5} {sequence.tree[i]:>4} {sequence.level[i]:>5} {tokenizer.token_name(sequence.ids[i]):<12} "
            f"{fine:<13} {centre}"
        )


def _row(tokenizer, structure, sequence, record, check: bool) -> dict:
    from unigen.tokenizers.octree import KIND_TREE, roundtrip_error, uncompressed_length

    row = {
        "record": record,
        "formula": _formula(structure.atomic_numbers),
        "atoms": structure.num_atoms,
        "tokens": len(sequence),
        "tree": int((sequence.kind == KIND_TREE).sum()),
        "uncompressed": uncompressed_length(sequence),
        "levels": tokenizer.levels,
        "periodic": sequence.periodic,
    }
    if check:
        row.update(roundtrip_error(tokenizer, structure))
        row["ok"] = (
            row["species_equal"]
            and row["coord_error"] <= tokenizer.resolution / 2 + 1e-9
            and row["lattice_error"] <= 1e-3
        )
    return row


def _print_stats(rows: list[dict]) -> None:
    click.echo(
        f"{'record':>6} {'formula':<16} {'atoms':>5} {'tokens':>6} {'tree':>5} {'uncompressed':>12} {'masked':>6}"
    )
    for r in rows:
        click.echo(
            f"{r['record']:>6} {r['formula']:<16} {r['atoms']:>5} {r['tokens']:>6} {r['tree']:>5} "
            f"{r['uncompressed']:>12} {2 * r['tokens']:>6}"
        )
    for name, reduce in (("mean", lambda v: sum(v) / len(v)), ("max", max)):
        values = [reduce([r[k] for r in rows]) for k in ("atoms", "tokens", "tree", "uncompressed")]
        click.echo(
            f"{name:>6} {'':<16} {values[0]:>5.1f} {values[1]:>6.1f} {values[2]:>5.1f} {values[3]:>12.1f} "
            f"{2 * values[1]:>6.1f}"
        )


def _print_check(rows: list[dict], tokenizers: dict) -> None:
    from unigen.errors import UnigenError

    click.echo(
        f"{'record':>6} {'formula':<16} {'atoms':>5} {'tokens':>6} {'coord_err_A':>11} {'lattice_err_A':>13} "
        f"{'species':>7} {'ok':>3}"
    )
    for r in rows:
        lattice = f"{r['lattice_error']:.2e}" if r["periodic"] else "-"
        click.echo(
            f"{r['record']:>6} {r['formula']:<16} {r['atoms']:>5} {r['tokens']:>6} {r['coord_error']:>11.5f} "
            f"{lattice:>13} {'same' if r['species_equal'] else 'DIFF':>7} {'yes' if r['ok'] else 'NO':>3}"
        )
    worst = max(rows, key=lambda r: r["coord_error"])
    limit = next(iter(tokenizers.values())).resolution / 2
    click.echo(
        f"largest coordinate error {worst['coord_error']:.5f} Å (record {worst['record']}; limit {limit:.4f} Å), "
        f"largest lattice error {max(r['lattice_error'] for r in rows):.2e} Å (limit 1e-3 Å)"
    )
    failed = [str(r["record"]) for r in rows if not r["ok"]]
    if failed:
        raise UnigenError(f"round trip failed for record(s) {', '.join(failed)}")
