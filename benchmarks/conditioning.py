"""Property-conditioned generation: how close RDKit's value of the samples comes to the target.

    python benchmarks/conditioning.py --model runs/pard-qm9-qed-logp/checkpoints/step_00010000 \
        --target qed=0.35 --target qed=0.45 --target qed=0.55 \
        --target logp=-0.5 --target logp=0.3 --target logp=1.0 -n 1000 --guidance 2.0 [--threads 1]

For each target the conditioned model samples ``n`` molecules at that target (``unigen generate
--condition NAME=VALUE --guidance W``) and the same model samples ``n`` molecules with no target
(its unconditional mode, all conditions dropped; ``--baseline`` samples another, unconditioned
model instead). On the valid molecules (GDSS protocol, after correction) RDKit computes the
property; printed per target: the mean absolute error target vs RDKit value, the baseline's mean
absolute deviation from the same target (the "unconditioned spread"), validity without correction
and after it (both sides), and the conditioned samples' uniqueness.

Crystals conditioned on a dataset column no code can compute (Perov-5's ``heat_ref``, a DFT
heat of formation) are read back by composition: ``--lookup perov_5`` takes each sample's value
from the dataset rows with the same reduced formula (val, test and the dev train rows; their
mean where the A and B sites of one formula were computed both ways), and the
share of samples found is printed beside the MAE (samples with a formula outside the dataset
are not counted):

    python benchmarks/conditioning.py --model runs/unigenx-perov5-heat-cpu --lookup perov_5 \
        --target heat_ref=0.5 --target heat_ref=1.4 --target heat_ref=2.5 -n 1000 --guidance 2.0
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from unigen.checkpoint import load
from unigen.conditioning import parse_targets, record_value
from unigen.generation import generate


def property_values(result, name: str, lookup: dict | None = None) -> np.ndarray:
    """The property of every valid sample: RDKit / the record's own column, or (``lookup``) the
    dataset's value for the sample's reduced formula, NaN where the formula is not in it."""
    if lookup is None:
        return np.array([record_value(r, name) for r in result.records])
    return np.array([lookup.get(_formula(r.atomic_numbers), np.nan) for r in result.records])


def formula_lookup(dataset: str, name: str) -> dict:
    """{reduced formula: value of column ``name``} over the dataset's available splits; the mean
    where several rows share a formula (Perov-5: the A and B sites swapped, 8,596 rows, 6,704
    formulas)."""
    from unigen.data.registry import load_dataset

    table = {}
    for split, options in (("val", {}), ("test", {}), ("train", {"subset": "dev"})):
        for crystal in load_dataset(dataset, split, **options):
            table.setdefault(_formula(crystal.atomic_numbers), []).append(float(crystal.meta[name]))
    return {key: float(np.mean(values)) for key, values in table.items()}


def _formula(atomic_numbers) -> tuple:
    """The reduced composition as sorted (Z, count) pairs: one key per formula, in any atom order."""
    from collections import Counter
    from math import gcd

    counts = Counter(int(z) for z in atomic_numbers)
    common = gcd(*counts.values())
    return tuple(sorted((z, n // common) for z, n in counts.items()))


def _shown(value) -> str:
    """A summary value, or "n/a" where the record kind has none (crystals: no valency correction)."""
    return "n/a" if value is None else f"{value:.3f}"


def _distance(values: np.ndarray, target: float) -> tuple[float, float]:
    """Mean |value - target| over the values found, and the share found."""
    found = ~np.isnan(values)
    return float(np.abs(values[found] - target).mean()) if found.any() else float("nan"), found.mean()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True)
    parser.add_argument(
        "--baseline", default=None, help="an unconditioned model (default: the model, no target)"
    )
    parser.add_argument("--target", action="append", required=True, help="NAME=VALUE, repeatable")
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--guidance", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--lookup", default=None, help="crystals: read the property by formula from this dataset"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = load(args.model).eval()
    baseline_model = load(args.baseline).eval() if args.baseline else model
    baseline = generate(baseline_model, args.n, seed=args.seed, batch_size=args.batch_size)
    print(f"model {args.model}, guidance {args.guidance}, n = {args.n} per target")
    print(
        "target | MAE conditioned | MAD unconditioned | found cond / uncond"
        " | validity w/o corr. cond / uncond | validity cond / uncond | uniqueness cond"
    )
    for item in args.target:
        ((name, (value, _)),) = parse_targets([item]).items()
        lookup = formula_lookup(args.lookup, name) if args.lookup else None
        result = generate(
            model, args.n, seed=args.seed, batch_size=args.batch_size, conditions={name: value},
            guidance=args.guidance,
        )  # fmt: skip
        mae, found = _distance(property_values(result, name, lookup), value)
        spread, found_base = _distance(property_values(baseline, name, lookup), value)
        raw, corrected = (
            "/".join(_shown(run.summary.get(key)) for run in (result, baseline))
            for key in ("validity_wo_correction", "validity")
        )
        unique = _shown(result.summary.get("uniqueness"))
        if lookup is not None:  # crystals: the share of distinct formulas among the samples
            formulas = {_formula(r.atomic_numbers) for r in result.records}
            unique = f"{len(formulas) / max(len(result.records), 1):.3f} (formulas)"
        shares = f"{found:.3f}/{found_base:.3f}"
        print(f"{item} | {mae:.3f} | {spread:.3f} | {shares} | {raw} | {corrected} | {unique}")


if __name__ == "__main__":
    main()
