"""``unigen score``: score generated structures with the field's standard metrics.

    unigen score FILE [--kind molecules|molecules3d|crystals|graphs] [--format F] [--protocol P]
                 [--train FILE_OR_DATASET] [--test FILE_OR_DATASET] [--json OUT] [--png OUT]
    unigen score --csp PRED [--csp PRED2 ...] --truth FILE_OR_DATASET [--json OUT]

``--kind`` is inferred from FILE when not given: SMILES files (.smi .txt .csv) hold molecules,
an SDF with 3D coordinates molecules3d (2D: molecules), CIF / POSCAR crystals, XYZ 3D molecules
or crystals, edge lists / graph JSON graphs. A FILE whose records are not of the kind asked
for is a one-line error (exit code 2).

Both sides of a comparison are built the same way: a training *file* for novelty goes
through the protocol's construction (largest fragment, validity filter) like the generated
molecules, so a file scored against itself has novelty 0. CSP reports the match rate over
all items and, separately, over the items whose truth is valid.

A dataset is named ``name`` or ``name:split`` (``qm9``, ``perov_5:test``); a bare name means the
train split for ``--train`` and the test split for ``--test`` / ``--truth``. Malformed records in
FILE are counted invalid and listed (record number + reason) in the JSON. Heavy libraries are
imported only when the command runs.
"""

from __future__ import annotations

from dataclasses import dataclass
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
@click.option(
    "--kind", type=click.Choice(list(PROTOCOLS)), help="What FILE holds (default: inferred from FILE)."
)
@click.option(
    "--format",
    "file_format",
    metavar="FORMAT",
    help="FILE's format when its extension does not tell (smi, sdf, cif, ...).",
)
@click.option("--protocol", type=click.Choice(ALL_PROTOCOLS),
              help="Metric protocol; default gdss (molecules, graphs), edm (molecules3d), cdvae (crystals).")  # fmt: skip
@click.option(
    "--train", "train_spec", metavar="FILE_OR_DATASET", help="Training set (novelty, MOSES, graph train MMD)."
)
@click.option(
    "--test", "test_spec", metavar="FILE_OR_DATASET", help="Reference set (FCD, MMDs, COV, Wasserstein)."
)
@click.option("--dataset", help="Crystals: dataset whose COV cut-offs apply; graphs: planar, sbm or tree, "
              "whose validity (and V.U.N.) applies (default: the --test / --train dataset).")  # fmt: skip
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
    "--png",
    "png_out",
    type=click.Path(dir_okay=False),
    metavar="OUT",
    help="Also draw FILE's structures (molecules: a grid with SMILES) to a PNG.",
)
@click.option(
    "--hist",
    "hist_out",
    type=click.Path(dir_okay=False),
    metavar="OUT",
    help="Also plot property histograms of FILE against --test (else --train) to a PNG "
    "(molecules: QED, logP, MW, size; crystals: size, density; graphs: degree, clustering).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress (default: a bar on a terminal, a plain line every ~10 s when piped).",
)
def command(
    file, kind, file_format, protocol, train_spec, test_spec, dataset, csp_files, truth_spec, json_out,
    png_out, hist_out, n_jobs, progress,
):  # fmt: skip
    """Score FILE (or CSP predictions), print a table of metrics, optionally write JSON.

    \b
    Examples:
      unigen score gen.smi --protocol gdss --train qm9 --test qm9
      unigen score gen.xyz --json scores.json               (kind inferred: molecules3d)
      unigen score samples.txt --format smi --kind molecules
      unigen score gen.cif --test perov_5 --png cells.png
      unigen score gen.smi --test qm9 --hist properties.png
      unigen score --csp pred.cif --truth perov_5:test
      unigen score --csp run1.cif --csp run2.cif --truth truth.cif     (k = 2)
    """
    # None: unigen.progress decides (a bar on a terminal, plain lines when piped)
    from unigen.draw import check_png_path

    for out in (png_out, hist_out):
        if out:
            check_png_path(out)
    if hist_out and (csp_files or truth_spec):
        raise UsageError("--hist plots FILE against a reference set; it does not apply to --csp")
    if hist_out and train_spec is None and test_spec is None:
        raise UsageError("--hist compares FILE with a reference set: give --test or --train")
    if csp_files or truth_spec:
        payload = _score_csp(file, csp_files, truth_spec, n_jobs, progress)
    else:
        reading = _Reading(file, kind, file_format)
        payload, items = _score_file(reading, protocol, train_spec, test_spec, dataset, n_jobs, progress)
    click.echo(_table(payload))
    if json_out:
        from unigen.chem.metrics.report import write_json

        write_json(json_out, payload)
    if png_out:
        from unigen.draw import draw_file

        draw_file(csp_files[0] if csp_files else file, png_out, file_format=file_format)
        click.echo(f"drew {png_out}")
    if hist_out:
        names = _plot_properties(items, payload["kind"], test_spec, train_spec, hist_out)
        click.echo(f"plotted {', '.join(names)} against {test_spec or train_spec} in {hist_out}")


# the reference side of a histogram is subsampled to this many records (seeded)
HIST_REFERENCE = 5000


