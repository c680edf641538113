"""GDSS sampling speed and quality: molecules per second and GDSS-protocol validity.

    python benchmarks/gdss_sampling.py --model gdss-qm9 -n 1000 --config pc:1000 --config s4:100 \
        --batch-size 1000 --threads 1 --reference
    python benchmarks/gdss_sampling.py --profile --config pc:1000 --batch-size 1000 --threads 1
    python benchmarks/gdss_sampling.py --reference --reference-dir /tmp/gdss_ref --config pc:1000 \
        --batch-size 1000 --threads 2 --timing-steps 100 --repeats 3

Each ``--config SAMPLER:STEPS`` draws ``n`` molecules (seed 0, batches of ``--batch-size``)
through ``unigen.generation.generate`` (sampling, decoding, valency correction, summary; not the
process start-up) and prints wall time, molecules per second, validity without correction,
validity after correction, uniqueness and novelty against the model's training set.
``--scale-eps`` applies to every config (GDSS's PC sampler: 0.7; the shipped default: 0.95).

``--reference --reference-dir DIR``: a side-by-side run against the reference GDSS code
(harryjo97/GDSS, a checkout or reconstruction of its sampling path in DIR: ``models/``, ``sde.py``,
``solver.py``, ``losses.py``, ``utils/graph_utils.py``, ``config/qm9.yaml``; never installed by
unigen). Its QM9 score networks are built from DIR's ``config/qm9.yaml`` with random weights (the
cost of a step does not depend on the weights; no trained reference checkpoint is needed) and its
own ``get_pc_sampler`` runs (reverse-diffusion predictor + Langevin corrector, snr 0.2, scale_eps
0.7, eps 1e-4, ``config/sample_qm9.yaml``) on the node masks unigen draws for the same batch.
Timed: its sampling loop alone (the ``pc_sampler`` call; networks built beforehand), against
unigen's whole ``generate`` (sampling, decoding, valency correction, summary) with the same
sampler settings, same batch (``--batch-size`` molecules, one batch; ``-n`` is not used), same
thread count, alternately, ``--repeats`` times each after a 2-step warm-up of each (not counted;
it holds unigen's compiling with ``--kernel compile``, printed); the reference's progress bar is
silenced. Printed: both mol/s (best and median) and their ratio. ``--timing-steps K`` runs K steps on both sides and
extrapolates to the config's steps (per-step cost is constant: the reference loop linearly;
unigen as its whole K-step run plus (steps / K - 1) times its K-step sampling time, so decoding
and summary count once). Without ``--reference-dir``, ``--reference`` prints the measurement quoted
in issue 16 (1,000 QM9 molecules in 839 CPU-seconds of the reference loop, one thread, another
load), labelled as a quoted number, not a run made by this script.

``--same-seed OTHER``: instead of the table, for each config draw ``n`` molecules with ``--kernel``
and with kernel ``OTHER`` (same seed, same batches) and print how many decoded graphs are
identical (atoms and bond orders, before valency correction), with each side's validity without
correction: the native kernel's values differ from the torch path's in the last bits, so a
trajectory can tip.

``--profile``: instead of sampling ``n``, run one step of each config at ``--batch-size`` under
``torch.profiler`` and print the per-operator table (self CPU time).

Runs on the CPU unless ``--device cuda``. Threads: ``--threads`` (else the library's choice,
``unigen.generation.cpu_threads``: one per idle core).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from unigen.checkpoint import load
from unigen.chem.summary import summarise
from unigen.distributed import batch_seed
from unigen.generation import generate
from unigen.models.gdss_inference import KERNELS, resolve_kernel

REFERENCE_SECONDS_PER_1000 = 839.0  # issue 16: reference GDSS, PC 1,000 steps, one thread
ISSUE_UNIGEN_SECONDS_PER_1000 = 790.0  # issue 16: unigen 7e145df, same run as the reference


def parse_config(text: str) -> tuple[str, int]:
    sampler, _, steps = text.partition(":")
    if not steps.isdigit():
        raise SystemExit(f"--config wants SAMPLER:STEPS (e.g. pc:1000), got {text!r}")
    return sampler, int(steps)


def profile_step(model, sampler: str, batch_size: int, scale_eps, rows: int = 30) -> None:
    """One sampling step of ``batch_size`` graphs under torch.profiler (after a warm-up step)."""
    from torch.profiler import ProfilerActivity, profile

    options = model.sampling_options(sampler=sampler, steps=1, **_scale(scale_eps))
    model.sample(batch_size, generator=torch.Generator().manual_seed(1), options=options)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        model.sample(batch_size, generator=torch.Generator().manual_seed(0), options=options)
        seconds = time.perf_counter() - start
    print(f"\n## {sampler}: one step, batch {batch_size}, {seconds * 1e3:.1f} ms under the profiler")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows))


def _scale(scale_eps) -> dict:
    return {} if scale_eps is None else {"scale_eps": scale_eps}


def load_reference(directory: str) -> dict:
    """The reference GDSS sampling path imported from ``directory`` and its QM9 configs (dicts)."""
    import yaml

    root = Path(directory).resolve()
    configs = {
        name: yaml.safe_load((root / "config" / f"{name}.yaml").read_text()) for name in ("qm9", "sample_qm9")
    }
    sys.path.insert(0, str(root))
    try:
        modules = {
            name: importlib.import_module(name)
            for name in ("models.ScoreNetwork_X", "models.ScoreNetwork_A", "sde", "solver")
        }
    finally:
        sys.path.remove(str(root))
    return {"modules": modules, "train": configs["qm9"], "sample": configs["sample_qm9"]}


def reference_pc(ref: dict, node_mask: torch.Tensor, steps: int):
    """A callable that runs the reference ``pc_sampler`` once on ``node_mask`` (B, N) for ``steps``
    steps and returns the seconds of that call. Networks and SDEs as its ``utils/loader.py`` builds
    them from ``config/qm9.yaml`` (random weights), sampler options from ``config/sample_qm9.yaml``."""
    mods, cfg, sample_cfg = ref["modules"], ref["train"], ref["sample"]
    data, model, sde_cfg = cfg["data"], cfg["model"], cfg["sde"]
    torch.manual_seed(0)
    net_x = mods["models.ScoreNetwork_X"].ScoreNetworkX(data["max_feat_num"], model["depth"], model["nhid"])
    net_adj = mods["models.ScoreNetwork_A"].ScoreNetworkA(
        data["max_feat_num"], data["max_node_num"], model["nhid"], model["num_layers"], model["num_linears"],
        model["c_init"], model["c_hid"], model["c_final"], model["adim"], model["num_heads"], model["conv"],
    )  # fmt: skip

    def build_sde(c):  # loader.load_sde: VE takes beta_min / beta_max as its sigmas
        kinds = {"VE": "VESDE", "VP": "VPSDE", "subVP": "subVPSDE"}
        return getattr(mods["sde"], kinds[c["type"]])(c["beta_min"], c["beta_max"], N=steps)

    b, n = node_mask.shape
    sampler, opts = sample_cfg["sampler"], sample_cfg["sample"]
    pc = mods["solver"].get_pc_sampler(
        build_sde(sde_cfg["x"]), build_sde(sde_cfg["adj"]), (b, n, data["max_feat_num"]), (b, n, n),
        predictor=sampler["predictor"], corrector=sampler["corrector"], snr=sampler["snr"],
        scale_eps=sampler["scale_eps"], n_steps=sampler["n_steps"], probability_flow=opts["probability_flow"],
        continuous=True, denoise=opts["noise_removal"], eps=opts["eps"], device="cpu",
    )  # fmt: skip

    solver = mods["solver"]
    solver.trange = functools.partial(solver.trange, disable=True)  # its progress bar, silenced

    def run() -> float:
        start = time.perf_counter()
        pc(net_x, net_adj, node_mask)
        return time.perf_counter() - start

    return run, {k: sampler[k] for k in ("snr", "scale_eps")} | {"eps": opts["eps"]}


def side_by_side(model, ref: dict, args) -> None:
    """Alternate the reference PC loop and unigen's whole ``generate`` at the same batch and threads."""
    steps = max(s for sampler, s in (parse_config(c) for c in args.config or ["pc:1000"]) if sampler == "pc")
    k, n = args.timing_steps or steps, args.batch_size
    node_mask = model.sample_node_mask(n, torch.Generator().manual_seed(0))
    run_reference, options = reference_pc(ref, node_mask, k)
    options["kernel"] = args.kernel
    print(
        f"side by side: batch {n}, threads {torch.get_num_threads()}, PC {steps} steps (snr {options['snr']}, "
        f"scale_eps {options['scale_eps']}, eps {options['eps']}), unigen kernel {_kernel_label(args.kernel)}, "
        f"{args.repeats} alternating repeats; "
        + (f"timed at {k} steps, extrapolated x{steps / k:g}" if k != steps else "not extrapolated")
    )
    warm_reference = reference_pc(ref, node_mask, 2)[0]()
    warm_unigen = _unigen_generate(model, n, 2, 2, options)
    print(f"  warm-up (2 steps, not counted): reference {warm_reference:.1f} s, unigen {warm_unigen:.1f} s")
    ref_s, uni_s = [], []
    for r in range(args.repeats):
        ref_s.append(run_reference() * steps / k)
        uni_s.append(_unigen_generate(model, n, k, steps, options))
        print(f"  repeat {r}: reference loop {ref_s[-1]:8.1f} s   unigen generate {uni_s[-1]:8.1f} s")
    for label, pick in (("best", min), ("median", statistics.median)):
        ref_rate, uni_rate = n / pick(ref_s), n / pick(uni_s)
        print(
            f"  {label:>6s}: reference {ref_rate:7.3f} mol/s   unigen {uni_rate:7.3f} mol/s   "
            f"unigen / reference = {uni_rate / ref_rate:.2f}x"
        )


