"""GDSS's two score networks at sampling time, with fewer and cheaper tensor operations (issue 16).

A sampling step of GDSS runs two small backbones (dim 16, pair_dim 8, 9-node graphs) on a batch
of graphs once (S4) or twice (PC); on CPU the cost is operator count and passes over small
tensors, not arithmetic. Through the backbone modules (``Backbone._forward_dense_cf``) one call of
both networks on a chunk of graphs issues ~2,400 operator calls, some of them on weights or masks
that do not change during sampling; :class:`FusedScores` issues ~1,500 (views included), with
fewer passes over the pair states:

* weights prepared once (kept by ``GDSS`` until a parameter changes): LayerNorm affines folded
  into the following linear maps; the pair-bias and pair-update maps of a block stacked into one
  matrix (both read the normalised pair state, so its statistics are computed once); the
  attention's query scale folded into its projection;
* masks prepared once per chunk of graphs per run (:meth:`FusedScores.prepare`): pair validity,
  attention visibility, the adjacency head's off-diagonal mask;
* the adjacency powers computed once for both networks; residual adds and biases inside matrix
  products; channel means of the pair LayerNorms as matrix products.

:class:`ChunkedScores` runs it traced (``torch.jit.trace``: no Python per operator, the GIL
released) over cache-sized chunks of a batch, on one or more threads.
The arithmetic is the backbone's channels-first inference path (pair states ``(p, B, N, N)``,
attention scores ``(key, H, B, query)``); values agree with ``GDSS.scores`` to float rounding
(sums run in another order), which ``tests/models/test_gdss_inference.py`` checks.
"""

from __future__ import annotations

import copy
import math
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import Tensor

from unigen.backbone.layers import fold_norm
from unigen.errors import UnigenError
from unigen.models import gdss_native


@dataclass
class ChunkMasks:
    """Masks of one chunk of ``B`` graphs with ``N`` node slots (constant during sampling).

    node (B, N, 1) float; pair (B*N*N,) float, both nodes real; hidden (N_key, 1, B, N_query) bool,
    keys a query may not read; empty (B, N) bool, queries that read nothing (zero message);
    head (B, N, N) float, off-diagonal real pairs (the adjacency score's support).
    """

    node: Tensor
    pair: Tensor
    hidden: Tensor
    empty: Tensor
    head: Tensor


def supports(model) -> bool:
    """Whether :class:`FusedScores` reproduces ``model``'s score networks: the GDSS backbone
    configuration (full attention, LayerNorm, GELU MLP, pair states; no geometry, PPGN, rotary)."""
    for net in (model.net_x, model.net_adj):
        cfg = net.backbone.config
        plain = cfg.geometry == "none" and not cfg.ppgn and cfg.rotary == "none"
        if not (plain and cfg.pair_dim and cfg.mask_mode == "full" and cfg.norm == "layernorm"):
            return False
        if cfg.ffn != "mlp" or net.training:
            return False
    return True


class _Block:
    """One backbone block's weights, prepared for :meth:`FusedScores._block`."""

    def __init__(self, block, update_pairs: bool):
        attn, heads = block.attn, block.attn.heads
        self.heads, self.head_dim, self.update_pairs = heads, attn.head_dim, update_pairs
        norms = [block.pair_bias[0]] + ([block.pair_update.norm] if update_pairs else [])
        if len({n.eps for n in norms}) > 1:
            raise ValueError("pair norms with different eps cannot share statistics")
        self.eps = norms[0].eps
        parts = [fold_norm(block.pair_bias[0], block.pair_bias[1])]
        if update_pairs:
            parts.append(fold_norm(block.pair_update.norm, block.pair_update.lin_e))
        self.pair_in = torch.cat([w for w, _ in parts])  # (H [+ p], p)
        self.pair_in_bias = torch.cat([b for _, b in parts])[:, None]
        qkv = attn.qkv.weight.clone()
        qkv[: attn.heads * attn.head_dim] *= attn.head_dim**-0.5
        self.qkv, self.qkv_bias = qkv, attn.qkv.bias
        self.norm_attn, self.attn_out = block.norm_attn, attn.out
        self.norm_ffn, self.ffn = block.norm_ffn, block.ffn
        if update_pairs:
            update, ffn = block.pair_update, block.pair_ffn.net
            self.norm_nodes = block.norm_pair_nodes
            self.node_terms = torch.cat([update.lin_a.weight, update.lin_b.weight])  # (2p, d)
            self.update_out, self.update_out_bias = update.out.weight, update.out.bias[:, None]
            self.ffn_in, self.ffn_in_bias = fold_norm(ffn[0], ffn[1])
            self.ffn_in_bias = self.ffn_in_bias[:, None]
            self.ffn_out, self.ffn_out_bias = ffn[3].weight, ffn[3].bias[:, None]
            self.ffn_eps = ffn[0].eps