def _plot_properties(items, kind, test_spec, train_spec, out) -> list[str]:
    """Histograms of FILE's records against the reference set (the scored kind on both sides)."""
    import random

    from unigen.draw import property_histograms

    reference_spec, split = (test_spec, "test") if test_spec is not None else (train_spec, "train")
    if kind == "molecules":
        reference = _reference_smiles(reference_spec, split)
    else:
        type_name = next(name for name, of in KIND_OF.items() if of == kind)
        reference = _reference_structures(reference_spec, split, type_name)
    if len(reference) > HIST_REFERENCE:
        reference = random.Random(0).sample(reference, HIST_REFERENCE)
    return property_histograms(items, reference, out, reference_label=reference_spec)


# ---------------------------------------------------------------------------------------
# Scoring one file


def _score_file(reading, protocol, train_spec, test_spec, dataset, n_jobs, progress) -> tuple[dict, list]:
    """(the report, FILE's records as scored: None where malformed)."""
    if reading.path is None:
        raise UsageError("missing FILE (or use --csp PRED --truth TRUTH)")
    items, record_ids, malformed, kind = _read_input(reading.path, reading.kind, reading.format)
    protocol = protocol or PROTOCOLS[kind][0]
    if protocol not in PROTOCOLS[kind]:
        raise UsageError(
            f"protocol {protocol!r} does not apply to {kind}; choose from {', '.join(PROTOCOLS[kind])}"
        )
    options = dict(n_jobs=n_jobs, progress=progress)
    try:
        metrics = _SCORERS[kind](items, protocol, train_spec, test_spec, dataset, options)
    except ValueError as err:  # inconsistent inputs found by a metric
        raise UnigenError(f"{reading.path}: {err}") from None
    _attach_record_ids(metrics, record_ids)
    payload = {"kind": kind, "protocol": protocol, "input": str(reading.path), "n_records": len(items),
               "malformed": malformed, "metrics": metrics}  # fmt: skip
    return payload, items


@dataclass
class _Reading:
    """FILE and how to read it: ``kind`` and ``format`` None mean 'infer from the file'."""

    path: str | None
    kind: str | None = None
    format: str | None = None


def _score_molecules(items, protocol, train_spec, test_spec, dataset, options) -> dict:
    from unigen.chem.metrics.molecules import score_molecules

    train = _reference_smiles(train_spec, "train")
    if train is not None and Path(train_spec).exists():
        train = _as_generated(train, protocol, options)
    test = _reference_smiles(test_spec, "test")
    scaffolds = _scaffold_smiles(test_spec) if protocol == "moses" else None
    return score_molecules(
        items,
        train_smiles=train,
        test_smiles=test,
        test_scaffold_smiles=scaffolds,
        protocol=protocol,
        **options,
    )


def _scaffold_smiles(test_spec) -> list[str] | None:
    """MOSES's second reference (the ``/TestSF`` columns): the ``test_scaffolds`` split of the
    dataset that ``--test`` names by its test split; None for a file or a dataset without one."""
    if test_spec is None or Path(test_spec).exists():
        return None
    from unigen.data import get_dataset, load_smiles

    name, split = _dataset_spec(test_spec, "test")
    if split != "test" or "test_scaffolds" not in get_dataset(name).splits:
        return None
    return list(load_smiles(name, "test_scaffolds"))


def _as_generated(smiles: list, protocol: str, options: dict) -> list[str]:
    """A training file's SMILES built like the generated ones (largest fragment, valid only),
    so novelty compares like with like (a salt cut on one side only is not 'novel')."""
    from functools import partial

    from unigen.chem.metrics import parallel_map
    from unigen.chem.metrics.molecules import scored_smiles

    built = parallel_map(
        partial(scored_smiles, protocol=protocol),
        smiles,
        options["n_jobs"],
        options["progress"],
        "training set",
    )
    return [s for s in built if s is not None]


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
    validity = _graph_validity(dataset, test_spec, train_spec)
    if train_spec is None and validity is not None and not Path(test_spec).exists():
        train_spec = f"{test_spec.partition(':')[0]}:train"  # V.U.N. needs the training graphs
    reference = _reference_structures(test_spec, "test", "Graph")
    train = None if train_spec is None else _reference_structures(train_spec, "train", "Graph")
    generated = _only(items, "Graph", "graphs")
    metrics = score_graphs(generated, reference, protocol=protocol, train=train, validity=validity, **options)
    metrics.setdefault("n_malformed", sum(g is None for g in generated))
    if validity is not None:
        metrics.update(validity_kind=validity, train=train_spec)
    return metrics