def same_seed(model, sampler: str, steps: int, args) -> None:
    """Decoded graphs of one seed with ``args.kernel`` and with ``args.same_seed``, compared."""
    decoded = {}
    for kernel in (args.kernel, args.same_seed):
        options = model.sampling_options(
            sampler=sampler, steps=steps, kernel=kernel, **_scale(args.scale_eps)
        )
        records = []
        for k, begin in enumerate(range(0, args.n, args.batch_size)):
            generator = torch.Generator().manual_seed(batch_seed(0, k))
            raw = model.sample(min(args.batch_size, args.n - begin), generator=generator, options=options)
            records += model.decode(raw)
        decoded[kernel] = records
    mine, other = decoded[args.kernel], decoded[args.same_seed]
    same = sum(
        np.array_equal(a.atomic_numbers, b.atomic_numbers) and np.array_equal(a.bonds, b.bonds)
        for a, b in zip(mine, other)
    )
    validity = {k: summarise(v, None)[1]["validity_wo_correction"] for k, v in decoded.items()}
    print(
        f"{sampler}:{steps}, seed 0, n {args.n}: {same} of {args.n} decoded graphs identical "
        f"({100 * same / args.n:.2f} %); validity w/o correction "
        + ", ".join(f"{_kernel_label(k)} {100 * v:.2f} %" for k, v in validity.items())
    )


