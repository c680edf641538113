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
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from unigen.checkpoint import load
from unigen.conditioning import parse_targets, record_value
from unigen.generation import generate


def property_values(result, name: str) -> np.ndarray:
    return np.array([record_value(r, name) for r in result.records])


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
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = load(args.model).eval()
    baseline_model = load(args.baseline).eval() if args.baseline else model
    baseline = generate(baseline_model, args.n, seed=args.seed, batch_size=args.batch_size)
    print(f"model {args.model}, guidance {args.guidance}, n = {args.n} per target")
    print(
        "target | MAE conditioned | MAD unconditioned | validity w/o corr. cond / uncond"
        " | validity cond / uncond | uniqueness cond"
    )
    for item in args.target:
        ((name, (value, _)),) = parse_targets([item]).items()
        result = generate(
            model, args.n, seed=args.seed, batch_size=args.batch_size, conditions={name: value},
            guidance=args.guidance,
        )  # fmt: skip
        mae = np.abs(property_values(result, name) - value).mean()
        spread = np.abs(property_values(baseline, name) - value).mean()
        raw, corrected = (
            "/".join(f"{run.summary.get(key, 0.0):.3f}" for run in (result, baseline))
            for key in ("validity_wo_correction", "validity")
        )
        unique = result.summary.get("uniqueness", 0.0)
        print(f"{item} | {mae:.3f} | {spread:.3f} | {raw} | {corrected} | {unique:.3f}")


if __name__ == "__main__":
    main()