class _Net:
    """One score network (backbone + head) prepared for :meth:`FusedScores._net`."""

    def __init__(self, net, readout: str):
        bb = net.backbone
        self.readout, self.powers, self.time = readout, net.powers, net.time_conditioning
        self.node_embed, self.pair_embed = bb.node_embed, bb.pair_embed
        self.cond_node = None if bb.cond_embed is None else bb.cond_embed.weight[:, 0]
        self.cond_pair = None if bb.cond_pair_embed is None else bb.cond_pair_embed.weight[:, 0]
        schedule = [block for _, block in bb._schedule()]
        last = len(schedule) - 1
        self.blocks = [_Block(b, readout == "pair" or i < last) for i, b in enumerate(schedule)]
        self.final_norm = bb.final_norm
        head = net.head.mlp
        if readout == "pair":  # pair head on the final pair norm, its affine folded into the head
            self.head_in, self.head_in_bias = fold_norm(bb.pair_final_norm, head[0])
            self.head_in_bias = self.head_in_bias[:, None]
            self.head_out, self.head_out_bias = head[2].weight, head[2].bias[:, None]
            self.pair_eps = bb.pair_final_norm.eps
        else:
            self.head = head


class FusedScores:
    """``GDSS.scores`` for sampling on chunks of graphs. It holds folded copies of the weights, so
    a weight change needs a new one (``GDSS._fused`` keeps one per set of weights). Usage::

        fused = FusedScores(model)
        masks = fused.prepare(node_mask_chunk)       # once per chunk
        score_x, score_adj = fused(x, adj, masks, t)  # every step
    """

    def __init__(self, model):
        if not supports(model):
            raise ValueError("FusedScores supports the GDSS backbone configuration only (see supports)")
        self.sdes = (model.sde_x, model.sde_adj)
        # frozen copies: weights that need no grad can be constants of a trace, and the copies
        # cannot change under this object when the model trains on
        net_x, net_adj = (copy.deepcopy(net).requires_grad_(False) for net in (model.net_x, model.net_adj))
        with torch.no_grad():
            self.nets = (_Net(net_x, "node"), _Net(net_adj, "pair"))
        self._compiled, self._traced, self._native = None, {}, None

    def native(self):
        """These networks on the C kernel (:class:`~unigen.models.gdss_native.NativeScores`), built
        at the first call; a UnigenError says why when it cannot be built."""
        if self._native is None:
            lib = gdss_native.library()
            if lib is None:
                raise UnigenError(
                    f"the native GDSS kernel is unavailable: {gdss_native.unavailable_reason()}"
                )
            self._native = gdss_native.NativeScores(self, lib)
        return self._native

    def compiled(self):
        """This function through ``torch.compile`` (fixed shapes; compiled at its first call).
        Single-threaded kernels under a C++ wrapper: chunk threads then run them side by side
        (the default Python wrapper holds the GIL, and its kernels' own OpenMP threads would
        compete with the chunk threads)."""
        if self._compiled is None:
            options = {"cpp_wrapper": True, "cpp.threads": 1}
            self._compiled = torch.compile(self.__call__, dynamic=False, options=options)
        return self._compiled

    def traced(self, x: Tensor, adj: Tensor, masks: ChunkMasks, t: Tensor) -> tuple[Tensor, Tensor]:
        """This function through ``torch.jit.trace``, one trace per chunk shape (kept; tracing runs
        the function once). The interpreter runs the ~1,500 operators of a chunk from C++ with the
        GIL released, so chunk threads scale: on two cores 1.97x over one thread against ~1.6x for
        the Python calls (benchmarks/RESULTS.md). There is no branch on tensor values to freeze.
        The graph executor's optimisations stay off: they split ``addmm`` into ``mm`` + ``add``,
        which gains nothing and changes the last bits; without them the values are the eager ones."""
        args = (x, adj, t, *(getattr(masks, f.name) for f in fields(ChunkMasks)))
        key = (x.shape, x.dtype)  # every other input's shape follows from x's (B, N, F)
        with torch.jit.optimized_execution(False), torch.no_grad():
            if key not in self._traced:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # TracerWarnings on Python ints taken from shapes
                    self._traced[key] = torch.jit.trace(self._flat, args, check_trace=False)
            return self._traced[key](*args)

    def _flat(self, x, adj, t, *masks):
        return self(x, adj, ChunkMasks(*masks), t)

    @staticmethod
    def prepare(node_mask: Tensor) -> ChunkMasks:
        """``node_mask (B, N)`` (1 = real node) -> the chunk's :class:`ChunkMasks`."""
        real = node_mask.bool()
        visible = real.unsqueeze(2) & real.unsqueeze(1)  # (B, query, key)
        empty = ~visible.any(-1)
        hidden = ~(visible | empty.unsqueeze(-1))
        n = node_mask.shape[1]
        pair = visible.to(node_mask.dtype)
        off_diagonal = 1 - torch.eye(n, dtype=node_mask.dtype, device=node_mask.device)
        return ChunkMasks(
            node=real.to(node_mask.dtype).unsqueeze(-1),
            pair=pair.reshape(-1),
            hidden=hidden.permute(2, 0, 1).unsqueeze(1).contiguous(),
            empty=empty,
            head=pair * off_diagonal,
        )

    @torch.no_grad()
    def __call__(self, x: Tensor, adj: Tensor, masks: ChunkMasks, t: Tensor) -> tuple[Tensor, Tensor]:
        """``x (B, N, F)``, ``adj (B, N, N)``, ``t (B,)`` -> scores of X and A (shapes of x, adj)."""
        powers = [adj]
        for _ in range(max(net.powers for net in self.nets) - 1):
            powers.append(powers[-1] @ adj)
        outs = [self._net(net, x, powers, masks, t) for net in self.nets]
        return tuple(sde.output_to_score(out, t) for sde, out in zip(self.sdes, outs))

    def _net(self, net: _Net, x_in: Tensor, powers: list, m: ChunkMasks, t: Tensor) -> Tensor:
        b, n, _ = x_in.shape
        x = net.node_embed(x_in)
        e = torch.stack(powers[: net.powers]).view(net.powers, -1)  # (k, B*N*N) channels first
        e = _linear(net.pair_embed.weight, e, net.pair_embed.bias[:, None]).view(-1, b, n * n)
        if net.time:
            x = x.add_((t[:, None] * net.cond_node)[:, None, :])
            e = e.add_((net.cond_pair[:, None] * t)[:, :, None])
        e = e.view(len(e), -1)
        for block in net.blocks:
            x, e = self._block(block, x, e, m)
        x = net.final_norm(x)
        if net.readout == "node":
            return net.head(x) * m.node
        h = F.silu(_linear(net.head_in, _normed(e, net.pair_eps), net.head_in_bias), inplace=True)
        s = _linear(net.head_out, h, net.head_out_bias).view(b, n, n)
        return (0.5 * (s + s.transpose(1, 2))).mul_(m.head)

    @staticmethod
    def _block(p: _Block, x: Tensor, e: Tensor, m: ChunkMasks) -> tuple[Tensor, Tensor]:
        """One block on node states ``x (B, N, d)`` and pair states ``e (p, B*N*N)``."""
        b, n, d = x.shape
        heads, hd = p.heads, p.head_dim
        proj = _linear(p.pair_in, _normed(e, p.eps), p.pair_in_bias)  # pair bias [+ update input]
        # 1. attention with the pair bias; scores held (key, H, B, query)
        qkv = F.linear(p.norm_attn(x), p.qkv, p.qkv_bias)
        q, k, v = qkv.view(b, n, 3, heads, hd).permute(2, 4, 3, 0, 1).contiguous()  # (hd, H, B, N)
        keys, values = k.permute(0, 3, 1, 2).unsqueeze(-1), v.permute(0, 3, 1, 2).unsqueeze(-1)
        score = proj[:heads].view(heads, b, n, n).permute(3, 0, 1, 2).contiguous()
        for i in range(hd):
            score.addcmul_(q[i], keys[i])
        prob = score.masked_fill_(m.hidden, float("-inf")).softmax(0)
        out = torch.stack([(prob * values[i]).sum(0) for i in range(hd)]).masked_fill_(m.empty, 0.0)
        out = p.attn_out(out.permute(2, 3, 1, 0).reshape(b, n, d))
        x = x + out
        # 2. pair update from the node states, then the pair FFN (zero on padded pairs)
        if p.update_pairs:
            terms = F.linear(p.norm_nodes(x), p.node_terms).permute(2, 0, 1)  # (2p, B, N)
            pd = len(p.update_out)
            h = proj[heads:].view(pd, b, n, n)
            h += terms[:pd, :, :, None]
            h += terms[pd:, :, None, :]
            e = e.addmm_(p.update_out, F.silu(h, inplace=True).view(pd, -1)).add_(p.update_out_bias)
            h = F.silu(_linear(p.ffn_in, _normed(e, p.ffn_eps), p.ffn_in_bias), inplace=True)
            e = e.addmm_(p.ffn_out, h).add_(p.ffn_out_bias).mul_(m.pair)  # e is this call's own tensor
        # 3. node FFN
        return x + p.ffn(p.norm_ffn(x)), e


