"""UniGenX crystal structure prediction speed: structures per second, KV cache on and off, vs cell size.

    python benchmarks/unigenx_speed.py --model unigenx-perov5 --formula SrTiO3 -n 256
    python benchmarks/unigenx_speed.py --scaling --sizes 4 8 16 24 -n 64

Default mode: ``predict_structures`` on one formula (``-n`` candidates, ranking included) with
the KV cache on and off, side by side in one run, for each ``--steps`` value. ``--scaling``
times carbon cells C_N for each N of ``--sizes`` with a freshly initialised model of the shipped
architecture (speed does not depend on the weights), KV cache on and off. Prints seconds and
structures per second; threads are torch's unless ``--threads``.
"""

from __future__ import annotations

import argparse
import time

import torch

from unigen.chem.formula import parse_formula
from unigen.csp import predict_structures


def _time(model, composition, n, seed, **options) -> float:
    start = time.perf_counter()
    predict_structures(model, [composition], k=n, seed=seed, batch_size=n, **options)
    return time.perf_counter() - start


def _carbon_model(reference):
    """A model with ``reference``'s architecture that knows carbon (random weights)."""
    from unigen.models.unigenx import UniGenX

    state = dict(reference.card_state(), elements=[6], max_atoms=24)
    return UniGenX(reference.config, state).eval()


def main() -> None:
    from unigen.checkpoint import load

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="unigenx-perov5")
    parser.add_argument("--formula", default="SrTiO3")
    parser.add_argument("-n", type=int, default=256, help="candidates per run")
    parser.add_argument("--steps", type=int, nargs="+", default=[100, 50])
    parser.add_argument("--scaling", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 8, 16, 24])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load(args.model, device=args.device).eval()
    print(f"model {args.model}, device {args.device}, threads {torch.get_num_threads()}, n = {args.n}")
    print(f"{'cell':>10s} {'atoms':>5s} {'steps':>5s} {'cache':>5s} {'seconds':>8s} {'structures/s':>12s}")
    runs = []
    if args.scaling:
        carbon = _carbon_model(model).to(args.device)
        runs = [(carbon, f"C{size}", [6] * size, steps) for size in args.sizes for steps in args.steps[:1]]
    else:
        runs = [(model, args.formula, parse_formula(args.formula), steps) for steps in args.steps]
    _time(runs[0][0], runs[0][2], 2, 0, steps=2)  # warm-up
    for net, name, composition, steps in runs:
        for cache in (True, False):
            seconds = _time(net, composition, args.n, 0, steps=steps, kv_cache=cache)
            print(f"{name:>10s} {len(composition):>5d} {steps:>5d} {'on' if cache else 'off':>5s} "
                  f"{seconds:>8.2f} {args.n / seconds:>12.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
