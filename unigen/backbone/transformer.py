"""The shared backbone: one pre-norm transformer, configured per family by :class:`BackboneConfig`.

Each block: node attention (with a per-head bias from pair states and distances), then the
pair updates (node-to-pair message, optional PPGN product, pair FFN), then the node FFN.
The same weights run a padded dense batch (SDPA) or a flat edge-list batch (scatter
softmax); see :meth:`Backbone.forward` for the fields each path takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from unigen.backbone.attention import Attention
from unigen.backbone.config import BackboneConfig
from unigen.backbone.geometry import PairGeometry, dense_geometry, edge_displacements, pair_geometry
from unigen.backbone.kv_cache import KVCache
from unigen.backbone.layers import MLP, SwiGLU, drop_path, layer_norm_cf, make_norm, norm_linear_cf
from unigen.backbone.masks import TokenMeta, check_mode, dense_meta, dense_visibility, edge_visibility
from unigen.backbone.pair import PairFFN, PairUpdate, PPGNUpdate
from unigen.backbone.rotary import Rotary


@dataclass
class PairContext:
    """What a pair-wise read-out (``unigen.heads.VectorHead``) needs besides the states.

    Dense path: ``rbf (B, N, N, R)``, ``direction (B, N, N, 3)``, ``visible (B, N, N)`` bool.
    Sparse path: the visible edges only: ``edge_index (2, E_vis)``, ``attend (E_vis,)`` (their
    rows in ``pair``), ``rbf (E_vis, R)``, ``direction (E_vis, 3)``. ``rbf`` / ``direction`` are
    None without geometry. Not a tensor itself, so the symmetry helpers skip it.
    """

    visible: Tensor | None = None
    rbf: Tensor | None = None
    direction: Tensor | None = None
    edge_index: Tensor | None = None
    attend: Tensor | None = None


@dataclass
class BackboneOutput:
    """What the backbone returns.

    Fields (dense path | sparse path):
        h: node states ``(B, N, dim)`` | ``(N, dim)``; zero on padding.
        pair: pair states ``(B, N, N, pair_dim)`` | ``(E, pair_dim)``, or None without a pair state;
            zero on pairs with a padded node.
        context: :class:`PairContext` for read-out heads.
    """

    h: Tensor
    pair: Tensor | None = None
    context: PairContext | None = None


@dataclass
class _DenseContext:
    visible: Tensor  # (B, T, Tk) who attends to whom
    pair_valid: Tensor | None  # (B, N, N) both nodes real
    reach: Tensor | None  # (B, N, N) mask-mode visibility for the PPGN product; None for "full"
    rbf: Tensor | None  # (B, N, N, R)
    angles: Tensor | None  # (B, T, hd/2)
    cache: KVCache | None
    is_causal: bool


@dataclass
class _SparseContext:
    edge_index: Tensor  # (2, E) all edges (source, target)
    attend: Tensor  # (E_vis,) indices of the edges the mask lets through
    rbf: Tensor | None  # (E, R)
    angles: Tensor | None  # (N, hd/2)
    sample: Tensor  # (N,) graph of each node


class Block(nn.Module):
    """One pre-norm block: attention, pair updates, FFN."""

    def __init__(self, cfg: BackboneConfig, drop_path_rate: float):
        super().__init__()
        d, p = cfg.dim, cfg.pair_dim
        self.drop_path_rate = drop_path_rate
        self.norm_attn, self.norm_ffn = make_norm(cfg.norm, d), make_norm(cfg.norm, d)
        self.attn = Attention(d, cfg.heads, cfg.bias, cfg.attn_dropout, cfg.scatter_backend)
        self.ffn = SwiGLU(d, cfg.hidden, cfg.bias) if cfg.ffn == "swiglu" else MLP(d, cfg.hidden, cfg.bias)
        self.pair_bias = nn.Sequential(nn.LayerNorm(p), nn.Linear(p, cfg.heads, bias=False)) if p else None
        self.geo_bias = nn.Linear(cfg.num_rbf, cfg.heads, bias=False) if cfg.geometry != "none" else None
        self.norm_pair_nodes = make_norm(cfg.norm, d) if p else None
        self.pair_update = PairUpdate(d, p) if p else None
        self.pair_ffn = PairFFN(p) if p else None
        self.ppgn = PPGNUpdate(p) if cfg.ppgn else None
        if cfg.zero_init_residual:
            nn.init.zeros_(self.attn.out.weight)
            nn.init.zeros_(self.ffn.w2.weight)

    def _bias(self, e: Tensor | None, rbf: Tensor | None) -> Tensor | None:
        """Per-head additive attention bias ``(..., H)`` from pair states and distances."""
        terms = []
        if self.pair_bias is not None and e is not None:
            terms.append(self.pair_bias(e))
        if self.geo_bias is not None and rbf is not None:
            terms.append(self.geo_bias(rbf))
        return sum(terms) if terms else None

    def _residual(self, x: Tensor, delta: Tensor, sample: Tensor | None = None) -> Tensor:
        return x + drop_path(delta, self.drop_path_rate, self.training, sample)

    def forward_dense(
        self, x: Tensor, e: Tensor | None, ctx: _DenseContext, layer: int
    ) -> tuple[Tensor, Tensor | None]:
        """``x (B, T, d)``, ``e (B, N, N, p)`` or None -> updated ``(x, e)``."""
        bias = self._bias(e, ctx.rbf)
        bias = None if bias is None else bias.permute(0, 3, 1, 2)
        att = self.attn.dense(
            self.norm_attn(x), ctx.visible, bias, ctx.angles, ctx.cache, layer, ctx.is_causal
        )
        x = self._residual(x, att)
        if e is not None:
            a, b = self.pair_update.node_terms(self.norm_pair_nodes(x))
            e = e + self.pair_update(e, a.unsqueeze(2), b.unsqueeze(1))
            if self.ppgn is not None:
                e = e + self.ppgn(e, ctx.pair_valid, ctx.reach)
            e = (e + self.pair_ffn(e)) * ctx.pair_valid.unsqueeze(-1)
        return self._residual(x, self.ffn(self.norm_ffn(x))), e

    def forward_dense_cf(
        self, x: Tensor, e: Tensor, ctx: _DenseContext, update_pairs: bool = True
    ) -> tuple[Tensor, Tensor]:
        """:meth:`forward_dense` at inference on channels-first pair states ``e (p, B, N, N)``
        (no geometry, PPGN, rotary or cache); ``update_pairs=False`` skips the pair updates
        (the last block when the caller reads node states only)."""
        bias = norm_linear_cf(*self.pair_bias, e)  # (H, B, N, N)
        x = x + self.attn.dense_cf(self.norm_attn(x), ctx.visible, bias)
        if update_pairs:
            a, b = (t.permute(2, 0, 1) for t in self.pair_update.node_terms(self.norm_pair_nodes(x)))
            e = self.pair_update.forward_cf(e, a.unsqueeze(-1), b.unsqueeze(-2))
            e = self.pair_ffn.forward_cf(e) * ctx.pair_valid
        return x + self.ffn(self.norm_ffn(x)), e

    def forward_sparse(
        self, x: Tensor, e: Tensor | None, ctx: _SparseContext
    ) -> tuple[Tensor, Tensor | None]:
        """``x (N, d)``, ``e (E, p)`` or None -> updated ``(x, e)``."""
        bias = self._bias(e, ctx.rbf)
        bias = None if bias is None else bias.index_select(0, ctx.attend)
        edges = ctx.edge_index.index_select(1, ctx.attend)
        x = self._residual(x, self.attn.sparse(self.norm_attn(x), edges, bias, ctx.angles), ctx.sample)
        if e is not None:
            src, dst = ctx.edge_index
            a, b = self.pair_update.node_terms(self.norm_pair_nodes(x))
            e = e + self.pair_update(e, a.index_select(0, dst), b.index_select(0, src))
            e = e + self.pair_ffn(e)
        return self._residual(x, self.ffn(self.norm_ffn(x)), ctx.sample), e


class Backbone(nn.Module):
    """The shared equivariant transformer (``../shared/DESIGN.md``, "The shared backbone")."""

    def __init__(self, config: BackboneConfig):
        super().__init__()
        cfg = self.config = config
        d, p = cfg.dim, cfg.pair_dim
        self.token_embed = nn.Embedding(cfg.vocab_size, d) if cfg.vocab_size else None
        self.node_embed = nn.Linear(cfg.node_in, d) if cfg.node_in else None
        self.pair_embed = nn.Linear(cfg.pair_in, p) if cfg.pair_in else None
        self.cond_embed = nn.Linear(cfg.cond_dim, d, bias=False) if cfg.cond_dim else None
        self.cond_pair_embed = nn.Linear(cfg.cond_dim, p, bias=False) if cfg.cond_dim and p else None
        self.geo_pair_embed = nn.Linear(cfg.num_rbf, p) if p and cfg.geometry != "none" else None
        rates = torch.linspace(0.0, cfg.drop_path, cfg.depth).tolist() if cfg.depth > 1 else [cfg.drop_path]
        self.blocks = nn.ModuleList(Block(cfg, rate) for rate in rates)
        self.final_norm = make_norm(cfg.norm, d)
        self.pair_final_norm = nn.LayerNorm(p) if p else None
        axes = {"none": 0, "1d": 1, "3d": 3}[cfg.rotary]
        self.rotary = Rotary(cfg.head_dim, axes, cfg.rotary_theta, cfg.rotary_resolution) if axes else None

    def forward(
        self,
        tokens: Tensor | None = None,
        h: Tensor | None = None,
        embeddings: Tensor | None = None,
        node_mask: Tensor | None = None,
        pair: Tensor | None = None,
        pair_mask: Tensor | None = None,
        pos: Tensor | None = None,
        lattice: Tensor | None = None,
        positions: Tensor | None = None,
        block_id: Tensor | None = None,
        is_target: Tensor | None = None,
        edge_index: Tensor | None = None,
        edge_attr: Tensor | None = None,
        batch: Tensor | None = None,
        cond: Tensor | None = None,
        mask_mode: str | None = None,
        cache: KVCache | None = None,
        need_pair: bool = True,
    ) -> BackboneOutput:
        """Run the backbone on a dense padded batch, or on an edge list when ``edge_index`` is given.

        Dense fields:
            tokens ``(B, N)`` long, h ``(B, N, node_in)`` and/or embeddings ``(B, N, dim)`` (a family's
            own embedder output, added as-is); the given ones are summed. node_mask ``(B, N)`` bool (True = real);
            pair ``(B, N, N, pair_in)``; pair_mask ``(B, N, N)`` bool: attend only along these pairs
            (a graph's adjacency, the dense twin of ``edge_index``); pos ``(B, N, 3)``;
            lattice ``(B, 3, 3)`` rows = cell vectors (``geometry="periodic"``);
            positions ``(B, N)`` for 1-D rotary (default: token index); block_id ``(B, N)`` long and
            is_target ``(B, N)`` bool for ``block_causal``; cache: a :class:`KVCache` for decoding;
            cond ``(B, cond_dim)``: a per-sample condition (diffusion time, properties), added through
            a linear map to every node's input embedding and every pair's initial state.
        Sparse fields (a flat batch of ``N`` nodes): tokens ``(N,)``, h ``(N, node_in)``, embeddings ``(N, dim)``;
            edge_index ``(2, E)`` rows (source j, target i), i attends to j; edge_attr ``(E, pair_in)``;
            batch ``(N,)`` graph of each node; pos ``(N, 3)``; positions, block_id, is_target ``(N,)``;
            cond ``(G, cond_dim)``, one row per graph of ``batch``.
        ``mask_mode`` overrides ``config.mask_mode`` for this call. ``need_pair=False`` (dense path): the
        caller reads node states only, so the output has no ``pair`` (and inference skips the last
        block's pair updates, which nothing reads).
        """
        mode = mask_mode or self.config.mask_mode
        check_mode(mode)
        x = self._embed(tokens, h, embeddings)
        cond = self._check_cond(cond)
        if edge_index is not None:
            dense_only = {"node_mask": node_mask, "pair": pair, "pair_mask": pair_mask, "cache": cache}
            given = [name for name, value in dense_only.items() if value is not None]
            if given:
                raise ValueError(
                    f"{', '.join(given)}: dense-path inputs, not used with edge_index (use edge_attr, batch)"
                )
            sample = torch.zeros(x.shape[0], dtype=torch.long, device=x.device) if batch is None else batch
            x = x if cond is None else x + self.cond_embed(cond).index_select(0, sample)
            return self._forward_sparse(
                x, edge_index, edge_attr, sample, pos, lattice, positions, block_id, is_target, mode, cond
            )
        x = x if cond is None else x + self.cond_embed(cond).unsqueeze(1)
        return self._forward_dense(
            x,
            node_mask,
            pair,
            pair_mask,
            pos,
            lattice,
            positions,
            block_id,
            is_target,
            mode,
            cache,
            cond,
            need_pair,
        )

    # -- inputs ---------------------------------------------------------------------------

    def _embed(self, tokens: Tensor | None, h: Tensor | None, embeddings: Tensor | None) -> Tensor:
        if tokens is None and h is None and embeddings is None:
            raise ValueError("backbone input needs tokens, node features h or embeddings")
        parts = []
        if embeddings is not None:
            if embeddings.shape[-1] != self.config.dim:
                raise ValueError(
                    f"embeddings need last dimension dim={self.config.dim}, got {tuple(embeddings.shape)}"
                )
            parts.append(embeddings)
        if tokens is not None:
            if self.token_embed is None:
                raise ValueError("tokens given but backbone.vocab_size is 0")
            parts.append(self.token_embed(tokens))
        if h is not None:
            if self.node_embed is None or h.shape[-1] != self.config.node_in:
                raise ValueError(
                    f"node features h need last dimension node_in={self.config.node_in}, got {tuple(h.shape)}"
                )
            parts.append(self.node_embed(h))
        return sum(parts)

    def _check_cond(self, cond: Tensor | None) -> Tensor | None:
        if cond is not None and self.cond_embed is None:
            raise ValueError("cond given but backbone.cond_dim is 0")
        if self.cond_embed is not None and (cond is None or cond.shape[-1] != self.config.cond_dim):
            shape = None if cond is None else tuple(cond.shape)
            raise ValueError(
                f"backbone.cond_dim={self.config.cond_dim}: cond (B, {self.config.cond_dim}) is required, got {shape}"
            )
        return cond

    def _embed_pairs(
        self, pair: Tensor | None, geo: PairGeometry | None, shape: tuple, like: Tensor, cond=None
    ) -> Tensor | None:
        """Initial pair state ``(..., pair_dim)`` from input pair features, distances and the condition
        (``cond`` already aligned: ``(B, 1, 1, c)`` dense, ``(E, c)`` sparse)."""
        if pair is not None and self.pair_embed is None:
            raise ValueError("pair features / edge_attr given but backbone.pair_in is 0")
        if self.pair_embed is not None and pair is None:
            raise ValueError(
                f"backbone.pair_in={self.config.pair_in}: pair features / edge_attr are required"
            )
        if not self.config.pair_dim:
            return None
        e = like.new_zeros((*shape, self.config.pair_dim))
        if pair is not None:
            e = e + self.pair_embed(pair)
        if geo is not None:
            e = e + self.geo_pair_embed(geo.rbf)
        if cond is not None:
            e = e + self.cond_pair_embed(cond)
        return e

    def _angles(
        self, pos: Tensor | None, positions: Tensor | None, index: Tensor, dtype: torch.dtype
    ) -> Tensor | None:
        if self.rotary is None:
            return None
        if self.config.rotary == "3d":
            if pos is None:
                raise ValueError("rotary '3d' needs pos")
            return self.rotary.angles(pos, dtype)
        p = index if positions is None else positions
        return self.rotary.angles(p.unsqueeze(-1), dtype)

    def _check_geometry(self, pos: Tensor | None, lattice: Tensor | None) -> None:
        geometry = self.config.geometry
        if geometry != "none" and pos is None:
            raise ValueError(f"geometry {geometry!r} needs pos")
        if geometry == "periodic" and lattice is None:
            raise ValueError("geometry 'periodic' needs lattice (B, 3, 3)")
        if geometry != "periodic" and lattice is not None:
            raise ValueError(f"lattice given but geometry is {geometry!r}; use geometry 'periodic'")

    def _check_cache(
        self, mode: str, block_id: Tensor | None, is_target: Tensor | None, cache: KVCache
    ) -> None:
        cfg = self.config
        if mode == "full":
            raise ValueError("KV-cached decoding needs mask mode 'causal' or 'block_causal'")
        if cfg.pair_dim or cfg.geometry != "none":
            raise ValueError(
                "KV-cached decoding supports token/feature inputs with rotary positions only (no pair state, no geometry)"
            )
        if is_target is not None:
            raise ValueError("KV-cached decoding does not support is_target")
        if mode == "block_causal" and len(cache) and block_id is not None:
            if (block_id.amin(1) <= cache.meta.block.amax(1)).any():
                raise ValueError(
                    "block-causal decoding must append whole new blocks (block ids above the cached ones)"
                )

    # -- dense path -----------------------------------------------------------------------

    def _forward_dense(
        self,
        x,
        node_mask,
        pair,
        pair_mask,
        pos,
        lattice,
        positions,
        block_id,
        is_target,
        mode,
        cache,
        cond,
        need_pair=True,
    ):
        b, t = x.shape[:2]
        node_mask = (
            torch.ones(b, t, dtype=torch.bool, device=x.device) if node_mask is None else node_mask.bool()
        )
        self._check_geometry(pos, lattice)
        if cache is not None:
            self._check_cache(mode, block_id, is_target, cache)
        q_meta = dense_meta(node_mask, block_id, is_target, start=len(cache) if cache is not None else 0)
        k_meta = q_meta if cache is None else cache.key_meta(q_meta)
        reach = dense_visibility(mode, q_meta, k_meta)
        visible = reach if pair_mask is None else reach & pair_mask.bool()
        pair_valid = node_mask.unsqueeze(2) & node_mask.unsqueeze(1)
        geo = (
            None
            if self.config.geometry == "none"
            else dense_geometry(pos, lattice, self.config.num_rbf, self.config.cutoff)
        )
        e = self._embed_pairs(pair, geo, (b, t, t), x, None if cond is None else cond[:, None, None, :])
        fast = (
            mode == "causal"
            and cache is None
            and pair_mask is None
            and e is None
            and geo is None
            and bool(node_mask.all())
        )
        ctx = _DenseContext(
            visible=visible,
            pair_valid=pair_valid,
            reach=None if mode == "full" else reach,
            rbf=None if geo is None else geo.rbf,
            angles=self._angles(pos, positions, q_meta.index, x.dtype),
            cache=cache,
            is_causal=fast,
        )
        if self._channels_first(e, ctx):
            return self._forward_dense_cf(x, e, ctx, node_mask, need_pair)
        for layer, block in self._schedule():
            x, e = block.forward_dense(x, e, ctx, layer)
        if cache is not None:
            cache.meta = k_meta
        return self._dense_output(x, e if need_pair else None, geo, visible, node_mask, pair_valid)

    def _channels_first(self, e: Tensor | None, ctx: _DenseContext) -> bool:
        """Whether the channels-first inference path applies: pair states, no gradients, no dropout,
        and none of geometry, PPGN, rotary positions or a KV cache."""
        cfg = self.config
        plain = cfg.geometry == "none" and not cfg.ppgn and ctx.angles is None and ctx.cache is None
        return e is not None and plain and not self.training and not torch.is_grad_enabled()

    def _forward_dense_cf(self, x, e, ctx: _DenseContext, node_mask, need_pair: bool) -> BackboneOutput:
        """The dense blocks on pair states laid out ``(p, B, N, N)``: for many small graphs on CPU the
        pair-wise norms and linear maps over 8-16 channels cost several times less this way.
        Returns the same fields as the channels-last loop; ``pair`` is a ``(B, N, N, p)`` view."""
        e = e.permute(3, 0, 1, 2).contiguous()
        schedule = list(self._schedule())
        for i, (_, block) in enumerate(schedule):
            x, e = block.forward_dense_cf(x, e, ctx, update_pairs=need_pair or i < len(schedule) - 1)
        x = self.final_norm(x) * node_mask.unsqueeze(-1).to(x.dtype)
        pair = None
        if need_pair:
            pair = (layer_norm_cf(self.pair_final_norm, e) * ctx.pair_valid).permute(1, 2, 3, 0)
        return BackboneOutput(h=x, pair=pair, context=PairContext(visible=ctx.visible))

    def _schedule(self):
        """``(cache layer id, block)`` over all recycled passes."""
        depth = len(self.blocks)
        for r in range(self.config.recycle):
            for i, block in enumerate(self.blocks):
                yield r * depth + i, block

    def _dense_output(self, x, e, geo, visible, node_mask, pair_valid) -> BackboneOutput:
        x = self.final_norm(x) * node_mask.unsqueeze(-1).to(x.dtype)
        if e is not None:
            e = self.pair_final_norm(e) * pair_valid.unsqueeze(-1).to(e.dtype)
        context = PairContext(
            visible=visible,
            rbf=None if geo is None else geo.rbf,
            direction=None if geo is None else geo.direction,
        )
        return BackboneOutput(h=x, pair=e, context=context)

    # -- sparse path ----------------------------------------------------------------------

    def _forward_sparse(
        self, x, edge_index, edge_attr, sample, pos, lattice, positions, block_id, is_target, mode, cond
    ):
        n = x.shape[0]
        if self.config.ppgn:
            raise ValueError("backbone.ppgn needs the dense path (pass pair (B, N, N, p), not edge_index)")
        if self.config.geometry == "periodic":
            raise ValueError("geometry 'periodic' needs the dense path (pos (B, N, 3) and lattice (B, 3, 3))")
        self._check_geometry(pos, lattice)
        valid = torch.ones(n, dtype=torch.bool, device=x.device)
        meta = TokenMeta(torch.arange(n, device=x.device), valid, block_id, is_target)
        attend = edge_visibility(mode, meta, edge_index).nonzero().squeeze(1)
        geo = None
        if self.config.geometry == "distance":
            geo = pair_geometry(*edge_displacements(pos, edge_index), self.config.num_rbf, self.config.cutoff)
        edge_cond = None if cond is None else cond.index_select(0, sample.index_select(0, edge_index[1]))
        e = self._embed_pairs(edge_attr, geo, (edge_index.shape[1],), x, edge_cond)
        rbf = None if geo is None else geo.rbf
        ctx = _SparseContext(
            edge_index, attend, rbf, self._angles(pos, positions, meta.index, x.dtype), sample
        )
        for _, block in self._schedule():
            x, e = block.forward_sparse(x, e, ctx)
        return self._sparse_output(x, e, geo, ctx)

    def _sparse_output(self, x, e, geo, ctx: _SparseContext) -> BackboneOutput:
        x = self.final_norm(x)
        e = None if e is None else self.pair_final_norm(e)
        pick = lambda t: None if t is None else t.index_select(0, ctx.attend)  # noqa: E731
        context = PairContext(
            rbf=None if geo is None else pick(geo.rbf),
            direction=None if geo is None else pick(geo.direction),
            edge_index=ctx.edge_index.index_select(1, ctx.attend),
            attend=ctx.attend,
        )
        return BackboneOutput(h=x, pair=e, context=context)
