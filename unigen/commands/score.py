"""``unigen score``: score generated structures with the field's standard metrics.

    unigen score FILE --kind molecules|molecules3d|crystals|graphs [--protocol P]
                 [--train FILE_OR_DATASET] [--test FILE_OR_DATASET] [--json OUT]
    unigen score --csp PRED [--csp PRED2 ...] --truth FILE_OR_DATASET [--json OUT]

A dataset is named ``name`` or ``name:split`` (``qm9``, ``perov_5:test``); a bare name means the
train split for ``--train`` and the test split for ``--test`` / ``--truth``. Malformed records in
FILE are counted invalid and listed (record number + reason) in the JSON. Heavy libraries are
imported only when the command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from unigen.errors import UnigenError, UsageError

PROTOCOLS = {
    "molecules": ("gdss", "digress", "moses"),
    "molecules3d": ("edm", "geom"),
    "crystals": ("cdvae",),
    "graphs": ("gdss", "spectre"),
}
ALL_PROTOCOLS = sorted({p for protocols in PROTOCOLS.values() for p in protocols})


@click.command("score")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--kind", type=click.Choice(list(PROTOCOLS)), help="What FILE holds.")
@click.option("--protocol", type=click.Choice(ALL_PROTOCOLS),
              help="Metric protocol; default gdss (molecules, graphs), edm (molecules3d), cdvae (crystals).")  # fmt: skip
@click.option(
    "--train", "train_spec", metavar="FILE_OR_DATASET", help="Training set (novelty, MOSES, graph train MMD)."
)
@click.option(
    "--test", "test_spec", metavar="FILE_OR_DATASET", help="Reference set (FCD, MMDs, COV, Wasserstein)."
)
@click.option("--dataset", help="Crystals: dataset whose COV cut-offs apply (default: the --test dataset).")
@click.option("--csp", "csp_files", multiple=True, type=click.Path(dir_okay=False), metavar="PRED",
              help="CSP predictions, one per true structure, in order; repeat for k candidates.")  # fmt: skip
@click.option("--truth", "truth_spec", metavar="FILE_OR_DATASET", help="CSP: the true structures.")
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False),
    metavar="OUT",
    help="Also write all results as JSON.",
)
@click.option("--jobs", "-j", "n_jobs", type=int, default=None, help="Worker processes (default: all cores).")
@click.option(
    "--progress/--no-progress", default=None, help="Progress bars (default: when stderr is a terminal)."
)
def command(
    file, kind, protocol, train_spec, test_spec, dataset, csp_files, truth_spec, json_out, n_jobs, progress
):
    """Score FILE (or CSP predictions), print a table of metrics, optionally write JSON.

    \b
    Examples:
      unigen score gen.smi --kind molecules --protocol gdss --train qm9 --test qm9
      unigen score gen.xyz --kind molecules3d --json scores.json
      unigen score gen.cif --kind crystals --test perov_5
      unigen score --csp pred.cif --truth perov_5:test
      unigen score --csp run1.cif --csp run2.cif --truth truth.cif     (k = 2)
    """
    progress = sys.stderr.isatty() if progress is None else progress
    if csp_files or truth_spec:
        payload = _score_csp(file, csp_files, truth_spec, n_jobs, progress)
    else:
        payload = _score_file(file, kind, protocol, train_spec, test_spec, dataset, n_jobs, progress)
    click.echo(_table(payload))
    if json_out:
        from unigen.chem.metrics.report import write_json

        write_json(json_out, payload)


# ---------------------------------------------------------------------------------------
# Scoring one file


def _score_file(file, kind, protocol, train_spec, test_spec, dataset, n_jobs, progress) -> dict:
    if file is None:
        raise UsageError("missing FILE (or use --csp PRED --truth TRUTH)")
    if kind is None:
        raise UsageError(f"--kind is required: one of {', '.join(PROTOCOLS)}")
    protocol = protocol or PROTOCOLS[kind][0]
    if protocol not in PROTOCOLS[kind]:
        raise UsageError(
            f"protocol {protocol!r} does not apply to {kind}; choose from {', '.join(PROTOCOLS[kind])}"
        )
    items, record_ids, malformed = _read_input(file, kind)
    options = dict(n_jobs=n_jobs, progress=progress)
    try:
        metrics = _SCORERS[kind](items, protocol, train_spec, test_spec, dataset, options)
    except ValueError as err:  # inconsistent inputs found by a metric
        raise UnigenError(f"{file}: {err}") from None
    _attach_record_ids(metrics, record_ids)
    return {"kind": kind, "protocol": protocol, "input": str(file), "n_records": len(items),
            "malformed": malformed, "metrics": metrics}  # fmt: skip


def _score_molecules(items, protocol, train_spec, test_spec, dataset, options) -> dict:
    from unigen.chem.metrics.molecules import score_molecules

    train = _reference_smiles(train_spec, "train")
    test = _reference_smiles(test_spec, "test")
    return score_molecules(items, train_smiles=train, test_smiles=test, protocol=protocol, **options)


def _score_molecules3d(items, protocol, train_spec, test_spec, dataset, options) -> dict:
    from unigen.chem.metrics.molecules3d import score_molecules3d

    train = _reference_smiles(train_spec, "train")
    return score_molecules3d(
        _only(items, "Molecule3D", "3D molecules"), protocol, train_smiles=train, **options
    )


def _score_crystals(items, protocol, train_spec, test_spec, dataset, options) -> dict:
    from unigen.chem.metrics.crystals import COV_CUTOFFS, score_crystals

    if dataset is not None and dataset not in COV_CUTOFFS:
        raise UsageError(f"no COV cut-offs for dataset {dataset!r}; choose from {', '.join(COV_CUTOFFS)}")
    test = None if test_spec is None else _reference_structures(test_spec, "test", "Crystal")
    dataset = dataset or (
        None if test_spec is None or Path(test_spec).exists() else test_spec.partition(":")[0]
    )
    return score_crystals(_only(items, "Crystal", "crystals"), test=test, dataset=dataset, **options)


def _score_graphs(items, protocol, train_spec, test_spec, dataset, options) -> dict:
    from unigen.chem.metrics.graphs import score_graphs

    if test_spec is None:
        raise UsageError("graph metrics compare with a reference set: give --test FILE_OR_DATASET")
    reference = _reference_structures(test_spec, "test", "Graph")
    train = None if train_spec is None else _reference_structures(train_spec, "train", "Graph")
    generated = _only(items, "Graph", "graphs")
    malformed = sum(g is None for g in generated)
    metrics = score_graphs(
        [g for g in generated if g is not None], reference, protocol=protocol, train=train, **options
    )
    metrics.setdefault("n_malformed", malformed)
    return metrics


_SCORERS = {
    "molecules": _score_molecules,
    "molecules3d": _score_molecules3d,
    "crystals": _score_crystals,
    "graphs": _score_graphs,
}

# ---------------------------------------------------------------------------------------
# CSP


def _score_csp(file, csp_files, truth_spec, n_jobs, progress) -> dict:
    from unigen.chem.metrics.csp import csp_match

    if file is not None:
        raise UsageError("give either FILE or --csp PRED --truth TRUTH, not both")
    if not csp_files or truth_spec is None:
        raise UsageError("CSP scoring needs both --csp PRED and --truth FILE_OR_DATASET")
    truth = _reference_structures(truth_spec, "test", "Crystal")
    candidate_sets, malformed = [], []
    for path in csp_files:
        items, _, bad = _read_input(path, "crystals")
        if len(items) != len(truth):
            raise UsageError(f"{path} has {len(items)} records but the truth {truth_spec} has {len(truth)}")
        candidate_sets.append(_only(items, "Crystal", "crystals"))
        malformed += [dict(item, file=str(path)) for item in bad]
    pred = candidate_sets[0] if len(candidate_sets) == 1 else [list(c) for c in zip(*candidate_sets)]
    metrics = csp_match(pred, truth, n_jobs=n_jobs, progress=progress)
    return {"kind": "csp", "protocol": "cdvae", "input": [str(p) for p in csp_files], "truth": str(truth_spec),
            "n_records": len(truth), "malformed": malformed, "metrics": metrics}  # fmt: skip


# ---------------------------------------------------------------------------------------
# Inputs


def _read_input(path, kind) -> tuple[list, list[int], list[dict]]:
    """Records of FILE in file order, ``None`` where a record is malformed.

    Returns (items, 1-based record numbers, [{"record", "reason"}] for the malformed ones).
    """
    if not Path(path).is_file():
        raise UsageError(f"no such file: {path}")
    result = _read_file(path, kind)
    bad = {error.record: error.reason for error in result.errors}
    records = iter(result.records)
    numbers = range(1, len(result.records) + len(bad) + 1)
    items = [None if n in bad else next(records) for n in numbers]
    if not any(item is not None for item in items):
        result.raise_if_empty()
    malformed = [{"record": n, "reason": bad[n]} for n in numbers if n in bad]
    return items, list(numbers), malformed


def _read_file(path, kind):
    if kind == "molecules":
        return _read_smiles_file(path)
    from unigen.io import read

    return read(path)


def _read_smiles_file(path):
    """SMILES of a SMILES/CSV file, or of the molecules of any other molecule file (SDF)."""
    from unigen.io import format_from_path, read, read_smiles

    if format_from_path(path).name in ("smi", "csv"):
        return read_smiles(path)
    result = read(path)
    result.records = [_graph_smiles(r) for r in result.records]
    return result


def _graph_smiles(record) -> str | None:
    from unigen.chem.convert import graph_to_smiles

    if isinstance(record, str):
        return record
    try:
        return graph_to_smiles(record)
    except (ValueError, AttributeError):  # not a valid molecule: scored as invalid
        return None


def _reference_smiles(spec, default_split) -> list[str] | None:
    if spec is None:
        return None
    if Path(spec).exists():
        return [s for s in _read_smiles_file(spec).records if s is not None]
    from unigen.data import load_smiles

    name, split = _dataset_spec(spec, default_split)
    return list(load_smiles(name, split))


def _reference_structures(spec, default_split, type_name) -> list:
    if Path(spec).exists():
        from unigen.io import read

        records = read(spec).raise_if_empty().records
    else:
        from unigen.data import load_dataset

        records = list(load_dataset(*_dataset_spec(spec, default_split)))
    return _only(records, type_name, f"{type_name} records", source=spec)


def _dataset_spec(spec: str, default_split: str) -> tuple[str, str]:
    from unigen.data import list_datasets

    name, _, split = spec.partition(":")
    if name not in list_datasets():
        raise UsageError(f"no such file or dataset: {spec}")
    return name, split or default_split


def _only(items: list, type_name: str, what: str, source: str | None = None) -> list:
    """Check every (non-missing) record is a ``type_name``; a one-line error otherwise."""
    for index, item in enumerate(items):
        if item is not None and type(item).__name__ != type_name:
            where = source or "input"
            raise UsageError(f"{where}: record {index + 1} is a {type(item).__name__}, expected {what}")
    return items


def _attach_record_ids(metrics: dict, record_ids: list[int]) -> None:
    """Metrics report list positions of invalid inputs; add the file's 1-based record numbers."""
    if "invalid_indices" in metrics:
        metrics["invalid_records"] = [record_ids[i] for i in metrics["invalid_indices"]]
    for item in metrics.get("invalid") or []:
        if isinstance(item, dict) and "index" in item:
            item["record"] = record_ids[item["index"]]


# ---------------------------------------------------------------------------------------
# Output


def _table(payload: dict) -> str:
    from unigen.chem.metrics.report import format_table

    metrics = payload["metrics"]
    title = f"{payload['kind']} ({payload['protocol']}): {payload['n_records']} records"
    notes = []
    if payload["malformed"]:
        notes.append(
            f"{len(payload['malformed'])} malformed records counted invalid (listed in --json output)"
        )
    invalid = metrics.get("invalid_indices")
    if invalid:
        notes.append(f"{len(invalid)} invalid records in total")
    return format_table(metrics, title=title, notes=notes)
