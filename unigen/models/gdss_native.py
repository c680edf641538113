"""GDSS's score networks for CPU sampling as one C loop per group of graphs (issue 16, fourth round).

:class:`FusedScores` runs ~1,500 tensor operators per chunk of graphs, each a pass over the chunk's
pair states; on two cores that left a score evaluation of 1,000 QM9 graphs at ~21 ms, nearly all
memory passes. ``gdss_native.c`` evaluates all layers of a network on a group of 16 QM9 graphs
before the next group: their pair states (8 x 1,296 floats) stay in the core's cache. Same
weights (folded by :class:`~unigen.models.gdss_inference.FusedScores`), same arithmetic; values
agree with the torch path to float rounding (sums run in another order; exp, SiLU and the exact
GELU are polynomials good to ~1e-7), which ``tests/models/test_gdss_inference.py`` checks. Not
bit-identical: a seed gives the torch path's molecules except where rounding tips a trajectory
(benchmarks/RESULTS.md counts them: none of 1,000 at seed 0 for the shipped sampler).

The C file ships with the package and is compiled at first use with the system C compiler
(``$CC``, else ``cc``; ``-O3 -march=native``) into ``<cache_dir>/native``, keyed by the source, the
flags, the compiler and the CPU. No compiler, or a failed build: :func:`library` returns None with
the reason in :func:`unavailable_reason`, and GDSS samples on the traced torch path
(``sampling.kernel=auto``; ``native`` makes it an error); so it does where the build has vectors of
fewer than 8 floats (:func:`fast_here`: no AVX). Loaded through ``ctypes``, whose calls
release the GIL, so :class:`~unigen.models.gdss_inference.ChunkedScores` runs chunks on threads.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import torch
from torch import Tensor

from unigen.paths import cache_dir

SOURCE = Path(__file__).with_name("gdss_native.c")
FLAGS = ("-O3", "-march=native", "-fno-math-errno", "-ffp-contract=fast", "-std=gnu11", "-shared", "-fPIC")
_READOUT = {"node": 0, "pair": 1}

_lock = threading.Lock()
_state: dict = {}  # "lib" (ctypes.CDLL or None), "reason" (str) once tried


def library():
    """The compiled kernel (``ctypes.CDLL``), built on first use; None when it cannot be built."""
    with _lock:
        if "lib" not in _state:
            try:
                _state["lib"], _state["reason"] = _load(_build()), ""
            except (OSError, RuntimeError, subprocess.SubprocessError) as err:
                _state["lib"], _state["reason"] = None, str(err)
        return _state["lib"]


def unavailable_reason() -> str:
    """Why :func:`library` returned None ("" when it loaded)."""
    library()
    return _state["reason"]


def _build() -> Path:
    compiler = os.environ.get("CC") or "cc"
    if shutil.which(compiler) is None:
        raise RuntimeError(f"no C compiler {compiler!r} on PATH (set CC)")
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=60).stdout
    key = hashlib.sha256(
        "\0".join([SOURCE.read_text(), " ".join(FLAGS), version, platform.machine(), _cpu_id()]).encode()
    ).hexdigest()[:16]
    target = cache_dir() / "native" / f"gdss_native-{key}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".gdss_native.", suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        done = subprocess.run(
            [compiler, *FLAGS, str(SOURCE), "-o", tmp, "-lm"], capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            first = (done.stderr.strip().splitlines() or ["no message"])[0]
            raise RuntimeError(f"{compiler} failed on {SOURCE.name}: {first}")
        os.replace(tmp, target)  # another process building the same key writes the same file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _cpu_id() -> str:
    """The CPU model and flags (``-march=native`` code must not run on another CPU sharing $HOME)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    wanted = ("model name", "flags", "Features", "CPU part")
    return "\n".join(dict.fromkeys(line for line in lines if line.split(":")[0].strip() in wanted))


def _load(path: Path):
    lib = ctypes.CDLL(str(path))
    pointer, int64 = ctypes.c_void_p, ctypes.c_int64
    lib.gdss_net.argtypes = [
        pointer,
        pointer,
        int64,
        int64,
        int64,
        pointer,
        pointer,
        pointer,
        pointer,
        pointer,
    ]
    lib.gdss_net.restype = ctypes.c_int
    lib.gdss_lanes.restype = ctypes.c_int
    return lib


