"""GDSS on QM9: validity, uniqueness, novelty and FCD against ``scale_eps`` and steps (issue 16, item 4).

    python benchmarks/gdss_tradeoff.py --model gdss-qm9 -n 10000 --sampler s4 \
        --scale-eps 0.7 0.8 0.9 0.95 1.0 --steps 100 1000 --out benchmarks/results/gdss_tradeoff.png
    python benchmarks/gdss_tradeoff.py --from-json benchmarks/results/gdss_tradeoff.json --out ...png

Every (steps, scale_eps) pair is scored with the GDSS protocol (``gdss_qm9.score_seed``: seed 0,
validity without correction over all generated graphs, the rest on corrected molecules). The
sweep is saved next to the PNG as JSON (``--from-json`` re-plots it without sampling); one panel
per metric, one line per step count, the paper's GDSS value as a dashed line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

PAPER = {"validity_wo_correction": 0.9572, "uniqueness": 0.9846, "novelty": 0.8627, "FCD/Test": 2.900}
LABELS = {
    "validity_wo_correction": "validity w/o correction",
    "uniqueness": "uniqueness",
    "novelty": "novelty",
    "FCD/Test": "FCD / test (lower is better)",
}


def sweep(args) -> list[dict]:
    """Sample and score every (steps, scale_eps) pair; one row each."""
    from gdss_qm9 import score_seed

    from unigen.checkpoint import load
    from unigen.data import load_smiles

    model = load(args.model)
    train, test = load_smiles("qm9", "train"), load_smiles("qm9", "test")
    rows = []
    for steps in args.steps:
        for scale_eps in args.scale_eps:
            row = score_seed(
                model,
                args.n,
                0,
                args.batch_size,
                train,
                test,
                sampler=args.sampler,
                steps=steps,
                scale_eps=scale_eps,
            )
            rows.append({"steps": steps, "scale_eps": scale_eps, "n": args.n, "sampler": args.sampler, **row})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def plot(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(LABELS), figsize=(4 * len(LABELS), 3.4))
    for ax, (key, label) in zip(axes, LABELS.items()):
        for steps in sorted({r["steps"] for r in rows}):
            line = sorted((r for r in rows if r["steps"] == steps), key=lambda r: r["scale_eps"])
            ax.plot([r["scale_eps"] for r in line], [r[key] for r in line], "o-", label=f"{steps} steps")
        ax.axhline(PAPER[key], color="grey", linestyle="--", label="GDSS paper")
        ax.set_xlabel("scale_eps")
        ax.set_title(label)
    axes[0].legend(fontsize=8)
    first = rows[0]
    fig.suptitle(f"{first['sampler']} sampler, {first['n']} molecules per point, seed 0")
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="gdss-qm9")
    parser.add_argument("-n", type=int, default=10000)
    parser.add_argument("--sampler", default="s4")
    parser.add_argument("--steps", type=int, nargs="+", default=[100])
    parser.add_argument("--scale-eps", type=float, nargs="+", default=[0.7, 0.8, 0.9, 0.95, 1.0])
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--from-json", type=Path, default=None, help="plot a saved sweep, sample nothing")
    parser.add_argument(
        "--out", type=Path, required=True, help="the PNG; the sweep goes to the same name .json"
    )
    args = parser.parse_args()
    if args.out.suffix.lower() != ".png":
        raise SystemExit(f"--out must name a .png file, got {args.out}")
    if args.from_json:
        rows = json.loads(args.from_json.read_text())
    else:
        rows = sweep(args)
        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    plot(rows, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
