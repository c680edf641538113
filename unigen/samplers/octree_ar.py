"""Autoregressive octree decoding with masked next-token prediction (Uni-3DAR, spec B7).

Every sample keeps a FIFO of pending octree nodes (cell centre, level), starting with the
root cell of its first tree. One step per sample: append a [MASK] at the head node's cell
(the model learns *what* sits there from its hidden state), then append the real token:

* a tree node (level >= 1): an 8-bit child-occupancy pattern; its set bits queue the child
  cells (child j at offset (j & 1, j >> 1 & 1, j >> 2 & 1), x lowest, Morton order kept);
* a leaf (level 0): a type and three fine bins (``decoder.leaf``), placed at its exact
  position cell corner + bins x bin size;
* the closing [END] once a tree's queue is empty; a crystal then starts its atom tree.

The model is seen through an :class:`OctreeDecoder`; ``feed`` runs the new tokens (with or
without a KV cache: the decoder decides) and returns the last one's hidden state. Leaf counts
are kept in bounds while sampling: a level never holds more than ``max_leaves`` nodes nor
fewer than ``ceil(min_leaves / 8**level)``, so a tree ends with between ``min_leaves`` and
``max_leaves`` leaves (exactly N when both are N: composition-conditioned generation), and
each leaf type can be drawn at most ``allowance`` times (its remaining count in a target
composition; exhausted types are masked, [NULL] is forced when none is left).

Shapes: B samples, V leaf-type vocabulary, k new tokens per ``feed``; the result holds the S
real tokens of each sample (``valid`` False after it finished).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import torch
from torch import Tensor

from unigen.samplers.registry import register_sampler
from unigen.samplers.tokens import sample_tokens

PATTERNS = torch.arange(1, 256)  # occupancy classes 0..254 are patterns 1..255
POPCOUNT = ((PATTERNS[:, None] >> torch.arange(8)) & 1).sum(1)
CHILD_OFFSETS = torch.tensor([[j & 1, (j >> 1) & 1, (j >> 2) & 1] for j in range(8)], dtype=torch.float64)


@dataclass(frozen=True)
class OctreeLayout:
    """The token layout the sampler writes (plain numbers from the model's tokenizer).

    leaf_bins: fine bins per cell axis of each tree's leaves (molecules: (24,); crystals:
    (240, 24), the lattice corners' finer grid first). Pattern p is token ``tree_offset + p``.
    """

    levels: int
    grid_len: float
    mask_id: int
    end_id: int
    null_id: int
    tree_offset: int
    null_bin: int
    leaf_bins: tuple[int, ...]

    @property
    def num_trees(self) -> int:
        return len(self.leaf_bins)

    @property
    def box_centre(self) -> float:
        return 2**self.levels * self.grid_len / 2


@dataclass
class Tokens:
    """k new tokens per sample: ids (B, k), fine (B, k, 3), level (B, k), tree (B, k), pos (B, k, 3)
    Angstrom in the box frame (the 3D rotary position), valid (B, k) bool (False: padding)."""

    ids: Tensor
    fine: Tensor
    level: Tensor
    tree: Tensor
    pos: Tensor
    valid: Tensor

    def cat(self, other: "Tokens") -> "Tokens":
        return Tokens(*(torch.cat([a, b], 1) for a, b in zip(self.fields(), other.fields())))

    def fields(self) -> tuple:
        return self.ids, self.fine, self.level, self.tree, self.pos, self.valid


class OctreeDecoder(Protocol):
    def feed(self, tokens: Tokens) -> Tensor: ...  # append tokens; hidden state of the last, (B, d)

    def pattern_logits(self, h: Tensor, tree: Tensor) -> Tensor: ...  # (B, 255) occupancy logits

    def leaf(self, h: Tensor, tree: Tensor, allowed: Tensor, generator) -> tuple[Tensor, Tensor, Tensor]:
        """(ids (B,), fine bins (B, 3), log p (B,) of the type and bins under untempered logits)."""
        ...


@dataclass
class _Queues:
    """Pending nodes of every sample's current tree: centre (B, Q, 3), level (B, Q), head / tail (B,)."""

    centre: Tensor
    level: Tensor
    head: Tensor
    tail: Tensor

    @classmethod
    def empty(cls, batch: int, capacity: int, device) -> "_Queues":
        zeros = torch.zeros(batch, dtype=torch.long, device=device)
        centre = torch.zeros(batch, capacity, 3, dtype=torch.float64, device=device)
        return cls(
            centre, torch.full((batch, capacity), -2, dtype=torch.long, device=device), zeros, zeros.clone()
        )

    def start_tree(self, rows: Tensor, layout: OctreeLayout) -> None:
        """Reset ``rows`` (B,) bool to hold only a root cell."""
        self.centre[rows] = 0.0
        self.centre[rows, 0] = layout.box_centre
        self.level[rows] = -2
        self.level[rows, 0] = layout.levels
        self.head[rows], self.tail[rows] = 0, 1

    def pending(self, level: Tensor, after_head: bool) -> Tensor:
        """(B,) queued nodes at ``level`` (B,) from the head on (or after it)."""
        slots = torch.arange(self.level.shape[1], device=level.device)
        first = self.head + int(after_head)
        inside = (slots >= first[:, None]) & (slots < self.tail[:, None])
        return (inside & (self.level == level[:, None])).sum(1)

    def push_children(self, rows: Tensor, pattern: Tensor, centre: Tensor, level: Tensor, grid_len: float):
        """Queue the occupied children of the head nodes of ``rows`` (B,) bool."""
        bits = ((pattern[:, None] >> torch.arange(8, device=pattern.device)) & 1).bool() & rows[:, None]
        half = (grid_len * 2.0 ** (level - 1).clamp(min=0).double())[:, None, None]
        children = centre[:, None, :] + (CHILD_OFFSETS.to(centre.device) - 0.5) * half
        slot = self.tail[:, None] + bits.long().cumsum(1) - 1
        b, j = bits.nonzero(as_tuple=True)
        self.centre[b, slot[b, j]] = children[b, j]
        self.level[b, slot[b, j]] = level[b] - 1
        self.tail = self.tail + bits.sum(1)


def _pattern_allowed(queues: _Queues, level: Tensor, min_leaves: Tensor, max_leaves: Tensor) -> Tensor:
    """(B, 255) patterns whose child count keeps the tree's leaf count feasible (module docstring)."""
    below = queues.pending(level - 1, after_head=False)  # children already queued one level down
    siblings = queues.pending(level, after_head=True)  # nodes of this level still to expand
    scale = 8 ** (level - 1).clamp(min=0)
    need = (min_leaves + scale - 1) // scale
    lo = (need - below - 8 * siblings).clamp(min=1)
    hi = (max_leaves - below - siblings).clamp(max=8)
    count = POPCOUNT.to(level.device)
    return (count >= lo[:, None]) & (count <= hi[:, None])


def _masks(queues: _Queues, tree: Tensor, done: Tensor, layout: OctreeLayout) -> Tokens:
    """The [MASK] at each head node; the closing [END]'s place when the queue is empty."""
    rows = torch.arange(len(tree), device=tree.device)
    empty = queues.head >= queues.tail
    slot = queues.head.clamp(max=queues.level.shape[1] - 1)
    level = torch.where(empty, -1, queues.level[rows, slot])
    centre = torch.where(empty[:, None], layout.box_centre, queues.centre[rows, slot])
    n = len(tree)
    return Tokens(
        torch.full((n, 1), layout.mask_id, dtype=torch.long, device=tree.device),
        torch.full((n, 1, 3), layout.null_bin, dtype=torch.long, device=tree.device),
        level[:, None],
        tree[:, None],
        centre[:, None],
        ~done[:, None],
    )


@register_sampler("octree", "octree_ar")
@torch.no_grad()
def sample_octree(
    decoder: OctreeDecoder,
    layout: OctreeLayout,
    min_leaves: Tensor,
    max_leaves: Tensor,
    allowance: Tensor,
    *,
    tree_temperature: float = 1.0,
    generator: torch.Generator | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Sample B octree sequences. ``min_leaves``, ``max_leaves`` (B, trees) long; ``allowance``
    (B, trees, V) long: how often each leaf type may still be drawn. Returns ``{"ids", "fine",
    "level", "tree", "valid"}`` (B, S[, 3]) of the real tokens and ``"logp"`` (B,), the mean log p
    per leaf (type and bins, untempered) for likelihood ranking."""
    n, device = len(min_leaves), min_leaves.device
    capacity = 2 + (layout.levels + 1) * int(max_leaves.max())
    queues, allowance = _Queues.empty(n, capacity, device), allowance.clone()
    tree = torch.zeros(n, dtype=torch.long, device=device)
    done = torch.zeros(n, dtype=torch.bool, device=device)
    queues.start_tree(~done, layout)
    rows, logp, leaves = (
        torch.arange(n, device=device),
        torch.zeros(n, device=device),
        torch.zeros(n, device=device),
    )
    steps, pending = [], None
    while not bool(done.all()):
        # 1. a [MASK] at every head node (after the previous step's real tokens) -> hidden states
        mask = _masks(queues, tree, done, layout)
        h = decoder.feed(mask if pending is None else pending.cat(mask))
        level, centre = mask.level[:, 0], mask.pos[:, 0]
        is_node, is_leaf, is_end = (level >= 1) & ~done, (level == 0) & ~done, (level == -1) & ~done
        real = Tokens(
            mask.ids.clone(), mask.fine.clone(), mask.level, mask.tree, mask.pos.clone(), mask.valid
        )
        # 2. tree nodes: an occupancy pattern whose child count keeps the leaf count in bounds
        allowed = _pattern_allowed(queues, level, min_leaves[rows, tree], max_leaves[rows, tree])
        pattern = 1 + sample_tokens(decoder.pattern_logits(h, tree), temperature=tree_temperature,
                                    allowed=allowed | ~is_node[:, None], generator=generator)  # fmt: skip
        queues.push_children(is_node, pattern, centre, level, layout.grid_len)
        real.ids[is_node, 0] = layout.tree_offset + pattern[is_node]
        # 3. leaves: a type within its allowance ([NULL] when none is left), then the fine bins
        types = allowance[rows, tree] > 0
        types[:, layout.null_id] = ~types.any(1)
        ids, fine, leaf_logp = decoder.leaf(h, tree, types, generator)
        real.ids[is_leaf, 0], real.fine[is_leaf, 0] = ids[is_leaf], fine[is_leaf]
        bin_size = layout.grid_len / torch.tensor(layout.leaf_bins, device=device, dtype=torch.float64)[tree]
        real.pos[is_leaf, 0] += fine[is_leaf].double() * bin_size[is_leaf, None] - layout.grid_len / 2
        counted = is_leaf & (ids != layout.null_id)
        allowance[rows[counted], tree[counted], ids[counted]] -= 1
        logp, leaves = logp + torch.where(is_leaf, leaf_logp, 0.0), leaves + is_leaf
        # 4. the closing [END]; a crystal's lattice tree is followed by its atom tree
        real.ids[is_end, 0] = layout.end_id
        queues.head = queues.head + (is_node | is_leaf)
        nxt = is_end & (tree + 1 < layout.num_trees)
        done, tree = done | (is_end & ~nxt), tree + nxt
        queues.start_tree(nxt, layout)
        steps.append(real)
        pending = real
        if progress is not None:
            progress(len(steps) - 1)
    return {
        "ids": torch.cat([s.ids for s in steps], 1),
        "fine": torch.cat([s.fine for s in steps], 1),
        "level": torch.cat([s.level for s in steps], 1),
        "tree": torch.cat([s.tree for s in steps], 1),
        "valid": torch.cat([s.valid for s in steps], 1),
        "logp": logp / leaves.clamp(min=1),
    }
