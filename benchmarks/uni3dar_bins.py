"""How much a Uni-3DAR model knows about where atoms sit inside their leaf cells.

    python benchmarks/uni3dar_bins.py --model runs/uni3dar-qm9-context-cpu -n 256 [--augment]

Prints, per axis, the NLL (nats) of the model's x / y / z fine-bin heads on the leaves of ``n`` QM9
3D test molecules (teacher-forced, as in training), next to two context-free references on the
same targets: the empirical bin distribution of those targets (the best any predictor that ignores
the other atoms can do) and uniform over the bins (ln 24 for 0.24 A cells at 0.01 A). A bin head
at the marginal places atoms uniformly inside their cells (docs/uni3dar.md, "QM9 3D").
``--augment`` tokenizes with the training augmentation (rotation, jitter), eval-mode network.
"""

from __future__ import annotations

import argparse
import math

import torch
import torch.nn.functional as F

from unigen.data.keys import FINE, LEVEL, POS, TARGET_FINE, TARGET_TOKENS, TOKENS, TREE
from unigen.tokenizers.octree import IGNORE


@torch.no_grad()
def bin_nll(model, molecules, augment: bool, batch_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """(3,) summed model NLL per axis and the (T, 3) bin targets of every leaf."""
    total, targets = torch.zeros(3, dtype=torch.float64), []
    for start in range(0, len(molecules), batch_size):
        examples = [model.encode(m) for m in molecules[start : start + batch_size]]
        model.train(augment)  # collate augments in training mode only
        batch = model.collate(examples)
        model.eval()
        h = model.hidden(batch[TOKENS], batch[FINE], batch[LEVEL], batch[TREE], batch[POS])
        leaf = (batch[TARGET_TOKENS] != IGNORE) & (batch[LEVEL] == 0)
        heads, ids, bins = model.trees[0], batch[TARGET_TOKENS][leaf], batch[TARGET_FINE][leaf]
        for axis in range(3):
            logits = heads.bins[axis](heads.states(h[leaf], ids, axis, bins)).float()
            total[axis] += F.cross_entropy(logits, bins[:, axis], reduction="sum").double()
        targets.append(bins)
    return total, torch.cat(targets)


def marginal_nll(targets: torch.Tensor, bins: int) -> list[float]:
    """Per-axis entropy (nats) of the targets' own bin frequencies."""
    out = []
    for axis in range(3):
        p = torch.bincount(targets[:, axis], minlength=bins).double() / len(targets)
        out.append(float(-(p[p > 0] * p[p > 0].log()).sum()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("-n", type=int, default=256)
    parser.add_argument("--augment", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    from unigen.checkpoint import load
    from unigen.data import load_dataset

    model = load(args.model)
    if model.periodic:
        raise SystemExit("uni3dar_bins: a QM9 3D (molecule) model is needed")
    molecules = list(load_dataset("qm9_3d", "test", limit=args.n))
    total, targets = bin_nll(model, molecules, args.augment)
    bins = model.leaf_bins[0]
    model_nll = (total / len(targets)).tolist()
    print(f"{args.model}: {len(targets):,} leaves of {len(molecules)} QM9 test molecules"
          f" ({'augmented' if args.augment else 'as stored'})")  # fmt: skip
    print("| axis | model NLL | marginal | uniform |")
    for axis, (mine, marginal) in enumerate(zip(model_nll, marginal_nll(targets, bins))):
        print(f"| {'xyz'[axis]} | {mine:.3f} | {marginal:.3f} | {math.log(bins):.3f} |")


if __name__ == "__main__":
    main()
