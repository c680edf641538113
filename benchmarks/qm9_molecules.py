"""QM9 molecules from any generating family, side by side: speed, network calls and quality.

    python benchmarks/qm9_molecules.py --model gdss-qm9 --model runs/pard-qm9-cpu/checkpoints/step_00010000 \
        -n 1000 --seeds 0 [--set pard:sampling.steps=10] [--fcd] [--threads 1]

Each model samples ``n`` molecules per seed through the family contract (``model.sample`` /
``model.decode``, the same batches and seeds as ``unigen generate``) and is timed from the first
network call to the last decoded record. Printed per model and seed:

- molecules per second and network evaluations per molecule (forward calls of the model's
  top-level networks counted with hooks, times the batch they ran on, over ``n``);
- GDSS protocol (``unigen.chem.summary``, what ``unigen generate`` prints): validity without
  correction (denominator: all samples), then uniqueness and novelty of the corrected molecules;
- DiGress protocol (``unigen.chem.metrics.molecules``, raw graphs, no correction): validity and
  uniqueness;
- with ``--fcd``: FCD and NSPDK against the GDSS test split (GDSS protocol, corrected molecules).

Options after ``--set FAMILY:sampling.KEY=VALUE`` apply to the models of that family only.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from unigen.checkpoint import load
from unigen.chem.metrics.molecules import score_molecules
from unigen.chem.summary import summarise
from unigen.commands._sampling import parse_sampling_settings
from unigen.data import load_smiles
from unigen.distributed import batch_seed

NETWORKS = ("denoiser", "block_net", "net_x", "net_adj", "backbone")


def count_network_calls(model) -> dict:
    """Forward hooks on the model's top-level networks: {"rows": network evaluations x batch rows}."""
    counter = {"rows": 0}

    def hook(module, args, output):
        first = next((a for a in args if isinstance(a, torch.Tensor)), None)
        counter["rows"] += 1 if first is None or first.dim() == 0 else first.shape[0]

    for name in NETWORKS:
        module = getattr(model, name, None)
        if isinstance(module, torch.nn.Module):
            module.register_forward_hook(hook)
    _count_fused_gdss_calls(counter)
    return counter


_FUSED = {}  # the counter of the model being measured now


def _count_fused_gdss_calls(counter: dict) -> None:
    """GDSS samples on CPU through ``ChunkedScores`` (both score networks per call, traced or on the
    native kernel, no module forward to hook): count each call as two network evaluations per graph."""
    from unigen.models import gdss_inference

    _FUSED["counter"] = counter
    chunked = gdss_inference.ChunkedScores
    if getattr(chunked.__call__, "counted", False):
        return
    original = chunked.__call__

    def counted(self, x, *args, **kwargs):
        _FUSED["counter"]["rows"] += len(self.fused.nets) * x.shape[0]
        return original(self, x, *args, **kwargs)

    counted.counted = True
    chunked.__call__ = counted


def sample_seed(model, n: int, seed: int, batch_size: int, options) -> tuple[list, float]:
    start = time.perf_counter()
    records = []
    for k, begin in enumerate(range(0, n, batch_size)):
        generator = torch.Generator().manual_seed(batch_seed(seed, k))
        raw = model.sample(min(batch_size, n - begin), generator=generator, options=options)
        records.extend(model.decode(raw))
    return records, time.perf_counter() - start


def score_seed(model, records, seconds, n, calls, test, fcd: bool) -> dict:
    hashes = getattr(model, "train_hashes", None)
    corrected, summary = summarise(records, None if hashes is None else hashes.cpu().numpy())
    digress = score_molecules(records, protocol="digress", metrics=["validity", "uniqueness"])
    row = {
        "mol/s": n / seconds,
        "net_evals/mol": calls / n,
        "validity_wo_correction": summary["validity_wo_correction"],
        "uniqueness": summary["uniqueness"],
        "novelty": summary.get("novelty") or float("nan"),
        "digress_validity": digress["validity"],
        "digress_uniqueness": digress["uniqueness"],
    }
    if fcd:
        smiles = [r.meta["smiles"] for r in corrected]
        scores = score_molecules(smiles, test_smiles=test, protocol="gdss", metrics=["fcd", "nspdk"])
        row.update({"FCD/Test": scores["FCD/Test"], "NSPDK/Test": scores["NSPDK/Test"]})
    return row


def family_options(model, settings) -> dict:
    family = model.card.get("family") or type(model).__name__.lower()
    mine = [s.split(":", 1)[1] for s in settings if s.split(":", 1)[0] == family]
    return parse_sampling_settings(mine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", required=True)
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="FAMILY:sampling.K=V")
    parser.add_argument("--fcd", action="store_true", help="also FCD and NSPDK (GDSS test split)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    test = load_smiles("qm9", "test") if args.fcd else None
    print(f"torch threads {torch.get_num_threads()}, n={args.n}, batch {args.batch_size}, seeds {args.seeds}")
    for path in args.model:
        model = load(path)
        options = model.sampling_options(**family_options(model, args.settings))
        calls = count_network_calls(model)
        print(f"\n{path} (family {model.card.get('family')}, step {model.card.get('steps')}): {options}")
        rows = []
        for seed in args.seeds:
            calls["rows"] = 0
            with torch.inference_mode():
                records, seconds = sample_seed(model, args.n, seed, args.batch_size, options)
            rows.append(score_seed(model, records, seconds, args.n, calls["rows"], test, args.fcd))
            print(f"  seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in rows[-1].items()))
        if len(rows) > 1:
            for key in rows[0]:
                values = np.array([r[key] for r in rows])
                print(f"  {key:24s} {values.mean():.4f} +- {values.std():.4f}")


if __name__ == "__main__":
    main()
