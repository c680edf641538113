"""UniGenX crystal structure prediction on a CDVAE benchmark split: match rate and RMSE.

    python benchmarks/unigenx_csp.py --model unigenx-perov5 --dataset perov_5 --k 1 --write pred_k1.cif
    python benchmarks/unigenx_csp.py --model unigenx-perov5 --dataset perov_5 --k 20 --limit 500

For every structure of the split (the first ``--limit``), ``k`` candidates of its composition
(``unigen.csp.predict_structures``: seed 0, likelihood-ranked) are matched against it with the
CDVAE protocol (``unigen.chem.metrics.csp.csp_match``: StructureMatcher stol 0.5, ltol 0.3,
angle_tol 10; invalid candidates count as no match), exactly as ``unigen predict-structure
--truth`` does. Printed rows: ``k=1 (one sample)`` when k = 1; for k > 1 ``top-1 of k`` (the best
ranked candidate, Uni-3DAR's "k = 1" policy) and ``any of k`` (DiffCSP's k = 20 policy).
``--set KEY=VALUE`` overrides a sampling option (e.g. clip_x0=0). ``--write`` saves the top-1
candidates as one CIF (for ``unigen score --csp``).
"""

from __future__ import annotations

import argparse
import time

import torch
import yaml


def main() -> None:
    from unigen.checkpoint import load
    from unigen.chem.metrics.csp import csp_match
    from unigen.csp import predict_structures
    from unigen.data import load_dataset

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="unigenx-perov5")
    parser.add_argument("--dataset", default="perov_5")
    parser.add_argument("--split", default="test")
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--skip", type=int, default=0, help="leave out the first N rows (a tuning split)")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--write", default=None, help="CIF file for the top-1 candidates")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    options = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.settings)}
    model = load(args.model)
    rows = None if args.limit is None else args.skip + args.limit
    truth = list(load_dataset(args.dataset, split=args.split, limit=rows))[args.skip :]
    start = time.perf_counter()
    ranked = predict_structures(model, [t.atomic_numbers for t in truth], k=args.k, seed=0,
                                batch_size=args.batch_size, **options)  # fmt: skip
    seconds = time.perf_counter() - start
    sampling = model.sampling_options(**options)
    print(f"model {args.model}, {args.dataset}:{args.split} rows {args.skip}.. ({len(truth)} structures), k = {args.k}, "
          f"sampling {sampling}, threads {torch.get_num_threads()}")  # fmt: skip
    print(f"sampling + ranking: {seconds:.1f} s, {len(truth) * args.k / seconds:.1f} structures/s")
    rows = [("k=1 (one sample)" if args.k == 1 else f"top-1 of {args.k}", [c[0] for c in ranked])]
    if args.k > 1:
        rows.append((f"any of {args.k}", [list(c) for c in ranked]))
    for label, pred in rows:
        result = csp_match(pred, truth)
        rmse = "n/a" if result["rmse"] is None else f"{result['rmse']:.4f}"
        print(f"{label:>18s}: match rate {100 * result['match_rate']:.2f} % ({result['n_matched']} / {result['n']}), RMSE {rmse}")  # fmt: skip
    if args.write:
        from unigen.io import write

        write(args.write, [c[0] for c in ranked])


if __name__ == "__main__":
    main()
