"""MOSES distribution metrics of a drug-like generator, on its raw samples and after correction.

    python benchmarks/moses_molecules.py --model pard-moses -n 1000 --seed 0 [--batch-size 250]
    python benchmarks/moses_molecules.py --samples out.sdf     # score an earlier `unigen generate -o out.sdf`

Samples ``n`` molecules as ``unigen generate`` does (``unigen.generation.generate``: the same
batches, seeds and GDSS post-processing; SDF records carry ``valid_wo_correction``), then scores
them with the MOSES protocol against the ``moses`` dataset (novelty vs train; FCD, SNN, Frag, Scaf
vs test and test_scaffolds; IntDiv; Filters), twice:

- raw: only the samples valid *without* valency correction (how PARD and DiGress report MOSES);
- corrected: every sample after GDSS's valency correction (what ``unigen generate`` writes).

Validity without correction (denominator: all samples) is printed first. The reference caches
(``benchmarks/score_molecules.py cache``) make the scoring take seconds; cold, ~20 min.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from unigen.chem.metrics.molecules import score_molecules
from unigen.data import load_smiles

KEYS = (
    "validity", "uniqueness", "novelty", "FCD/Test", "FCD/TestSF", "SNN/Test", "SNN/TestSF",
    "Frag/Test", "Frag/TestSF", "Scaf/Test", "Scaf/TestSF", "IntDiv", "IntDiv2", "Filters",
)  # fmt: skip


def generate_sdf(model_name: str, n: int, seed: int, batch_size: int) -> tuple[Path, float]:
    from unigen.checkpoint import load
    from unigen.generation import generate
    from unigen.io import write

    out = Path(tempfile.mkdtemp(prefix="moses-molecules-")) / "samples.sdf"
    start = time.perf_counter()
    result = generate(load(model_name).eval(), n, seed=seed, batch_size=batch_size)
    seconds = time.perf_counter() - start
    write(out, result.records)
    return out, seconds


def raw_and_corrected(path: Path) -> tuple[list[str], list[str], int]:
    """(SMILES valid without correction, all corrected SMILES, samples) of a generate SDF."""
    from unigen.io import read

    records = [r for r in read(path).records if r is not None]
    props = [r.meta.get("props", {}) for r in records]
    indices = [int(p["index"]) for p in props]
    corrected = [p["smiles"] for p in props]
    raw = [p["smiles"] for p in props if str(p.get("valid_wo_correction")).lower() in ("true", "1")]
    return raw, corrected, max(indices) + 1 if indices else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="pard-moses")
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--samples", type=Path, help="score this generate SDF instead of sampling")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)

    path, seconds = (
        (args.samples, None) if args.samples else generate_sdf(args.model, args.n, args.seed, args.batch_size)
    )
    raw, corrected, samples = raw_and_corrected(path)
    print(f"samples: {samples} ({path})" + ("" if seconds is None else f", sampled in {seconds:.0f} s"))
    print(f"validity without correction: {len(raw) / samples:.4f} ({len(raw)} of {samples})")
    references = {
        "train_smiles": load_smiles("moses", "train"),
        "test_smiles": load_smiles("moses", "test"),
        "test_scaffold_smiles": load_smiles("moses", "test_scaffolds"),
    }
    print("metric | raw (valid w/o correction) | corrected (all samples)")
    scores = [
        score_molecules(smiles, protocol="moses", n_jobs=args.jobs, **references)
        for smiles in (raw, corrected)
    ]
    for key in KEYS:
        print(f"{key} | " + " | ".join(f"{s.get(key, float('nan')):.4f}" for s in scores))


if __name__ == "__main__":
    main()