def _kernel_label(kernel: str) -> str:
    """``auto`` with what it resolves to here (``native`` needs a C compiler)."""
    return kernel if kernel != "auto" else f"auto -> {resolve_kernel(kernel)}"


def _unigen_generate(model, n: int, k: int, steps: int, options: dict) -> float:
    """Seconds of one ``generate`` of ``n`` molecules at ``k`` PC steps, extrapolated to ``steps``:
    the whole run plus ``steps / k - 1`` times its sampling (``model.sample``) time."""
    sampling = []
    original = model.sample

    def timed_sample(*a, **kw):
        start = time.perf_counter()
        out = original(*a, **kw)
        sampling.append(time.perf_counter() - start)
        return out

    model.sample = timed_sample
    try:
        start = time.perf_counter()
        generate(model, n, seed=0, batch_size=n, sampler="pc", steps=k, **options)
        whole = time.perf_counter() - start
    finally:
        del model.sample
    return whole + (steps / k - 1) * sum(sampling)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="gdss-qm9")
    parser.add_argument("-n", type=int, default=10000)
    parser.add_argument("--config", action="append", default=None, help="SAMPLER:STEPS, repeatable")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--scale-eps", type=float, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--reference", action="store_true", help="add the reference GDSS row and ratios")
    parser.add_argument("--reference-dir", help="reference GDSS code to run side by side (see above)")
    parser.add_argument(
        "--timing-steps", type=int, default=0, help="side by side: steps run, then extrapolated"
    )
    parser.add_argument("--repeats", type=int, default=3, help="side by side: alternating runs per side")
    parser.add_argument(
        "--kernel", default="auto", choices=KERNELS, help="unigen's sampling.kernel (CPU score networks)"
    )
    parser.add_argument("--profile", action="store_true", help="per-operator profile of one step instead")
    parser.add_argument("--same-seed", choices=KERNELS, help="compare the decoded graphs with this kernel's")
    args = parser.parse_args()
    if args.threads:  # both torch and the library's thread choice (unigen.generation.cpu_threads)
        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    configs = [parse_config(c) for c in args.config or ["pc:1000", "s4:100"]]
    model = load(args.model, device=args.device)
    print(
        f"model {args.model}: step {model.card.get('steps')}, device {args.device}, "
        f"threads {args.threads or 'library choice'}, batch {args.batch_size}, scale_eps {args.scale_eps or 'default'}, "
        f"kernel {_kernel_label(args.kernel)}"
    )
    if args.profile:
        for sampler, _ in configs:
            profile_step(model, sampler, args.batch_size, args.scale_eps)
        return
    if args.reference and args.reference_dir:
        side_by_side(model, load_reference(args.reference_dir), args)
        return
    if args.same_seed:
        for sampler, steps in configs:
            same_seed(model, sampler, steps, args)
        return
    print(
        f"{'sampler':>8s} {'steps':>6s} {'n':>6s} {'seconds':>8s} {'mol/s':>7s} {'val w/o corr':>12s} {'valid':>6s} {'unique':>7s} {'novel':>6s}"
    )
    for sampler, steps in configs:
        start = time.perf_counter()
        result = generate(
            model,
            args.n,
            seed=0,
            batch_size=args.batch_size,
            sampler=sampler,
            steps=steps,
            kernel=args.kernel,
            **_scale(args.scale_eps),
        )
        seconds = time.perf_counter() - start
        s = result.summary
        novelty = "n/a" if s["novelty"] is None else f"{100 * s['novelty']:.2f}"
        print(
            f"{sampler:>8s} {steps:>6d} {args.n:>6d} {seconds:>8.1f} {args.n / seconds:>7.2f} "
            f"{100 * s['validity_wo_correction']:>12.2f} {100 * s['validity']:>6.2f} {100 * s['uniqueness']:>7.2f} {novelty:>6s}"
        )
        if args.reference and sampler == "pc":
            reference = 1000.0 / (REFERENCE_SECONDS_PER_1000 * steps / 1000)
            print(
                f"{'GDSS ref':>8s} {steps:>6d} {'':>6s} {'':>8s} {reference:>7.2f}   "
                f"(QUOTED, not run here: issue 16's one-thread measurement, scaled to {steps} steps, made under another load: "
                f"unigen / reference = {args.n / seconds / reference:.2f}x is NOT like for like; issue 16 "
                f"measured unigen 7e145df at {ISSUE_UNIGEN_SECONDS_PER_1000:.0f} s in the same run)"
            )


if __name__ == "__main__":
    main()
