"""Backbone throughput: dense (SDPA) vs sparse (scatter) path, forward + backward.

    nice python benchmarks/backbone.py [--sizes 16 32 ... 1024] [--device cpu|cuda|all]

Random sparse graphs: every node reads ``--degree`` random nodes of its graph plus itself.
Each batch holds about ``--nodes`` nodes (``B = nodes // N`` graphs of ``N`` nodes), so the
sparse path's work stays roughly constant while the dense path's grows with ``N``. Both
paths compute the same function (the dense path attends along ``pair_mask`` = adjacency;
tested in ``tests/backbone/test_backbone_sparse.py``). Two settings:

- ``attention``: node attention only (``pair_dim=0``); dense = SDPA with a boolean mask.
- ``pairs``: edge features and pair states (``pair_in=4, pair_dim=16``); dense pair states
  are ``(B, N, N, 16)``, sparse ones ``(E, 16)``.

Reports the median time of one forward + backward step (CPU: process CPU time of one thread,
so other jobs on a shared machine inflate it less; CUDA: synchronised wall time), graphs/s and nodes/s, and the
ratio dense/sparse time (> 1: sparse is faster). CUDA runs when available (``--device all``).
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time

import torch

from unigen.backbone import Backbone, BackboneConfig

SETTINGS = {
    "attention": dict(pair_in=0, pair_dim=0),
    "pairs": dict(pair_in=4, pair_dim=16),
}


def random_batch(n: int, graphs: int, degree: int, pair_in: int, device) -> dict:
    """Dense and sparse views of ``graphs`` random graphs with ``n`` nodes each."""
    k = min(degree, n - 1)
    scores = torch.rand(graphs, n, n, device=device)
    scores.diagonal(dim1=1, dim2=2).fill_(-1.0)
    picks = scores.topk(k, dim=-1).indices  # (B, N, k) sources read by each target
    adjacency = torch.zeros(graphs, n, n, dtype=torch.bool, device=device)
    adjacency.scatter_(2, picks, True)
    adjacency |= torch.eye(n, dtype=torch.bool, device=device)
    g, dst, src = adjacency.nonzero(as_tuple=True)
    edge_attr = torch.randn(g.shape[0], pair_in, device=device) if pair_in else None
    h = torch.randn(graphs, n, 8, device=device)
    dense = {"h": h, "pair_mask": adjacency}
    if pair_in:
        pair = torch.zeros(graphs, n, n, pair_in, device=device)
        pair[g, dst, src] = edge_attr
        dense["pair"] = pair
    sparse = {
        "h": h.reshape(-1, 8),
        "edge_index": torch.stack([g * n + src, g * n + dst]),
        "batch": torch.arange(graphs, device=device).repeat_interleave(n),
    }
    if pair_in:
        sparse["edge_attr"] = edge_attr
    return {"dense": dense, "sparse": sparse}


def step_time(model: Backbone, inputs: dict, repeats: int, device) -> float:
    """Median seconds of one forward + backward pass.

    On CPU this is process CPU time (with one thread, the compute itself, robust to other
    jobs sharing the machine); on CUDA it is synchronised wall time.
    """
    clock = time.perf_counter if device.type == "cuda" else time.process_time
    times = []
    for i in range(repeats + 1):  # first pass warms up
        model.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = clock()
        out = model(**inputs)
        loss = out.h.square().mean() + (0.0 if out.pair is None else out.pair.square().mean())
        loss.backward()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:
            times.append(clock() - start)
    return statistics.median(times)


def run(device: torch.device, args) -> list[dict]:
    rows = []
    for name, options in SETTINGS.items():
        cfg = BackboneConfig(node_in=8, dim=args.dim, heads=args.heads, depth=args.depth, **options)
        model = Backbone(cfg).to(device)
        for n in args.sizes:
            graphs = max(1, args.nodes // n)
            torch.manual_seed(0)
            batch = random_batch(n, graphs, args.degree, cfg.pair_in, device)
            t_dense = step_time(model, batch["dense"], args.repeats, device)
            t_sparse = step_time(model, batch["sparse"], args.repeats, device)
            rows.append(
                dict(setting=name, device=device.type, n=n, graphs=graphs, dense=t_dense, sparse=t_sparse)
            )
            print(format_row(rows[-1]), flush=True)
    return rows


def format_row(r: dict) -> str:
    nodes = r["n"] * r["graphs"]
    return (
        f"| {r['setting']} | {r['device']} | {r['n']} | {r['graphs']} | {r['dense'] * 1e3:.1f} | {r['sparse'] * 1e3:.1f} "
        f"| {nodes / r['dense']:.0f} | {nodes / r['sparse']:.0f} | {r['graphs'] / r['dense']:.1f} "
        f"| {r['graphs'] / r['sparse']:.1f} | {r['dense'] / r['sparse']:.2f} |"
    )


def crossover(rows: list[dict]) -> list[str]:
    """Smallest N from which sparse stays faster, per setting and device."""
    lines = []
    for key in sorted({(r["setting"], r["device"]) for r in rows}):
        group = [r for r in rows if (r["setting"], r["device"]) == key]
        wins = [r["n"] for r in group if all(s["sparse"] < s["dense"] for s in group if s["n"] >= r["n"])]
        where = f"N >= {min(wins)}" if wins else "never in this range"
        lines.append(f"- {key[0]} on {key[1]}: sparse faster from {where}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64, 128, 256, 512, 1024])
    parser.add_argument("--nodes", type=int, default=1024, help="nodes per batch (B = nodes // N)")
    parser.add_argument("--degree", type=int, default=8)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] if args.device != "cuda" else []
    if args.device != "cpu" and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    print(
        f"# backbone throughput, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {args.threads} CPU thread(s)"
    )
    print(
        f"# dim {args.dim}, heads {args.heads}, depth {args.depth}, degree {args.degree} (+ self loop), "
        f"~{args.nodes} nodes per batch, median of {args.repeats} forward+backward steps; "
        "CPU times are process CPU time"
    )
    print(
        "| setting | device | N | graphs | dense ms | sparse ms | dense nodes/s | sparse nodes/s "
        "| dense graphs/s | sparse graphs/s | dense/sparse |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    rows = [row for device in devices for row in run(device, args)]
    print("\n".join(crossover(rows)))


if __name__ == "__main__":
    main()