def _normed(e: Tensor, eps: float) -> Tensor:
    """LayerNorm without its affine (folded into the next map) over the leading channel axis of
    ``e (C, M)``: a few passes over contiguous rows; the channel means are matrix products, ~2x faster
    than ``mean(0)`` on CPU (and ``torch.var_mean`` over a leading axis is ~40x slower)."""
    average = e.new_full((1, len(e)), 1.0 / len(e))  # means over channels as (1, C) @ (C, M)
    centred = e - average @ e
    return centred.mul_((average @ (centred * centred)).add_(eps).rsqrt_())


def _linear(weight: Tensor, x: Tensor, add: Tensor | None = None) -> Tensor:
    """``weight (C_out, C_in) @ x (C_in, M)`` [+ ``add``, in the same product]."""
    return weight @ x if add is None else torch.addmm(add, weight, x)


KERNELS = ("auto", "native", "traced", "compile")


def resolve_kernel(kernel: str, dtype: torch.dtype = torch.float32) -> str:
    """``auto`` -> ``native`` for float32 where the C kernel builds with vectors of 8 floats or more
    (``unigen.models.gdss_native.fast_here``), else ``traced``; the other names stand for
    themselves (``native`` in another dtype: an error)."""
    if kernel == "auto":
        return "native" if dtype == torch.float32 and gdss_native.fast_here() else "traced"
    if kernel == "native" and dtype != torch.float32:
        raise UnigenError(f"the native GDSS kernel runs float32 weights, not {dtype}; use kernel=traced")
    return kernel


