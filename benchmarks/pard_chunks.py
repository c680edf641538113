"""PARD sampling cost per molecule against the chunk size (graphs denoised together).

    OMP_NUM_THREADS=1 python benchmarks/pard_chunks.py --model pard-qm9 -n 1000 --chunk 1000 --chunk 0 --chunk 32
    OMP_NUM_THREADS=1 python benchmarks/pard_chunks.py --model pard-moses -n 128 --chunk 128 --chunk 0 --chunk 16

One batch of ``n`` molecules per chunk size (0: the library's choice), alternating, ``--repeats``
rounds with seeds 0, 1, ...; prints CPU seconds of this process (robust to other jobs on the
machine), molecules per CPU second and validity without correction. A warm-up batch runs first.
"""

from __future__ import annotations

import argparse
import time

import torch

from unigen.checkpoint import load
from unigen.generation import generate


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="pard-qm9")
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--chunk", type=int, action="append", help="repeatable; 0 = the library's choice")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model = load(args.model)
    generate(model, 16, seed=99, batch_size=16)  # warm-up
    for run in range(args.repeats):
        for chunk in args.chunk or [0]:
            start = time.process_time()
            result = generate(model, args.n, seed=run, batch_size=args.n, chunk=chunk)
            seconds = time.process_time() - start
            print(
                f"{args.model} chunk {min(args.n, chunk or model._auto_chunk(args.n, torch.device('cpu')))}"
                f"{' (auto)' if not chunk else ''}: seed {run}, {args.n} molecules, {seconds:.1f} CPU s, "
                f"{args.n / seconds:.2f} mol / CPU s, validity w/o correction "
                f"{100 * result.summary['validity_wo_correction']:.1f} %",
                flush=True,
            )


if __name__ == "__main__":
    main()
