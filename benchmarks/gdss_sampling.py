"""GDSS sampling speed and quality: molecules per second and GDSS-protocol validity.

    python benchmarks/gdss_sampling.py --model gdss-qm9 -n 10000 --config pc:1000 --config s4:100

Each ``--config SAMPLER:STEPS`` draws ``n`` molecules (seed 0, batches of ``--batch-size``)
and prints wall time, molecules per second, validity without correction, validity after
correction, uniqueness and novelty against the model's training set. Runs on the CPU unless
``--device cuda``; set OMP/torch threads with ``--threads``.
"""

from __future__ import annotations

import argparse
import time

import torch

from unigen.checkpoint import load
from unigen.generation import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="gdss-qm9")
    parser.add_argument("-n", type=int, default=10000)
    parser.add_argument("--config", action="append", default=None, help="SAMPLER:STEPS, repeatable")
    parser.add_argument("--batch-size", type=int, default=2500)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load(args.model, device=args.device)
    print(
        f"model {args.model}: step {model.card.get('steps')}, device {args.device}, threads {torch.get_num_threads()}"
    )
    print(
        f"{'sampler':>8s} {'steps':>6s} {'n':>6s} {'seconds':>8s} {'mol/s':>7s} {'val w/o corr':>12s} {'valid':>6s} {'unique':>7s} {'novel':>6s}"
    )
    for config in args.config or ["pc:1000", "s4:100"]:
        sampler, steps = config.split(":")
        start = time.perf_counter()
        result = generate(
            model, args.n, seed=0, batch_size=args.batch_size, sampler=sampler, steps=int(steps)
        )
        seconds = time.perf_counter() - start
        s = result.summary
        novelty = "n/a" if s["novelty"] is None else f"{100 * s['novelty']:.2f}"
        print(
            f"{sampler:>8s} {steps:>6s} {args.n:>6d} {seconds:>8.1f} {args.n / seconds:>7.1f} "
            f"{100 * s['validity_wo_correction']:>12.2f} {100 * s['validity']:>6.2f} {100 * s['uniqueness']:>7.2f} {novelty:>6s}"
        )


if __name__ == "__main__":
    main()