class ChunkedScores:
    """The sampler's score function over a whole batch: :class:`FusedScores` on chunks of graphs.

    ``chunk`` graphs per call keep the pair states in the per-core cache (the native kernel groups
    graphs itself, so it gets one even share of the batch per thread). With ``threads > 1`` the
    chunks are spread over that many Python threads, each running its operators on one torch
    thread (``torch.set_num_threads(1)`` inside the ``with`` block, restored after): the threads
    synchronise once per score evaluation, not at each of the ~1,500 small operators of a chunk,
    so a core shared with another job slows its own chunks only. ``kernel``: ``traced``
    (:meth:`FusedScores.traced`), ``native`` (:meth:`FusedScores.native`, the C loop; its ctypes
    calls release the GIL too) or ``compile`` (``torch.compile``; one shape: the last chunk is
    padded with copies of a graph).
    Values do not depend on ``threads`` or ``chunk``: each graph's score is its own.

        with ChunkedScores(FusedScores(model), node_mask, chunk=128, threads=2) as scores:
            score_x, score_adj = scores(x, adj, t)
    """

    def __init__(self, fused: FusedScores, node_mask: Tensor, chunk: int, threads: int = 1, kernel="traced"):
        if kernel not in KERNELS[1:]:
            raise ValueError(f"kernel {kernel!r} is not one of {', '.join(KERNELS[1:])}")
        n = len(node_mask)
        self.threads = max(1, min(threads, math.ceil(n / 16)))
        if kernel == "native":  # it keeps its own cache-sized groups: one even share per thread
            chunk = n
        self.size = size = max(1, min(chunk, math.ceil(n / self.threads)))
        self.spans = [(i, min(i + size, n)) for i in range(0, n, size)]
        self.compiled, self.fused = kernel == "compile", fused
        if kernel == "native":  # its own (smaller) per-chunk inputs
            self.fn = fused.native()
            prepare = self.fn.prepare
        else:
            self.fn, prepare = fused.compiled() if self.compiled else fused.traced, fused.prepare
        self.masks = [prepare(self._pad(node_mask[i:j])) for i, j in self.spans]
        self.pool, self._threads_before, self._warm = None, None, False

    def __enter__(self):
        if self.threads > 1:
            self._threads_before = torch.get_num_threads()
            torch.set_num_threads(1)
            self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="gdss-chunk")
        return self

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None
            torch.set_num_threads(self._threads_before)

    def _pad(self, v: Tensor) -> Tensor:
        """A short last chunk filled up with copies of its first graph (compiled: one shape)."""
        if not self.compiled or len(v) == self.size:
            return v
        return torch.cat([v, v[:1].expand(self.size - len(v), *v.shape[1:])])

    def __call__(self, x: Tensor, adj: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        def one(k):
            i, j = self.spans[k]
            out = self.fn(self._pad(x[i:j]), self._pad(adj[i:j]), self.masks[k], self._pad(t[i:j]))
            return [o[: j - i] for o in out]

        first = 0 if self.pool is None or self._warm else 1  # traced / compiled at the first call
        parts = [one(k) for k in range(first)]
        rest = range(first, len(self.spans))
        parts += list(self.pool.map(one, rest)) if self.pool is not None else [one(k) for k in rest]
        self._warm = True
        if len(parts) == 1:
            return parts[0][0], parts[0][1]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