def _graph_validity(dataset, *specs) -> str | None:
    """The SPECTRE validity that applies: --dataset, else the first of --test / --train naming a
    dataset that has one (planar, sbm, tree); None for other graphs."""
    from unigen.chem.metrics.graphs import VALIDITY_KINDS

    if dataset is not None:
        if dataset not in VALIDITY_KINDS:
            raise UsageError(
                f"no graph validity for dataset {dataset!r}; choose from {', '.join(VALIDITY_KINDS)}"
            )
        return dataset
    names = [spec.partition(":")[0] for spec in specs if spec is not None and not Path(spec).exists()]
    return next((name for name in names if name in VALIDITY_KINDS), None)


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
        items, _, bad, _ = _read_input(path, "crystals")
        if len(items) != len(truth):
            raise UsageError(f"{path} has {len(items)} records but the truth {truth_spec} has {len(truth)}")
        candidate_sets.append(_only(items, "Crystal", "crystals"))
        malformed += [dict(item, file=str(path)) for item in bad]
    pred = candidate_sets[0] if len(candidate_sets) == 1 else [list(c) for c in zip(*candidate_sets)]
    metrics = csp_match(pred, truth, n_jobs=n_jobs, progress=progress)
    metrics.update(_match_rate_over_valid_truths(metrics))
    return {"kind": "csp", "protocol": "cdvae", "input": [str(p) for p in csp_files], "truth": str(truth_spec),
            "n_records": len(truth), "malformed": malformed, "metrics": metrics}  # fmt: skip


def _match_rate_over_valid_truths(metrics: dict) -> dict:
    """An invalid truth cannot be matched (invalid candidates never match): the rate without them."""
    invalid = set(metrics.get("truth_invalid") or [])
    kept = [item for item in metrics["per_structure"] if item["index"] not in invalid]
    rate = sum(item["matched"] for item in kept) / len(kept) if kept else None
    return {"match_rate_valid_truth": rate}


# ---------------------------------------------------------------------------------------
# Inputs


def _read_input(path, kind, file_format=None) -> tuple[list, list[int], list[dict], str]:
    """Records of FILE in file order, ``None`` where a record is malformed, and FILE's kind.

    Returns (items, 1-based record numbers, [{"record", "reason"}] for the malformed ones, kind).
    """
    if not Path(path).is_file():
        raise UsageError(f"no such file: {path}")
    result, kind = _read_file(path, kind, file_format)
    bad = {error.record: error.reason for error in result.errors}
    records = iter(result.records)
    numbers = range(1, len(result.records) + len(bad) + 1)
    items = [None if n in bad else next(records) for n in numbers]
    if not any(item is not None for item in items):
        result.raise_if_empty()
    malformed = [{"record": n, "reason": f"{path}: {bad[n]}"} for n in numbers if n in bad]
    return items, list(numbers), malformed, kind


# the kind each record type is scored as
KIND_OF = {"str": "molecules", "MolGraph": "molecules", "Molecule3D": "molecules3d",
           "Crystal": "crystals", "Graph": "graphs"}  # fmt: skip


def _read_file(path, kind, file_format=None):
    """(ReadResult, kind) of FILE: SMILES strings for molecules, records otherwise.

    ``kind`` None: inferred from the format (and, for SDF, whether it has 3D coordinates);
    records that do not fit the kind asked for are a one-line UsageError.
    """
    from unigen.io import format_from_path, read, read_smiles

    fmt = format_from_path(path, file_format).name
    if fmt in ("smi", "csv"):
        _check_kind(path, kind, "molecules", "SMILES")
        return read_smiles(path, format=fmt), "molecules"
    if fmt == "sdf":
        return _read_sdf(path, kind)
    result = read(path, format=fmt)
    found = next((KIND_OF[type(r).__name__] for r in result.records), None)
    if found is None:
        result.raise_if_empty()
    kind = kind or found
    _only(result.records, _TYPE_OF[kind], kind, source=str(path))
    return result, kind


def _read_sdf(path, kind):
    from unigen.io import read
    from unigen.io.sdf import has_3d_coordinates

    three_d = has_3d_coordinates(path)
    kind = kind or ("molecules3d" if three_d else "molecules")
    if kind == "molecules3d":
        if not three_d:
            raise UsageError(f"{path}: the SDF has 2D coordinates only; score it as --kind molecules")
        return read(path, format="sdf", kind="molecule3d"), kind
    _check_kind(path, kind, "molecules", "molecules")
    result = read(path, format="sdf")
    result.records = [_graph_smiles(r) for r in result.records]
    return result, kind


def _check_kind(path, asked, found: str, what: str) -> None:
    if asked is not None and asked != found:
        raise UsageError(f"{path} holds {what} ({found}), not {asked}; drop --kind or pass --kind {found}")


_TYPE_OF = {"molecules": "MolGraph", "molecules3d": "Molecule3D", "crystals": "Crystal", "graphs": "Graph"}


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
        return [s for s in _read_file(spec, "molecules")[0].records if s is not None]
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
            number = getattr(item, "meta", {}).get("record", index + 1)
            found = KIND_OF.get(type(item).__name__, type(item).__name__)
            raise UsageError(
                f"{source or 'input'}: record {number} is a {type(item).__name__} ({found}), expected {what}"
            )
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
    if metrics.get("n_truth_invalid"):
        notes.append(
            f"{metrics['n_truth_invalid']} true structures fail the validity check themselves, so no"
            " prediction can match them; match_rate_valid_truth leaves them out"
        )
    return format_table(metrics, title=title, notes=notes)
