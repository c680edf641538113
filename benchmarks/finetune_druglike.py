"""Fine-tuning on a user's drug-like file: before / after fine-tuning, next to training from scratch.

    python benchmarks/finetune_druglike.py --base runs/pard-qm9-cpu/checkpoints/step_00010000 \
        --train 500 --heldout 500 --steps 300 -n 1000 [--set train.batch_size=32] [--threads 1] \
        [--rows before after scratch]

The user's file: ``--train`` molecules of the MOSES test split (``UNIGEN_DATA_DIR``) that hold S, Cl
or Br or a charged atom (outside a QM9 model's C, N, O, F vocabulary), written to a .smi file;
``--heldout`` further such molecules are the FCD reference. Three models sample ``n`` molecules each:

- before: the base model as shipped (its own vocabulary and sizes);
- after: ``unigen finetune --extend-vocab --steps N`` of the base model on the file;
- scratch: ``unigen train --family F --data FILE`` with the same steps (its wall time printed too).

Printed per model: validity without correction, then after GDSS correction, uniqueness, novelty against the
fine-tuning file, FCD to the held-out part, the share of molecules with S / Cl / Br, and the
training wall time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from unigen.checkpoint import load
from unigen.chem.convert import canonical_smiles, parse_smiles
from unigen.chem.metrics.fcd import fcd_score
from unigen.data import load_smiles
from unigen.generation import generate
from unigen.training import finetune, train
from unigen.training.run import file_recipe

NEW_ELEMENTS = {"S", "Cl", "Br"}
ROWS = ("before", "after", "scratch")


def druglike_outside_qm9(count: int, skip: int = 0) -> list[str]:
    """The first MOSES-test SMILES (after ``skip`` such ones) with S / Cl / Br or a formal charge."""
    chosen = []
    for smiles in load_smiles("moses", split="test"):
        mol = parse_smiles(smiles)
        atoms = list(mol.GetAtoms())
        if any(a.GetSymbol() in NEW_ELEMENTS or a.GetFormalCharge() for a in atoms):
            chosen.append(smiles)
        if len(chosen) == skip + count:
            break
    return chosen[skip:]


def scores(model, n: int, train_smiles: set, heldout: list[str], seed: int) -> dict:
    result = generate(model, n, seed=seed, batch_size=min(n, 250))
    valid = [r.meta["smiles"] for r in result.records]
    unique = set(valid)
    with_new = sum(any(e in s for e in NEW_ELEMENTS) for s in valid)
    return {
        "validity w/o corr": result.summary.get("validity_wo_correction", 0.0),
        "validity": result.summary.get("validity", 0.0),
        "uniqueness": len(unique) / max(len(valid), 1),
        "novelty": len(unique - train_smiles) / max(len(unique), 1),
        "fcd": fcd_score(valid, heldout) if len(valid) > 1 else float("nan"),
        "S/Cl/Br share": with_new / max(len(valid), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", required=True, help="checkpoint or shipped name of the base model")
    parser.add_argument("--train", type=int, default=500)
    parser.add_argument("--heldout", type=int, default=500)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--set", dest="sets", action="append", default=[], help="recipe override for both runs"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--rows",
        nargs="+",
        choices=ROWS,
        default=list(ROWS),
        help="which models to train and score (scratch does not depend on --base)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    smiles = druglike_outside_qm9(args.train + args.heldout)
    own, heldout = smiles[: args.train], smiles[args.train :]
    train_set = {canonical_smiles(s) for s in own}
    work = Path(tempfile.mkdtemp(prefix="finetune-druglike-"))
    data = work / "mine.smi"
    data.write_text("\n".join(own) + "\n")
    sets = [f"train.steps={args.steps}", "train.progress=false", *args.sets]
    base = load(args.base)
    rows = {}
    if "before" in args.rows:
        rows["before"] = (base, 0.0)
    if "after" in args.rows:
        start = time.perf_counter()
        tuned = finetune(args.base, str(data), [*sets, f"train.out_dir={work / 'ft'}"], extend_vocab=True)
        rows["after"] = (load(tuned), time.perf_counter() - start)
    if "scratch" in args.rows:
        start = time.perf_counter()
        recipe = file_recipe(base.family, str(data), None, [*sets, f"train.out_dir={work / 'scratch'}"])
        rows["scratch"] = (load(train(recipe)), time.perf_counter() - start)

    print(
        f"file: {len(own)} MOSES-test molecules with S/Cl/Br or charges; held-out: {len(heldout)}; {args.steps} steps"
    )
    header = [
        "model",
        "train s",
        "validity w/o corr",
        "validity",
        "uniqueness",
        "novelty",
        "fcd",
        "S/Cl/Br share",
    ]
    print(" | ".join(header))
    for name, (model, seconds) in rows.items():
        result = scores(model.eval(), args.n, train_set, heldout, args.seed)
        cells = [f"{result[k]:.3f}" for k in header[2:]]
        print(" | ".join([name, f"{seconds:.0f}", *cells]))


if __name__ == "__main__":
    main()