def fast_here() -> bool:
    """Whether the kernel builds here with vectors of 8 floats or more (AVX, AVX-512): on SSE-width
    vectors it ran ~1.5x slower than the traced torch path on the development VM (54 against 34 ms
    per evaluation of 1,000 QM9 graphs, ``-march=x86-64``), with AVX2 ~1.5x faster (23 ms)."""
    lib = library()
    return lib is not None and lib.gdss_lanes() >= 8


def pack(net) -> tuple[Tensor, Tensor]:
    """A prepared network (``gdss_inference._Net``) -> ``(spec int32, params float32)`` in the
    order ``gdss_native.c`` reads them."""
    blocks = net.blocks
    d, p = net.node_embed.out_features, net.pair_embed.out_features
    updating = [b for b in blocks if b.update_pairs]
    pair_hidden = len(updating[0].ffn_in) if updating else 0
    if net.readout == "node":
        head_hidden, out_features = net.head[0].out_features, net.head[2].out_features
    else:
        head_hidden, out_features = p, 1
    spec = [
        _READOUT[net.readout], net.powers, net.node_embed.in_features, d, p, blocks[0].heads,
        blocks[0].head_dim, blocks[0].ffn.w1.out_features, pair_hidden, len(blocks), head_hidden,
        out_features, int(net.time), *(int(b.update_pairs) for b in blocks),
    ]  # fmt: skip
    zeros = torch.zeros
    parts = [
        net.node_embed.weight.T, net.node_embed.bias, net.pair_embed.weight, net.pair_embed.bias,
        zeros(d) if net.cond_node is None else net.cond_node,
        zeros(p) if net.cond_pair is None else net.cond_pair,
    ]  # fmt: skip
    for b in blocks:
        parts += [[b.eps], b.pair_in, b.pair_in_bias, *_norm(b.norm_attn)]
        parts += [b.qkv.T, _bias(b.qkv_bias, 3 * d), b.attn_out.weight.T, _bias(b.attn_out.bias, d)]
        if b.update_pairs:
            parts += [*_norm(b.norm_nodes), b.node_terms.T, _bias(None, len(b.node_terms))]
            parts += [b.update_out, b.update_out_bias]
            parts += [[b.ffn_eps], b.ffn_in, b.ffn_in_bias, b.ffn_out, b.ffn_out_bias]
        w1, w2 = b.ffn.w1, b.ffn.w2
        parts += [*_norm(b.norm_ffn), w1.weight.T, _bias(w1.bias, w1.out_features)]
        parts += [w2.weight.T, _bias(w2.bias, d)]
    if net.readout == "node":
        first, last = net.head[0], net.head[2]
        parts += [*_norm(net.final_norm), first.weight.T, first.bias, last.weight.T, last.bias]
    else:
        parts += [[net.pair_eps], net.head_in, net.head_in_bias, net.head_out, net.head_out_bias]
    flat = torch.cat([torch.as_tensor(x, dtype=torch.float32).detach().reshape(-1) for x in parts])
    return torch.tensor(spec, dtype=torch.int32), flat.contiguous()


def _norm(norm) -> list:
    return [norm.weight, norm.bias, [norm.eps]]


def _bias(bias, size: int):
    return torch.zeros(size) if bias is None else bias


class NativeScores:
    """``FusedScores``' interface (``prepare(node_mask)``, ``(x, adj, masks, t) -> scores``) on the
    C kernel; float32 CPU tensors only."""

    def __init__(self, fused, lib):
        self.lib, self.sdes = lib, fused.sdes
        self.nets = [pack(net) for net in fused.nets]

    @staticmethod
    def prepare(node_mask: Tensor) -> Tensor:
        return node_mask.to(torch.float32).contiguous()

    def __call__(self, x: Tensor, adj: Tensor, node_mask: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        if x.dtype != torch.float32:
            raise TypeError(f"the native GDSS kernel runs float32, got {x.dtype}")
        x, adj, t = x.contiguous(), adj.contiguous(), t.to(torch.float32).contiguous()
        b, n, f = x.shape
        outs = (x.new_empty(b, n, f), adj.new_empty(b, n, n))
        for (spec, params), out in zip(self.nets, outs):
            status = self.lib.gdss_net(
                spec.data_ptr(), params.data_ptr(), params.numel(), b, n,
                x.data_ptr(), adj.data_ptr(), node_mask.data_ptr(), t.data_ptr(), out.data_ptr(),
            )  # fmt: skip
            if status != 0:
                raise RuntimeError(
                    f"gdss_native: gdss_net returned {status} (weights do not match the kernel)"
                )
        return tuple(sde.output_to_score(out, t) for sde, out in zip(self.sdes, outs))
