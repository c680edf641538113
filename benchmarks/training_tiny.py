"""Time the tiny recipe end to end and report how much the toy model learns.

    nice python benchmarks/training_tiny.py [--steps 150] [--repeats 3]

Prints: wall and CPU time of the training loop (data reading and model building excluded),
optimizer steps per second, the CPU time one checkpoint takes to write, the final logged loss and accuracy,
and the unigram entropy of the atom types (the loss of a model that ignores the graph).
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import torch

from unigen.config import load_recipe
from unigen.models.registry import get_family
from unigen.training.data import encode_all, load_records
from unigen.training.engine import Trainer
from unigen.training.state import seed_everything

TINY = Path(__file__).resolve().parents[1] / "recipes" / "tiny" / "toy.yaml"


def run_once(steps: int, ckpt_every: int) -> tuple[float, float, dict]:
    with tempfile.TemporaryDirectory() as out:
        recipe = load_recipe(
            TINY,
            [
                f"train.steps={steps}",
                f"train.ckpt_every={ckpt_every}",
                "train.progress=false",
                f"train.out_dir={out}",
            ],
        )
        records, _ = load_records(recipe.data)
        family = get_family(recipe.family)
        seed_everything(recipe.train.seed)
        model = family(recipe.model, family.fit_state(recipe.model, records))
        trainer = Trainer(model, encode_all(model, records, "tiny"), recipe.train, out)
        start, cpu = time.perf_counter(), time.process_time()
        trainer.fit()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        rows = list(csv.DictReader(open(Path(out) / "metrics.csv")))
        return elapsed, cpu, rows[-1]


def unigram_entropy() -> float:
    records, _ = load_records(load_recipe(TINY).data)
    counts = Counter(int(z) for r in records for z in r.atomic_numbers)
    total = sum(counts.values())
    return -sum(n / total * math.log(n / total) for n in counts.values())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    once = [run_once(args.steps, ckpt_every=args.steps) for _ in range(args.repeats)]
    often = [run_once(args.steps, ckpt_every=10) for _ in range(args.repeats)]
    base, base_cpu = statistics.median(r[0] for r in once), statistics.median(r[1] for r in once)
    per_ckpt = (statistics.median(r[1] for r in often) - base_cpu) / (args.steps // 10 - 1)
    last = once[0][2]
    print(f"tiny recipe, {args.steps} steps, batch 32, d_model 32, 1 thread, median of {args.repeats}")
    print(f"  training loop wall time : {base:.2f} s  ({args.steps / base:.0f} steps/s)")
    print(f"  training loop CPU time  : {base_cpu:.2f} s  ({args.steps / base_cpu:.0f} steps/s of CPU)")
    print(f"  one checkpoint write    : {per_ckpt * 1000:.0f} ms of CPU")
    print(f"  final loss / accuracy   : {float(last['loss']):.3f} / {float(last['accuracy']):.3f}")
    print(f"  unigram entropy (no graph): {unigram_entropy():.3f} nats")


if __name__ == "__main__":
    main()
