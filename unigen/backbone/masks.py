"""Attention visibility: who may read whom, for the full, causal and block-causal modes.

``visible[i, j]`` is True when query ``i`` may attend to key ``j``. One elementwise rule,
:func:`visible`, serves the dense path (broadcast ``(B, Tq, 1)`` against ``(B, 1, Tk)``), the
sparse path (per edge, ``(E,)`` against ``(E,)``) and KV-cached decoding (new queries
against cached plus new keys).

Block-causal follows PARD (``../shared/reference/pard_spec.md`` section 4.4): with block ids
``b`` and an optional ``is_target`` flag (PARD's "virtual" copies), ``i`` reads ``j`` when
``b_i == b_j`` and both are targets or both are not, or when ``b_i > b_j`` and ``j`` is not a
target. Without targets this is the usual ``b_j <= b_i``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

MaskMode = Literal["full", "causal", "block_causal"]
MASK_MODES = ("full", "causal", "block_causal")


@dataclass
class TokenMeta:
    """What the mask rule needs to know about each token.

    Fields (dense: ``(B, T)``; sparse: ``(N,)``):
        index: long, sequence position (causal order).
        valid: bool, False on padding.
        block: long or None, block id (block-causal only).
        target: bool or None, PARD's "virtual" target copies (block-causal only).
    """

    index: Tensor
    valid: Tensor
    block: Tensor | None = None
    target: Tensor | None = None

    def cat(self, other: "TokenMeta") -> "TokenMeta":
        """Concatenate along the token axis (dim 1): cached keys followed by new ones."""
        return TokenMeta(
            index=torch.cat([self.index, other.index], 1),
            valid=torch.cat([self.valid, other.valid], 1),
            block=_cat_optional(self.block, other.block),
            target=_cat_optional(self.target, other.target),
        )

    def gather(self, idx: Tensor) -> "TokenMeta":
        """Select tokens of a flat (sparse) meta by ``idx (E,)``."""
        pick = lambda t: None if t is None else t.index_select(0, idx)  # noqa: E731
        return TokenMeta(pick(self.index), pick(self.valid), pick(self.block), pick(self.target))

    def unsqueeze(self, dim: int) -> "TokenMeta":
        """Insert a broadcast axis into every field (dense query/key alignment)."""
        unsq = lambda t: None if t is None else t.unsqueeze(dim)  # noqa: E731
        return TokenMeta(unsq(self.index), unsq(self.valid), unsq(self.block), unsq(self.target))


def _cat_optional(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    if a is None and b is None:
        return None
    if a is None or b is None:
        raise ValueError("block_id / is_target must be given for every decoding step or for none")
    return torch.cat([a, b], 1)


def check_mode(mode: str) -> None:
    if mode not in MASK_MODES:
        raise ValueError(f"unknown mask mode {mode!r}; valid: {', '.join(MASK_MODES)}")


def visible(mode: MaskMode, q: TokenMeta, k: TokenMeta) -> Tensor:
    """Elementwise visibility of key ``k`` to query ``q`` (broadcasting shapes); bool."""
    check_mode(mode)
    vis = q.valid & k.valid
    if mode == "causal":
        vis = vis & (k.index <= q.index)
    elif mode == "block_causal":
        if q.block is None or k.block is None:
            raise ValueError("mask mode 'block_causal' needs block_id (B, N)")
        vis = vis & _block_rule(q, k)
    return vis


def _block_rule(q: TokenMeta, k: TokenMeta) -> Tensor:
    if q.target is None:
        return k.block <= q.block
    same_kind = q.target == k.target
    return ((q.block == k.block) & same_kind) | ((k.block < q.block) & ~k.target)


def dense_meta(
    node_mask: Tensor, block_id: Tensor | None = None, is_target: Tensor | None = None, start: int = 0
) -> TokenMeta:
    """Meta for a padded batch: ``node_mask (B, T)`` bool; positions ``start .. start+T-1``."""
    b, t = node_mask.shape
    index = torch.arange(start, start + t, device=node_mask.device).expand(b, t)
    return TokenMeta(index, node_mask, block_id, is_target)


def dense_visibility(mode: MaskMode, q: TokenMeta, k: TokenMeta | None = None) -> Tensor:
    """``(B, Tq, Tk)`` bool visibility for a padded batch (``k`` defaults to ``q``)."""
    k = q if k is None else k
    return visible(mode, q.unsqueeze(2), k.unsqueeze(1))


def edge_visibility(mode: MaskMode, meta: TokenMeta, edge_index: Tensor) -> Tensor:
    """``(E,)`` bool: may the target ``edge_index[1]`` read the source ``edge_index[0]``.

    On a flat batch of graphs the global node index preserves the order within each
    graph, so it serves as the causal position.
    """
    src, dst = edge_index
    return visible(mode, meta.gather(dst), meta.gather(src))
