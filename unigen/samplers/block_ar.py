"""Block-autoregressive sampling with a per-block categorical diffusion (PARD, spec §6.1).

A batch of graphs grows block by block, all graphs in lockstep: (1) draw the size and degree
of each graph's next block (size 0 = that graph is finished; sizes never exceed the room left
under ``max_nodes``, or under ``num_nodes``, which also forbids stopping before it is reached);
(2) open the block with node and pair types drawn from the prior;
(3) run the reverse diffusion on the block's elements only, conditioned on the clean prefix;
(4) mark the block real. Graphs of different sizes share the batch through masks: a finished
graph just gets empty blocks, and the denoiser runs on the graphs still growing only (cut to
their widest), so a batch costs what its growing graphs cost. The model is seen through a :class:`BlockModel`; the processes
(``unigen.processes.discrete``, already set to the wanted steps per block) own the arithmetic.

Progress ticks once per denoising step; when every graph stops early the remaining ticks are
reported at once, so a batch always reports exactly ``max_blocks * steps`` ticks.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Callable, Protocol

import torch
from torch import Tensor

from unigen.processes.discrete import DiscreteProcess, sample_categorical
from unigen.samplers.registry import register_sampler


@dataclass
class BlockGraph:
    """A partly generated batch: nodes ``0 .. count - 1`` of each row are real, in block order.

    Fields (B graphs, N node slots):
        node_types   (B, N)    int64  node classes (noisy on the target block, clean on real nodes)
        edge_types   (B, N, N) int64  pair classes, symmetric; 0 off the prefix
        real         (B, N)    bool   finished nodes
        target       (B, N)    bool   nodes of the block being denoised
        block_id     (B, N)    int64  block of each node
        block_degree (B, N)    int64  the degree d_t its block was conditioned on
        num_blocks   int              blocks opened so far (the target block included)
    """

    node_types: Tensor
    edge_types: Tensor
    real: Tensor
    target: Tensor
    block_id: Tensor
    block_degree: Tensor
    num_blocks: int = 0

    @classmethod
    def empty(cls, n: int, max_nodes: int, device=None) -> "BlockGraph":
        def zeros(*shape, dtype=torch.long):
            return torch.zeros(*shape, dtype=dtype, device=device)

        return cls(
            zeros(n, max_nodes),
            zeros(n, max_nodes, max_nodes),
            zeros(n, max_nodes, dtype=torch.bool),
            zeros(n, max_nodes, dtype=torch.bool),
            zeros(n, max_nodes),
            zeros(n, max_nodes),
        )

    def count(self) -> Tensor:
        """(B,) real nodes per graph."""
        return self.real.sum(1)

    def trimmed(self) -> "BlockGraph":
        """A view cut to the used node slots, so each network call costs O(current size)."""
        width = max(int((self.real | self.target).sum(1).max()), 1)
        cut = {
            f.name: getattr(self, f.name)[:, :width, :width]
            if f.name == "edge_types"
            else getattr(self, f.name)[:, :width]
            for f in fields(self)
            if f.name != "num_blocks"
        }
        return replace(self, **cut)

    def rows(self, index: Tensor) -> "BlockGraph":
        """A copy holding only the graphs ``index`` (the ones still growing)."""
        return replace(self, **{name: getattr(self, name)[index] for name in _TENSOR_FIELDS})

    def put_rows(self, index: Tensor, part: "BlockGraph") -> None:
        """Write ``part`` (made by ``rows(index)``) back into the graphs ``index``."""
        for name in _TENSOR_FIELDS:
            getattr(self, name)[index] = getattr(part, name)

    def target_pairs(self) -> Tensor:
        """(B, N, N) bool: the pairs the target block generates (to the prefix and inside the block)."""
        t, seen = self.target, self.real | self.target
        pairs = (t.unsqueeze(2) & seen.unsqueeze(1)) | (seen.unsqueeze(2) & t.unsqueeze(1))
        return pairs & ~torch.eye(t.shape[1], dtype=torch.bool, device=t.device)


_TENSOR_FIELDS = tuple(f.name for f in fields(BlockGraph) if f.name != "num_blocks")


class BlockModel(Protocol):
    """What the sampler needs from a block-autoregressive model (logits, never probabilities)."""

    def size_logits(self, graph: BlockGraph) -> Tensor: ...  # (B, S) next block size 0..S-1

    def degree_logits(self, graph: BlockGraph, sizes: Tensor) -> Tensor: ...  # (B, D) its degree

    def denoise(self, graph: BlockGraph, time: Tensor) -> tuple[Tensor, Tensor]: ...  # (B,N,Kn), (B,N,N,Ke)

    def rows(self, index: Tensor) -> "BlockModel": ...  # the same model for the graphs ``index`` only


@register_sampler("block_ar", "block_ar")
@torch.no_grad()
def sample_blocks(
    model: BlockModel,
    node_process: DiscreteProcess,
    edge_process: DiscreteProcess,
    n: int,
    max_nodes: int,
    max_blocks: int,
    *,
    generator: torch.Generator | None = None,
    device=None,
    progress: Callable[[int], None] | None = None,
    num_nodes: Tensor | None = None,
) -> BlockGraph:
    """Generate ``n`` graphs of at most ``max_nodes`` nodes and ``max_blocks`` blocks
    (``num_nodes (n,)``: exactly that many nodes each, given enough blocks)."""
    graph = BlockGraph.empty(n, max_nodes, device)
    steps, tick = node_process.num_steps, 0
    done = torch.zeros(n, dtype=torch.bool, device=device)
    for block in range(max_blocks):
        # 1. next block size (0 stops a graph) and degree
        view = graph.trimmed()
        limit = max_nodes if num_nodes is None else num_nodes
        sizes = _draw_size(model.size_logits(view), limit - graph.count(), generator, num_nodes is not None)
        sizes = sizes.masked_fill(done, 0)
        done |= sizes == 0
        if bool(done.all()):
            break
        degrees = sample_categorical(model.degree_logits(view, sizes).float().softmax(-1), generator)
        # 2. open the block with prior noise
        _open_block(graph, block, sizes, degrees, node_process, edge_process, generator)
        # 3. reverse diffusion on the block's nodes and pairs, over the graphs still growing only
        growing = (~done).nonzero().squeeze(1)
        part, part_model = (graph, model) if len(growing) == n else (graph.rows(growing), model.rows(growing))
        for t in range(steps, 0, -1):
            view = part.trimmed()
            time = torch.full((len(growing),), t / steps, device=view.real.device)
            node_logits, edge_logits = part_model.denoise(view, time)
            nodes, _ = node_process.step(view.node_types, node_logits, t, generator)
            edges, _ = edge_process.step(view.edge_types, edge_logits, t, generator, symmetric=True)
            _write_target(part, view, nodes, edges)
            tick = _tick(progress, tick)
        if part is not graph:
            graph.put_rows(growing, part)
        # 4. the block becomes part of the clean prefix
        graph.real |= graph.target
        graph.target = torch.zeros_like(graph.target)
    for _ in range(tick, max_blocks * steps):
        tick = _tick(progress, tick)
    return graph


def _draw_size(logits: Tensor, room: Tensor, generator, fill: bool = False) -> Tensor:
    """(B,) sizes drawn from ``logits (B, S)`` restricted to ``0 .. room``; 0 if no allowed size has mass.
    ``fill``: a graph with room left may not stop (size 1 if no allowed size has mass)."""
    sizes = torch.arange(logits.shape[1], device=logits.device)
    too_big = sizes.unsqueeze(0) > room.unsqueeze(1)
    must_grow = (room > 0).unsqueeze(1) & (sizes == 0).unsqueeze(0) if fill else torch.zeros_like(too_big)
    logits = logits.float().masked_fill(too_big | must_grow, float("-inf"))
    stuck = torch.isinf(logits).all(1)
    logits[stuck, 0] = 0.0
    if fill:  # a graph with room left takes one node instead of stopping
        grow = stuck & (room > 0)
        logits[grow, 0], logits[grow, 1] = float("-inf"), 0.0
    return sample_categorical(logits.softmax(-1), generator)


def _open_block(graph: BlockGraph, block: int, sizes, degrees, node_process, edge_process, generator) -> None:
    """Append ``sizes`` target nodes per graph, their types and pairs drawn from the priors."""
    count = graph.count()
    slots = torch.arange(graph.real.shape[1], device=count.device).unsqueeze(0)
    graph.target = (slots >= count.unsqueeze(1)) & (slots < (count + sizes).unsqueeze(1))
    graph.block_id = torch.where(graph.target, block, graph.block_id)
    graph.block_degree = torch.where(graph.target, degrees.unsqueeze(1), graph.block_degree)
    device = count.device
    nodes = node_process.sample_prior(graph.node_types.shape, generator, device)
    edges = edge_process.sample_prior(graph.edge_types.shape, generator, device, symmetric=True)
    graph.node_types = torch.where(graph.target, nodes, graph.node_types)
    graph.edge_types = torch.where(graph.target_pairs(), edges, graph.edge_types)
    graph.num_blocks = block + 1


def _write_target(graph: BlockGraph, view: BlockGraph, nodes: Tensor, edges: Tensor) -> None:
    """Copy the new states of the target nodes and pairs of ``view`` back into ``graph``."""
    w = view.real.shape[1]
    graph.node_types[:, :w] = torch.where(view.target, nodes, view.node_types)
    graph.edge_types[:, :w, :w] = torch.where(view.target_pairs(), edges, view.edge_types)


def _tick(progress, tick: int) -> int:
    if progress is not None:
        progress(tick)
    return tick + 1
