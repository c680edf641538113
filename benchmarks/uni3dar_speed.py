"""Uni-3DAR sampling throughput with the KV cache on and off (the same tokens either way).

    python benchmarks/uni3dar_speed.py --model runs/uni3dar-qm9-cpu -n 64 [--device cuda]

Without ``--model`` a randomly initialised model of ``recipes/uni3dar/qm9_cpu.yaml``'s size is
fitted on 200 QM9 3D molecules (its samples are noise, but the token count per sample, and so the
cost, is bounded by the same leaf-count limits). Prints one table row per setting and whether the
cached and uncached runs drew identical tokens.
"""

from __future__ import annotations

import argparse
import time

import torch


def build(model_path: str | None, device: str):
    if model_path:
        from unigen.checkpoint import load

        return load(model_path, device=device)
    from unigen.config import load_recipe
    from unigen.data import load_dataset
    from unigen.models.uni3dar import Uni3DAR

    recipe = load_recipe("recipes/uni3dar/qm9_cpu.yaml", [])
    records = list(load_dataset("qm9_3d", "train", limit=200))
    torch.manual_seed(0)
    model = Uni3DAR(recipe.model, Uni3DAR.fit_state(recipe.model, records))
    with torch.no_grad():  # random residual outputs and heads, so samples depend on every state
        for p in model.parameters():
            p.normal_(0, 0.05)
    return model.to(device)


def timed_sample(model, n: int, kv_cache: bool, seed: int) -> tuple[dict, float]:
    options = model.sampling_options(kv_cache=kv_cache)
    start = time.perf_counter()
    raw = model.sample(n, generator=torch.Generator(device=next(model.parameters()).device).manual_seed(seed),
                       options=options)  # fmt: skip
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return raw, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("-n", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = build(args.model, args.device).eval()
    timed_sample(model, 2, True, 0)  # warm-up
    print(
        f"| kv cache | samples | tokens / sample | seconds | samples / s |  ({args.device}, {args.threads} thread(s))"
    )
    runs = {}
    for cache in (True, False):
        raw, seconds = timed_sample(model, args.n, cache, seed=1)
        runs[cache] = raw
        tokens = float(raw["valid"].sum(1).float().mean())
        print(
            f"| {'on' if cache else 'off'} | {args.n} | {tokens:.1f} | {seconds:.2f} | {args.n / seconds:.1f} |"
        )
    same = all(torch.equal(runs[True][k], runs[False][k]) for k in ("ids", "fine", "valid"))
    print(f"identical tokens with and without the cache: {same}")


if __name__ == "__main__":
    main()
