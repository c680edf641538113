"""``unigen predict-structure``: K candidate crystal structures per formula, ranked by likelihood.

    unigen predict-structure SrTiO3 -n 5 -o out.cif
    unigen predict-structure --input formulas.txt -n 20 -o out.cif        (one formula per line, or a CSV)
    unigen predict-structure --truth perov_5:test -n 20 -o out.cif      (compositions of the truth; match rate)

A formula is the content of one cell (``Sr2Ti2O6`` is a 10-atom cell). The output CIF holds one
data block per candidate (``<formula>_rank<r>``), formulas in input order, best candidate first.
With ``--truth`` the match rate and RMSE against the known structures are computed as
``unigen score --csp`` does (CDVAE protocol: StructureMatcher stol 0.5, ltol 0.3, angle_tol 10,
invalid candidates count as no match) for k = 1 (the top-ranked candidate) and k = n.
"""

from __future__ import annotations

import click

from unigen.commands._sampling import sampling_overrides, sampling_run_options
from unigen.pretrained import DEFAULT_CSP_MODEL


@click.command(name="predict-structure")
@click.argument("formula", required=False)
@click.option(
    "--model",
    "model_name",
    default=DEFAULT_CSP_MODEL,
    show_default=True,
    help="Shipped model name or checkpoint directory (family unigenx or uni3dar, trained on crystals).",
)
@click.option(
    "-n",
    "--num-candidates",
    type=click.IntRange(min=1, max=10_000),
    default=1,
    show_default=True,
    help="Candidates per formula.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="CIF file for the candidates (one data block each).",
)
@click.option(
    "--input",
    "input_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Formulas, one per line, or a CSV with a 'formula' column.",
)
@click.option(
    "--truth",
    "truth_spec",
    default=None,
    metavar="FILE_OR_DATASET",
    help="Known structures (CIF file or e.g. perov_5:test): predict their compositions and score.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N formulas / truths.")
@sampling_run_options(
    steps_help="Diffusion steps per slot (default: the model's); same as --set sampling.steps=N.",
    set_example="sampling.sampler=ddim",
    batch_size=512,
)
@click.option(
    "--rank-steps",
    type=click.IntRange(min=1, max=1000),
    default=20,
    show_default=True,
    help="Chain length of the likelihood estimate used to rank candidates.",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write every candidate's properties (and the scores) as JSON.",
)
def command(formula, model_name, num_candidates, output, input_file, truth_spec, limit, seed, steps, settings,
            rank_steps, batch_size, device, json_out):  # fmt: skip
    """Predict crystal structures for a formula (or many) and print the ranked candidates."""
    import time

    from unigen.checkpoint import load
    from unigen.csp import check_csp_model, predict_structures
    from unigen.errors import UsageError
    from unigen.training.engine import pick_device

    if output is not None and not output.lower().endswith(".cif"):
        raise UsageError(f"predict-structure writes CIF files: give -o NAME.cif, not {output}")
    names, compositions, truth = _compositions(formula, input_file, truth_spec, limit)
    options = sampling_overrides(settings, steps)
    model = load(model_name, device=pick_device(device))
    check_csp_model(model, f"model {model_name}")
    start = time.perf_counter()
    ranked = predict_structures(model, compositions, k=num_candidates, seed=seed, batch_size=batch_size,
                                progress=True, rank_steps=rank_steps, **options)  # fmt: skip
    seconds = time.perf_counter() - start
    scores = _score(ranked, truth) if truth is not None else None
    if output is not None:
        from unigen.io import write

        write(output, [c for candidates in ranked for c in candidates])
    _report(names, ranked, scores, output, seconds)
    if json_out:
        _write_json(json_out, names, ranked, scores, seconds, model_name)


def _compositions(formula, input_file, truth_spec, limit):
    """(names, compositions as Z arrays, truth crystals or None) from exactly one source."""
    from unigen.chem.formula import formula_of, parse_formula
    from unigen.errors import UsageError

    given = [x for x in (formula, input_file, truth_spec) if x is not None]
    if len(given) != 1:
        raise UsageError("give exactly one of FORMULA, --input FILE or --truth FILE_OR_DATASET")
    if truth_spec is not None:
        from unigen.commands.score import _reference_structures

        truth = _reference_structures(truth_spec, "test", "Crystal")[:limit]
        return [formula_of(c.atomic_numbers) for c in truth], [c.atomic_numbers for c in truth], truth
    names = [formula] if formula is not None else _read_formulas(input_file)[:limit]
    return names, [parse_formula(name) for name in names], None


def _read_formulas(path) -> list[str]:
    import csv
    from pathlib import Path

    from unigen.errors import UsageError

    file = Path(path)
    if not file.is_file():
        raise UsageError(f"no such file: {path}")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not a UTF-8 text file of formulas") from None
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if lines and "," in lines[0]:
        rows = list(csv.DictReader(lines))
        column = next((c for c in ("formula", "pretty_formula", "composition") if c in (rows[0] if rows else {})),
                      None)  # fmt: skip
        if column is None:
            raise UsageError(
                f"{path}: a CSV needs a 'formula' column, found {', '.join(csv.reader(lines[:1]).__next__())}"
            )
        lines = [row[column].strip() for row in rows]
    if not lines:
        raise UsageError(f"{path} holds no formulas")
    return lines


def _score(ranked, truth) -> dict:
    from unigen.chem.metrics.csp import csp_match

    best = csp_match([c[0] for c in ranked], truth, progress=True)
    out = {"k=1": _headline(best)}
    if max(len(c) for c in ranked) > 1:
        out[f"k={len(ranked[0])}"] = _headline(csp_match([list(c) for c in ranked], truth, progress=True))
    return out


def _headline(metrics: dict) -> dict:
    return {key: metrics[key] for key in ("match_rate", "rmse", "n", "n_matched", "k")}


def _report(names, ranked, scores, output, seconds) -> None:
    total = sum(len(c) for c in ranked)
    click.echo(
        f"{total} candidates for {len(names)} formula(s) in {seconds:.1f} s ({total / seconds:.1f} structures/s)"
    )
    if output is not None:
        click.echo(f"wrote {output}")
    if len(names) <= 10:
        for name, candidates in zip(names, ranked):
            click.echo(f"{name}:")
            click.echo("  rank  space group      nll (bits)  SMACT  dist>=0.5A  min dist (A)")
            for c in candidates:
                m = c.meta
                group = f"{m['space_group']} ({m['space_group_number']})" if m["space_group"] else "-"
                click.echo(f"  {m['rank']:>4}  {group:15s}  {m['nll_bits']:>10.2f}  {_yes(m['smact_valid']):>5}  "
                           f"{_yes(m['structure_valid']):>10}  {m['min_distance'] if m['min_distance'] is not None else '-':>12}")  # fmt: skip
    for label, s in (scores or {}).items():
        rmse = "n/a" if s["rmse"] is None else f"{s['rmse']:.4f}"
        click.echo(
            f"{label}: match rate {100 * s['match_rate']:.2f} % ({s['n_matched']} / {s['n']}), RMSE {rmse}"
        )


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _write_json(path, names, ranked, scores, seconds, model_name) -> None:
    import json

    from unigen.atomic import atomic_write

    payload = {
        "model": model_name,
        "seconds": round(seconds, 3),
        "scores": scores,
        "formulas": [
            {"formula": name, "candidates": [dict(c.meta) for c in candidates]}
            for name, candidates in zip(names, ranked)
        ],  # fmt: skip
    }
    with atomic_write(path) as handle:
        json.dump(payload, handle, indent=2)
