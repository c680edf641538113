"""PARD (Zhao, Ding and Akoglu 2024): block-autoregressive discrete diffusion over graphs.

A graph is cut into blocks by PARD's structural partial order (``unigen.tokenizers.blocks``:
K-hop degree peeling, reversed, so the dense core is block 0). Blocks are generated one after
another; each is filled in by one shared categorical diffusion (``unigen.processes.discrete``,
uniform or marginal mixture noise with an extra "virtual" class, cosine schedule) over the
types of its new nodes and of every pair it adds (to earlier blocks and inside the block).
A second, small network predicts the size and degree of the next block (size 0 = stop).

Training, all blocks in one pass (spec §4.4): the doubled graph holds the n real nodes with
clean types, then n target copies ("virtual" nodes, ``is_target``) whose types and pairs carry
the noisy state of their own block; the block-causal mask lets a target copy of block t read
only the real blocks < t and its own block's copies, so every block's conditional comes out of
one forward pass. Loss = sum over target elements of L_vlb + lambda L_CE (one timestep per
graph), divided by the number of graphs, plus the size / degree cross-entropies on the clean
graph (``next_block_targets``). Sampling: ``unigen.samplers.block_ar`` (no doubling: the real
prefix plus one target block).

Networks: both are the shared backbone (``unigen.backbone``) with pair states, PPGN and
``mask_mode="block_causal"``; the family adds the input encodings (one-hot node / pair classes,
absolute block-id and block-degree embeddings on nodes, relative block distance on pairs, the
time through the backbone's condition) and the read-outs.

Simplified relative to the spec, on purpose:
    - the backbone's attention takes q.k scores plus a pair bias (PARD: scores from pair states
      alone), LayerNorm everywhere (PARD: masked BatchNorm for molecules);
    - the input residual phi(1 - t/T) onehot(x_t) uses phi(s) = sigmoid(a s + b), a >= 0 (PARD: a
      positive-weight 1-128-1 MLP); the node read-out is [h_i; e_ii; mean_visible_j sym(e_ij)];
    - formal charges are not modelled (decoded molecules are neutral; valence rules add H);
    - the block degree is the block's minimum degree (identical to PARD's first-node degree for K >= 1).

Batch fields (B graphs padded to N nodes, L blocks; names from ``unigen.data.keys`` and below):
    atom_types    (B, N)    int64 node class (molecules: index into ``atom_types``; graphs: 0)
    bonds         (B, N, N) int64 pair class: 0 no edge, 1.. bond order / edge; 0 on padding
    node_mask     (B, N)    bool  real nodes; nodes are sorted by block
    block_id      (B, N)    int64 block of each node (0 = first generated)
    block_degree  (B, N)    int64 degree d_t of each node's block
    block_sizes   (B, L)    int64 n_t per block, 0 past the graph's last block
    block_degrees (B, L)    int64 d_t per block, 0 past the last block
``sample`` returns the first five fields (classes, real-node mask, block ids and degrees).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unigen.backbone import Backbone, BackboneConfig
from unigen.backbone.masks import dense_meta, dense_visibility
from unigen.conditioning import (
    check_condition_dropout,
    check_guidance,
    condition_dim,
    draw_sizes,
    guided,
    parse_range,
    size_range,
)
from unigen.data.keys import ATOM_TYPES, BLOCK_ID, BONDS, NODE_MASK
from unigen.models.registry import FamilyModel, molecule_vocabulary, register_family, unknown_elements
from unigen.processes.discrete import CategoricalDiffusion
from unigen.samplers.block_ar import BlockGraph
from unigen.samplers.registry import get_sampler, sampler_names, thinned
from unigen.structures import Graph, MolGraph
from unigen.tokenizers.blocks import BlockDecomposition, block_decomposition

# fmt: off
BLOCK_DEGREE = "block_degree"  # (B, N) int64  degree d_t of the block of each node (PARD conditioning)
BLOCK_SIZES = "block_sizes"  # (B, L) int64  nodes per block, 0 past the graph's last block
BLOCK_DEGREES = "block_degrees"  # (B, L) int64  degree d_t per block, 0 past the last block
# fmt: on
EXTRA_BLOCKS = 3  # block-id table = most training blocks + 3 (PARD's sampling cap)
RELATIVE_FEATURES = 7  # sinusoid features of 1 / (|b_i - b_j| + 1) per pair


@dataclass
class PARDNetConfig:
    """Width of one network (a backbone configuration)."""

    dim: int = 64
    depth: int = 4
    heads: int = 4
    pair_dim: int = 16


@dataclass
class PARDSampling:
    """PARD's sampling options (``unigen generate --set sampling.KEY=VALUE``).

    sampler: a block-autoregressive sampler of ``unigen.samplers`` (block_ar).
    steps: denoising steps per block (0: the model's num_steps; the schedule is respaced).
    max_blocks: most blocks per graph (0: the most seen in training + 3, as PARD; blocks past the
        block-id table reuse its last embedding).
    guidance: classifier-free guidance weight w of a conditioned model (1: plain conditional).
    num_atoms: nodes per graph, ``12`` or ``"15..25"`` (0: the model's own size distribution).
    chunk: graphs denoised together; a batch runs chunk after chunk (0: on CPU as many as keep
        the denoiser's pair states near 2 MiB, e.g. 29 MOSES-sized graphs or 269 QM9 ones: beyond
        the cache each molecule costs up to 2x more; on a GPU the whole batch).
    """

    sampler: str = "block_ar"
    steps: int = 0
    max_blocks: int = 0
    guidance: float = 1.0
    num_atoms: int | str = 0
    chunk: int = 0

    def __post_init__(self):
        if self.sampler not in sampler_names("block_ar"):
            raise ValueError(f"sampler {self.sampler!r} is not one of {', '.join(sampler_names('block_ar'))}")
        if not 0 <= self.steps <= 1000:
            raise ValueError(f"steps must be in 0..1000 (0: the model's), got {self.steps}")
        if not 0 <= self.max_blocks <= 1000:
            raise ValueError(f"max_blocks must be in 0..1000 (0: the model's), got {self.max_blocks}")
        check_guidance(self.guidance)
        if self.num_atoms not in (0, ""):
            parse_range(self.num_atoms, "num_atoms", int)
        if self.chunk < 0:
            raise ValueError(f"chunk must be >= 0 (0: chosen for the device), got {self.chunk}")


@dataclass
class PARDConfig:
    """The recipe's ``model:`` section for family ``pard``."""

    kind: Literal["molecule", "graph"] = "molecule"
    max_hops: int = 3  # K of the partial order (0: one block, plain one-shot diffusion)
    max_nodes: int = 0  # 0: the largest training graph
    num_steps: int = 50  # T, diffusion steps per block in training
    noise: Literal["uniform", "marginal"] = "uniform"  # limit m: uniform over all classes or train marginals
    ce_weight: float = 0.1  # lambda of L_vlb + lambda L_CE
    block_weight: float = 1.0  # weight of the size / degree cross-entropies
    time_dim: int = 16  # sinusoidal time embedding width
    absolute_block_id: bool = True  # block-id embedding on nodes
    relative_block_id: bool = True  # |b_i - b_j| encoding on pairs
    conditions: list[str] = field(default_factory=list)  # properties to condition on (unigen.conditioning)
    condition_dropout: float = 0.1  # p of dropping a row's / a property's condition in training (CFG)
    denoiser: PARDNetConfig = field(default_factory=PARDNetConfig)
    block_net: PARDNetConfig = field(default_factory=lambda: PARDNetConfig(dim=32, depth=2, pair_dim=8))
    sampling: PARDSampling = field(default_factory=PARDSampling)

    def __post_init__(self):
        if self.max_hops < 0 or self.max_nodes < 0:
            raise ValueError(f"max_hops and max_nodes must be >= 0, got {self.max_hops} and {self.max_nodes}")
        if not 1 <= self.num_steps <= 1000:
            raise ValueError(f"num_steps must be in 1..1000, got {self.num_steps}")
        if self.ce_weight < 0 or self.block_weight < 0:
            raise ValueError("ce_weight and block_weight must be >= 0")
        if self.time_dim < 2 or self.time_dim % 2:
            raise ValueError(f"time_dim must be an even number >= 2, got {self.time_dim}")
        check_condition_dropout(self.condition_dropout)


# -- networks ---------------------------------------------------------------------------


def timestep_embedding(time: Tensor, dim: int) -> Tensor:
    """(B,) time fractions in [0, 1] -> (B, dim) sinusoids (cosines first, PARD's swapped halves)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=time.device, dtype=time.dtype) / half)
    angles = 1000.0 * time.unsqueeze(-1) * freqs
    return torch.cat([angles.cos(), angles.sin()], -1)


def relative_block_features(block_id: Tensor) -> Tensor:
    """(B, N) -> (B, N, N, 7): r = 1 / (|b_i - b_j| + 1) with sin / cos of k pi r, k = 1..3."""
    r = 1.0 / ((block_id.unsqueeze(2) - block_id.unsqueeze(1)).abs() + 1.0)
    k = torch.arange(1, 4, device=r.device, dtype=r.dtype) * math.pi
    angles = r.unsqueeze(-1) * k
    return torch.cat([r.unsqueeze(-1), angles.sin(), angles.cos()], -1)


def mlp(width_in: int, hidden: int, out: int) -> nn.Sequential:
    """PARD's head MLP: Linear, Norm, SiLU, Linear."""
    return nn.Sequential(nn.Linear(width_in, hidden), nn.LayerNorm(hidden), nn.SiLU(), nn.Linear(hidden, out))


class GraphEncoder(nn.Module):
    """The shared backbone over one-hot classes with PARD's block encodings; returns node and pair states."""

    def __init__(
        self,
        cfg: PARDNetConfig,
        classes: tuple[int, int],
        tables: tuple[int, int],
        model: PARDConfig,
        cond_dim: int = 0,
    ):
        super().__init__()
        node_classes, pair_classes = classes
        self.num_block_ids, self.num_degrees = tables
        self.relative = model.relative_block_id
        self.block_embed = nn.Embedding(self.num_block_ids, cfg.dim) if model.absolute_block_id else None
        self.degree_embed = nn.Embedding(self.num_degrees, cfg.dim)
        self.backbone = Backbone(
            BackboneConfig(
                node_in=node_classes,
                pair_in=pair_classes + RELATIVE_FEATURES * self.relative,
                cond_dim=cond_dim,
                dim=cfg.dim,
                depth=cfg.depth,
                heads=cfg.heads,
                pair_dim=cfg.pair_dim,
                ffn="mlp",
                ffn_hidden=2 * cfg.dim,
                norm="layernorm",
                bias=True,
                mask_mode="block_causal",
                ppgn=True,
            )
        )

    def forward(self, nodes, pairs, node_mask, block_id, is_target, block_degree, cond=None):
        """nodes (B, N, Kn), pairs (B, N, N, Ke) float; node_mask, is_target (B, N) bool or None;
        block_id, block_degree (B, N) long; cond (B, c) -> BackboneOutput (dense)."""
        node_mask = node_mask.bool()
        embeddings = self.degree_embed(block_degree.clamp(0, self.num_degrees - 1))
        if self.block_embed is not None:
            embeddings = embeddings + self.block_embed(block_id.clamp(0, self.num_block_ids - 1))
        if self.relative:
            related = pair_scope(node_mask, block_id, is_target).unsqueeze(-1).to(pairs.dtype)
            pairs = torch.cat([pairs, relative_block_features(block_id).to(pairs.dtype) * related], -1)
        return self.backbone(
            h=nodes,
            embeddings=embeddings,
            node_mask=node_mask,
            pair=pairs,
            block_id=block_id,
            is_target=is_target,
            cond=cond,
        )


def pair_scope(node_mask: Tensor, block_id: Tensor, is_target: Tensor | None) -> Tensor:
    """(B, N, N) bool C or C^T: the pairs PARD treats as valid (one node may read the other)."""
    c = dense_visibility("block_causal", dense_meta(node_mask.bool(), block_id, is_target))
    return c | c.transpose(1, 2)


def node_readout(out) -> Tensor:
    """[h_i ; e_ii ; mean over visible j of (e_ij + e_ji) / 2]: (B, N, dim + 2 pair_dim)."""
    e = out.pair
    sym = 0.5 * (e + e.transpose(1, 2))
    visible = out.context.visible.unsqueeze(-1).to(e.dtype)
    mean = (sym * visible).sum(2) / visible.sum(2).clamp_min(1.0)
    return torch.cat([out.h, e.diagonal(dim1=1, dim2=2).transpose(1, 2), mean], -1)


class KeepBias(nn.Module):
    """phi(s) = sigmoid(a s + b) with a >= 0: a monotone weight on "keep x_t" as t -> 0 (input residual)."""

    def __init__(self):
        super().__init__()
        self.slope = nn.Parameter(torch.zeros(()))
        self.offset = nn.Parameter(torch.zeros(()))

    def forward(self, s: Tensor) -> Tensor:
        return torch.sigmoid(F.softplus(self.slope) * s + self.offset)


class Denoiser(nn.Module):
    """p(x_0 | x_t, prefix) for every node and pair of a (doubled) graph: logits, zero on padding."""

    def __init__(
        self,
        cfg: PARDNetConfig,
        classes: tuple[int, int],
        tables: tuple[int, int],
        model: PARDConfig,
        cond_dim: int = 0,
    ):
        super().__init__()
        self.time_dim = width = model.time_dim
        self.time_mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        # properties join the time in the backbone's condition input
        self.cond_mlp = (
            nn.Sequential(nn.Linear(cond_dim, width), nn.SiLU(), nn.Linear(width, width))
            if cond_dim
            else None
        )
        self.encoder = GraphEncoder(cfg, classes, tables, model, cond_dim=model.time_dim)
        d, p = cfg.dim, cfg.pair_dim
        self.node_head = mlp(d + 2 * p, d, classes[0])
        self.pair_head = mlp(d + p, 2 * p, classes[1])
        self.keep_node, self.keep_pair = KeepBias(), KeepBias()

    def forward(self, nodes, pairs, node_mask, block_id, is_target, block_degree, time, cond=None):
        """Inputs as :class:`GraphEncoder`, time (B,) = t / T, cond (B, c) properties or None ->
        (B, N, Kn), (B, N, N, Ke) logits."""
        signal = self.time_mlp(timestep_embedding(time.to(nodes.dtype), self.time_dim))
        if self.cond_mlp is not None:
            signal = signal + self.cond_mlp(cond.to(nodes.dtype))
        out = self.encoder(nodes, pairs, node_mask, block_id, is_target, block_degree, signal)
        keep = (1.0 - time.to(nodes.dtype)).view(-1, 1, 1)
        node_logits = self.node_head(node_readout(out)) + self.keep_node(keep) * nodes
        sym = 0.5 * (out.pair + out.pair.transpose(1, 2))
        both = out.h.unsqueeze(2) + out.h.unsqueeze(1)
        pair_logits = self.pair_head(torch.cat([sym, both], -1)) + self.keep_pair(keep).unsqueeze(-1) * pairs
        m = node_mask.to(nodes.dtype)
        pair_mask = (m.unsqueeze(2) * m.unsqueeze(1)).unsqueeze(-1)
        return node_logits * m.unsqueeze(-1), pair_logits * pair_mask


class BlockPredictor(nn.Module):
    """Size and degree of the next block from the clean prefix (spec §2.2), on its own backbone."""

    def __init__(self, cfg: PARDNetConfig, classes, tables, num_sizes: int, model: PARDConfig, cond_dim=0):
        super().__init__()
        d, p = cfg.dim, cfg.pair_dim
        self.encoder = GraphEncoder(cfg, classes, tables, model, cond_dim=cond_dim)
        self.node_proj = nn.Sequential(nn.Linear(d + 2 * p, d), nn.SiLU())
        self.size_embed = nn.Embedding(num_sizes, d)
        self.size_head = mlp(d, d, num_sizes)
        self.degree_head = mlp(d, d, tables[1])
        self.first_degree_head = mlp(d, d, tables[1])

    def node_states(self, nodes, pairs, node_mask, block_id, block_degree, cond=None) -> Tensor:
        """(B, N, d) per-node read-outs on the clean graph (block-causal: node i sees blocks <= b_i)."""
        out = self.encoder(nodes, pairs, node_mask, block_id, None, block_degree, cond)
        return self.node_proj(node_readout(out)) * node_mask.unsqueeze(-1).to(nodes.dtype)

    def prefix_states(
        self, nodes, pairs, node_mask, block_id, block_degree, num_blocks: int, cond=None
    ) -> Tensor:
        """(B, L, d): r_b, the summed node read-outs of blocks 0..b, a function of G_{<=b} only."""
        per_node = self.node_states(nodes, pairs, node_mask, block_id, block_degree, cond)
        index = block_id.clamp(0, num_blocks - 1).unsqueeze(-1).expand_as(per_node)
        sums = per_node.new_zeros(per_node.shape[0], num_blocks, per_node.shape[-1]).scatter_add(
            1, index, per_node
        )
        return sums.cumsum(1)

    def size_logits(self, r: Tensor) -> Tensor:
        return self.size_head(r)

    def degree_logits(self, r: Tensor, next_sizes: Tensor) -> Tensor:
        return self.degree_head(r + self.size_embed(next_sizes))

    def first_degree_logits(self, first_sizes: Tensor) -> Tensor:
        return self.first_degree_head(self.size_embed(first_sizes))


# -- the doubled graph --------------------------------------------------------------------


def doubled_graph(x0, xt, e0, et, node_mask, block_id, block_degree, classes: tuple[int, int]) -> dict:
    """Denoiser inputs for 2N nodes: N real copies (clean), then N target copies (noisy).

    A target copy of block t holds the noisy node type; its pairs to real nodes of earlier
    blocks and to target copies of its own block hold the noisy pair types; real-real pairs are
    clean; every other pair (and the diagonal) is an all-zero vector.
    """
    kn, ke = classes
    mask = node_mask.bool()
    n = mask.shape[1]
    valid = mask.unsqueeze(2) & mask.unsqueeze(1) & ~torch.eye(n, dtype=torch.bool, device=mask.device)
    earlier = (block_id.unsqueeze(2) > block_id.unsqueeze(1)) & valid
    same = (block_id.unsqueeze(2) == block_id.unsqueeze(1)) & valid
    noisy = F.one_hot(et, ke).float()
    cross = noisy * earlier.unsqueeze(-1)  # target i reads real j of an earlier block
    top = torch.cat([F.one_hot(e0, ke).float() * valid.unsqueeze(-1), cross.transpose(1, 2)], 2)
    bottom = torch.cat([cross, noisy * same.unsqueeze(-1)], 2)
    both = torch.cat([mask, mask], 1)
    return {
        "nodes": F.one_hot(torch.cat([x0, xt], 1), kn).float() * both.unsqueeze(-1),
        "pairs": torch.cat([top, bottom], 1),
        "node_mask": both,
        "block_id": torch.cat([block_id, block_id], 1),
        "is_target": torch.cat([torch.zeros_like(mask), torch.ones_like(mask)], 1),
        "block_degree": torch.cat([block_degree, block_degree], 1),
    }


def target_logits(node_logits: Tensor, pair_logits: Tensor, block_id: Tensor) -> tuple[Tensor, Tensor]:
    """Doubled-graph logits -> the target predictions in the original layout, (B, N, Kn) and (B, N, N, Ke).

    Pair {i, j} is predicted where its block generates it: by the target copy of the later of
    the two nodes against the real earlier one, or between target copies inside one block.
    """
    n = block_id.shape[1]
    cross, inner = pair_logits[:, n:, :n], pair_logits[:, n:, n:]
    earlier = (block_id.unsqueeze(2) > block_id.unsqueeze(1)).unsqueeze(-1)
    later = earlier.transpose(1, 2)
    pairs = torch.where(earlier, cross, torch.where(later, cross.transpose(1, 2), inner))
    return node_logits[:, n:], pairs


# -- the family ---------------------------------------------------------------------------


@register_family("pard")
class PARD(FamilyModel):
    """Block-autoregressive categorical diffusion (see the module docstring)."""

    Config = PARDConfig
    Sampling = PARDSampling
    record_types = (MolGraph, Graph)

    def __init__(self, config: PARDConfig, state: dict | None = None):
        super().__init__(config, state)
        state = dict(state or {})
        if not state.get("first_block_counts"):
            raise ValueError(
                "pard model needs a fitted state (block statistics); build it with PARD.fit_state"
            )
        self.state = state
        self.max_nodes = int(state["max_nodes"])
        self.classes = kn, ke = _num_classes(config.kind, state)
        self.node_process = self._process(kn, state.get("node_marginal"))
        self.edge_process = self._process(ke, state.get("edge_marginal"))
        tables = (int(state["max_blocks"]) + EXTRA_BLOCKS, int(state["max_block_degree"]) + 1)
        cond = condition_dim(state.get("conditions"))
        self.denoiser = Denoiser(config.denoiser, self.classes, tables, config, cond)
        self.block_net = BlockPredictor(
            config.block_net, self.classes, tables, int(state["max_block_size"]) + 1, config, cond
        )
        first = torch.tensor(state["first_block_counts"], dtype=torch.float32)
        self.register_buffer("first_size_logits", (first / first.sum()).log(), persistent=False)
        self.register_train_hashes(state)

    def _process(self, num_classes: int, marginal) -> CategoricalDiffusion:
        """The virtual class (the last) is never the output of the final reverse step."""
        return CategoricalDiffusion(
            num_classes,
            self.config.num_steps,
            limit=self.config.noise,
            marginal=marginal,
            final_exclude=(num_classes - 1,),
        )

    @property
    def record_type(self) -> type:
        return MolGraph if self.config.kind == "molecule" else Graph

    @property
    def float_dtype(self) -> torch.dtype:
        """The weights' float type (follows ``.double()``), for the one-hot network inputs."""
        return self.first_size_logits.dtype

    # -- state -------------------------------------------------------------------------

    @classmethod
    def fit_state(cls, config: PARDConfig, records) -> dict:
        """Class vocabularies, block statistics (sizes, degrees, counts, first-block histogram), marginals."""
        max_nodes = config.max_nodes or max(_num_nodes(r) for r in records)
        records = [r for r in records if _num_nodes(r) <= max_nodes]
        blocks = [block_decomposition(_adjacency(r), config.max_hops) for r in records]
        sizes = np.concatenate([b.block_sizes for b in blocks])
        first = np.bincount([b.block_sizes[0] for b in blocks], minlength=int(sizes.max()) + 1)
        state = {
            "max_nodes": int(max_nodes),
            "max_blocks": max(b.num_blocks for b in blocks),
            "max_block_size": int(sizes.max()),
            "max_block_degree": int(max(b.block_degrees.max() for b in blocks)),
            "first_block_counts": first.tolist(),
            "node_counts": np.bincount([_num_nodes(r) for r in records]).tolist(),
            "max_bond": 1,
        }
        state.update(cls.condition_state(config, records))
        if config.kind == "molecule":
            state.update(molecule_vocabulary(records))
            state["max_bond"] = max(1, int(max(r.bonds.max(initial=0) for r in records)))
        if config.noise == "marginal":
            state.update(_marginals(config, state, records))
        return state

    def card_state(self) -> dict:
        return dict(self.state, num_train_hashes=int(self.train_hashes.numel()))

    def unknown_types(self, records) -> dict[str, int]:
        if self.config.kind != "molecule":
            return {}
        return unknown_elements(records, self.state["atom_types"])

    def extend_vocab(self, types: list[str]) -> None:
        """New atom types as new node classes before the virtual one: zero input columns and output
        rows below every old logit, so the old types' predictions are unchanged (fine-tuning)."""
        from rdkit import Chem

        old = len(self.state["atom_types"])
        new = [Chem.GetPeriodicTable().GetAtomicNumber(t) for t in types]
        self.state["atom_types"] = list(self.state["atom_types"]) + new
        for net in (self.denoiser.encoder, self.block_net.encoder):
            net.backbone.node_embed = _inserted(net.backbone.node_embed, old, len(new), columns=True)
            net.backbone.config = replace(net.backbone.config, node_in=net.backbone.node_embed.in_features)
        head = self.denoiser.node_head
        head[-1] = _inserted(head[-1], old, len(new), columns=False)
        if "node_marginal" in self.state:  # new types get no mass in the limit until refitted
            marginal = self.state["node_marginal"]
            self.state["node_marginal"] = marginal[:old] + [0.0] * len(new) + marginal[old:]
        self.classes = kn, _ = _num_classes(self.config.kind, self.state)
        self.node_process = self._process(kn, self.state.get("node_marginal"))

    def refit_sizes(self, records) -> None:
        """Block statistics, first-block and node-count histograms refitted on ``records``; the size,
        block and degree tables grow (new rows) where the new graphs are larger."""
        fitted = type(self).fit_state(replace(self.config, max_nodes=0, conditions=[]), records)
        grown = {k: max(int(self.state[k]), int(fitted[k])) for k in _SIZE_KEYS}
        self._grow_tables(grown)
        # histograms as long as the grown tables (smaller new graphs: zero counts above their sizes)
        first_counts = _padded(fitted["first_block_counts"], grown["max_block_size"] + 1)
        node_counts = _padded(fitted["node_counts"], grown["max_nodes"] + 1)
        self.state.update(grown, first_block_counts=first_counts, node_counts=node_counts)
        self.max_nodes = int(grown["max_nodes"])
        first = torch.tensor(first_counts, dtype=torch.float32)
        self.first_size_logits = (first / first.sum()).log().to(self.first_size_logits.device)

    def _grow_tables(self, grown: dict) -> None:
        blocks, degrees = grown["max_blocks"] + EXTRA_BLOCKS, grown["max_block_degree"] + 1
        sizes = grown["max_block_size"] + 1
        for net in (self.denoiser.encoder, self.block_net.encoder):
            if net.block_embed is not None:
                net.block_embed = _grown_rows(net.block_embed, blocks)
            net.degree_embed = _grown_rows(net.degree_embed, degrees)
            net.num_block_ids, net.num_degrees = blocks, degrees
        predictor = self.block_net
        predictor.size_embed = _grown_rows(predictor.size_embed, sizes)
        for head, rows in (
            (predictor.size_head, sizes),
            (predictor.degree_head, degrees),
            (predictor.first_degree_head, degrees),
        ):
            head[-1] = _grown_rows(head[-1], rows)

    # -- data --------------------------------------------------------------------------

    def encode(self, record) -> dict:
        """One graph, its nodes sorted by block, with the block statistics the heads predict."""
        nodes, edges = _classes(record, self.config.kind, self.state)
        if len(nodes) > self.max_nodes:
            raise ValueError(f"graph has {len(nodes)} nodes; this model handles at most {self.max_nodes}")
        blocks = block_decomposition(edges != 0, self.config.max_hops)
        self._check_blocks(blocks)
        order = blocks.node_order()
        as_long = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))
        return {
            **self.example_condition(record),
            ATOM_TYPES: as_long(nodes[order]),
            BONDS: as_long(edges[np.ix_(order, order)]),
            BLOCK_ID: as_long(blocks.node_block[order]),
            BLOCK_DEGREE: as_long(blocks.block_degrees[blocks.node_block[order]]),
            BLOCK_SIZES: as_long(blocks.block_sizes),
            BLOCK_DEGREES: as_long(blocks.block_degrees),
        }

    def _check_blocks(self, blocks: BlockDecomposition) -> None:
        limits = {
            "blocks": (blocks.num_blocks, int(self.state["max_blocks"]) + EXTRA_BLOCKS),
            "nodes in a block": (int(blocks.block_sizes.max()), int(self.state["max_block_size"])),
            "block degree": (int(blocks.block_degrees.max()), int(self.state["max_block_degree"])),
        }
        for what, (value, limit) in limits.items():
            if value > limit:
                raise ValueError(f"graph has {value} {what}; this model handles at most {limit}")

    def collate(self, examples: list[dict]) -> dict:
        n = max(len(e[ATOM_TYPES]) for e in examples)
        blocks = max(len(e[BLOCK_SIZES]) for e in examples)
        b = len(examples)
        batch = {
            ATOM_TYPES: torch.zeros(b, n, dtype=torch.long),
            BONDS: torch.zeros(b, n, n, dtype=torch.long),
            NODE_MASK: torch.zeros(b, n, dtype=torch.bool),
            BLOCK_ID: torch.zeros(b, n, dtype=torch.long),
            BLOCK_DEGREE: torch.zeros(b, n, dtype=torch.long),
            BLOCK_SIZES: torch.zeros(b, blocks, dtype=torch.long),
            BLOCK_DEGREES: torch.zeros(b, blocks, dtype=torch.long),
        }
        for i, e in enumerate(examples):
            k, m = len(e[ATOM_TYPES]), len(e[BLOCK_SIZES])
            batch[BONDS][i, :k, :k] = e[BONDS]
            batch[NODE_MASK][i, :k] = True
            for key in (ATOM_TYPES, BLOCK_ID, BLOCK_DEGREE):
                batch[key][i, :k] = e[key]
            for key in (BLOCK_SIZES, BLOCK_DEGREES):
                batch[key][i, :m] = e[key]
        batch.update(self.collated_condition(examples))
        return batch

    # -- training ----------------------------------------------------------------------

    def loss(self, batch: dict):
        cond = self.training_condition(batch, self.float_dtype)
        diffusion, node_loss, edge_loss = self.diffusion_loss(batch, cond)
        blocks = self.block_loss(batch, cond)
        total = diffusion + self.config.block_weight * blocks
        return total, {
            "loss_nodes": node_loss.item(),
            "loss_edges": edge_loss.item(),
            "loss_blocks": blocks.item(),
        }

    def diffusion_loss(self, batch: dict, cond: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """All blocks in one pass on the doubled graph: (total, node part, edge part), sums per graph
        averaged over graphs (PARD's reduction)."""
        x0, e0, mask, block = batch[ATOM_TYPES], batch[BONDS], batch[NODE_MASK], batch[BLOCK_ID]
        t = self.node_process.sample_t(len(x0), device=x0.device)
        xt = self.node_process.sample_q(x0, t)
        et = self.edge_process.sample_q(e0, t, symmetric=True)
        inputs = doubled_graph(x0, xt, e0, et, mask, block, batch[BLOCK_DEGREE], self.classes)
        logits = self.denoiser(**inputs, time=t.float() / self.config.num_steps, cond=cond)
        node_logits, pair_logits = target_logits(*logits, block)
        lower = torch.ones_like(e0, dtype=torch.bool).tril(-1) & mask.unsqueeze(2) & mask.unsqueeze(1)
        weight = self.config.ce_weight
        node_loss = self.node_process.loss(x0, xt, t, node_logits, mask, ce_weight=weight).mean()
        edge_loss = self.edge_process.loss(e0, et, t, pair_logits, lower, ce_weight=weight).mean()
        return node_loss + edge_loss, node_loss, edge_loss

    def block_states(self, batch: dict, cond: Tensor | None = None) -> Tensor:
        """The block network's states of every clean prefix of the batch's graphs."""
        keys = (ATOM_TYPES, BONDS, NODE_MASK, BLOCK_ID, BLOCK_DEGREE)
        return self._prefix_states(*(batch[k] for k in keys), batch[BLOCK_SIZES].shape[1], cond)

    def block_loss(self, batch: dict, cond: Tensor | None = None) -> Tensor:
        """Cross-entropies of every next block's size and degree and of the first degree, per graph."""
        sizes, degrees = batch[BLOCK_SIZES], batch[BLOCK_DEGREES]
        r = self.block_states(batch, cond)
        valid = sizes > 0
        next_sizes = F.pad(sizes[:, 1:], (0, 1))
        next_degrees = F.pad(degrees[:, 1:], (0, 1))
        size_ce = F.cross_entropy(self.block_net.size_logits(r)[valid], next_sizes[valid], reduction="sum")
        degree_logits = self.block_net.degree_logits(r, next_sizes)[valid]
        degree_ce = F.cross_entropy(degree_logits, next_degrees[valid], reduction="sum")
        first = F.cross_entropy(
            self.block_net.first_degree_logits(sizes[:, 0]), degrees[:, 0], reduction="sum"
        )
        return (size_ce + degree_ce + first) / len(sizes)

    def _prefix_states(
        self, nodes, edges, mask, block_id, block_degree, num_blocks: int, cond=None
    ) -> Tensor:
        kn, ke = self.classes
        pair_mask = (mask.unsqueeze(2) & mask.unsqueeze(1)).unsqueeze(-1)
        dtype = self.float_dtype
        nodes = F.one_hot(nodes, kn).to(dtype) * mask.unsqueeze(-1)
        pairs = F.one_hot(edges, ke).to(dtype) * pair_mask * _off_diagonal(edges)
        return self.block_net.prefix_states(
            nodes, pairs, mask, block_id, block_degree, max(num_blocks, 1), cond
        )

    # -- sampling: the BlockModel the sampler drives ------------------------------------

    def size_logits(self, graph: BlockGraph, cond: Tensor | None = None) -> Tensor:
        """(B, S): the first block's size from the training histogram, later ones from the size head."""
        first = self.first_size_logits.expand(len(graph.real), -1)
        if graph.num_blocks == 0:
            return first
        r = self._last_prefix_state(graph, cond)
        return torch.where(graph.real.any(1, keepdim=True), self.block_net.size_logits(r), first)

    def degree_logits(self, graph: BlockGraph, sizes: Tensor, cond: Tensor | None = None) -> Tensor:
        first = self.block_net.first_degree_logits(sizes)
        if graph.num_blocks == 0:
            return first
        later = self.block_net.degree_logits(self._last_prefix_state(graph, cond), sizes)
        return torch.where(graph.real.any(1, keepdim=True), later, first)

    def _last_prefix_state(self, graph: BlockGraph, cond: Tensor | None = None) -> Tensor:
        r = self._prefix_states(
            graph.node_types,
            graph.edge_types,
            graph.real,
            graph.block_id,
            graph.block_degree,
            graph.num_blocks,
            cond,
        )
        return r[:, graph.num_blocks - 1]

    def denoise(self, graph: BlockGraph, time: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Logits for every node and pair of the prefix plus the target block (no doubling needed)."""
        kn, ke = self.classes
        mask = graph.real | graph.target
        dtype = self.float_dtype
        pair_mask = (mask.unsqueeze(2) & mask.unsqueeze(1)).unsqueeze(-1)
        nodes = F.one_hot(graph.node_types, kn).to(dtype) * mask.unsqueeze(-1)
        pairs = F.one_hot(graph.edge_types, ke).to(dtype) * pair_mask * _off_diagonal(graph.edge_types)
        return self.denoiser(nodes, pairs, mask, graph.block_id, graph.target, graph.block_degree, time, cond)

    def max_blocks(self, options: PARDSampling) -> int:
        """Most blocks per graph; with ``num_atoms`` at least its upper end (every block adds a node)."""
        blocks = options.max_blocks or int(self.state["max_blocks"]) + EXTRA_BLOCKS
        sizes = size_range(options.num_atoms, self.max_nodes)
        return blocks if sizes is None or options.max_blocks else max(blocks, sizes[1])

    def num_sampling_steps(self, options: PARDSampling) -> int:
        """One tick per denoising step; a batch always reports max_blocks x steps (see block_ar)."""
        return self.max_blocks(options) * (options.steps or self.config.num_steps)

    @torch.no_grad()
    def sample(self, n: int, *, generator, options: PARDSampling, conditions=None, progress=None) -> dict:
        """n graphs, block by block. Raw ``{atom_types, bonds, node_mask, block_id, block_degree}``
        over ``max_nodes`` slots (real nodes first); ``decode`` makes records of it."""
        steps, device = options.steps or self.config.num_steps, self.first_size_logits.device
        run = get_sampler(options.sampler, "block_ar")
        processes = self.node_process.with_steps(steps), self.edge_process.with_steps(steps)
        guided = _Guided(self, self.sampling_condition(n, conditions, generator, device), options.guidance)
        num_nodes = self._sampling_sizes(n, options, generator)
        chunk = options.chunk or self._auto_chunk(n, device)
        starts = range(0, n, chunk)
        progress = thinned(progress, len(starts))
        parts = []
        for start in starts:
            rows = slice(start, min(start + chunk, n))
            graph = run(
                guided.rows(rows),
                *processes,
                rows.stop - start,
                self.max_nodes,
                self.max_blocks(options),
                generator=generator,
                device=device,
                progress=progress,
                num_nodes=None if num_nodes is None else num_nodes[rows],
            )
            parts.append(_raw_tensors(graph))
        return {key: torch.cat([part[key] for part in parts]) for key in parts[0]}

    def _auto_chunk(self, n: int, device) -> int:
        """Graphs per denoiser call when ``chunk`` is 0: ``n`` on a GPU; on CPU a chunk's pair states
        (graphs x max_nodes^2 x pair_dim floats) near 2 MiB, measured best on MOSES graphs
        (16-32 graphs: 2.3-2.6 molecules per CPU second against 1.3 at 128, 1.15 at 250)."""
        per_graph = self.max_nodes**2 * self.config.denoiser.pair_dim
        return n if device.type == "cuda" else max(1, _CPU_PAIR_BUDGET // per_graph)

    def _sampling_sizes(self, n: int, options: PARDSampling, generator) -> Tensor | None:
        """(n,) exact node counts for ``num_atoms`` (drawn inside a range), else None."""
        sizes = size_range(options.num_atoms, self.max_nodes)
        if sizes is None:
            return None
        drawn = draw_sizes(self.state.get("node_counts"), *sizes, n, generator)
        return drawn.to(self.first_size_logits.device)

    def decode(self, raw: dict) -> list:
        """Raw samples -> MolGraph (atom types, bond orders) or Graph (edges)."""
        records = []
        for nodes, edges, mask in zip(raw[ATOM_TYPES].numpy(), raw[BONDS].numpy(), raw[NODE_MASK].numpy()):
            keep = np.nonzero(mask)[0]
            bonds = edges[np.ix_(keep, keep)]
            if self.config.kind == "molecule":
                records.append(MolGraph(np.asarray(self.state["atom_types"])[nodes[keep]], bonds))
            else:
                records.append(Graph.from_adjacency(bonds != 0))
        return records

    def path_agreement(self, raw: dict) -> float:
        """Share of samples whose re-computed partial order equals the block path that generated
        them (PARD's diagnostic, spec §6.3; 95 % on QM9)."""
        agree = []
        for edges, mask, block in zip(raw[BONDS].numpy(), raw[NODE_MASK].numpy(), raw[BLOCK_ID].numpy()):
            keep = np.nonzero(mask)[0]
            again = block_decomposition(edges[np.ix_(keep, keep)] != 0, self.config.max_hops)
            agree.append(np.array_equal(again.node_block, block[keep]))
        return float(np.mean(agree))


class _Guided:
    """The BlockModel the sampler drives: PARD's logits at fixed conditions, with classifier-free guidance."""

    def __init__(self, model: PARD, cond: Tensor | None, weight: float):
        self.model, self.cond, self.weight = model, cond, weight

    def size_logits(self, graph: BlockGraph) -> Tensor:
        return guided(lambda c: self.model.size_logits(graph, c), self.cond, self.weight)

    def degree_logits(self, graph: BlockGraph, sizes: Tensor) -> Tensor:
        return guided(lambda c: self.model.degree_logits(graph, sizes, c), self.cond, self.weight)

    def denoise(self, graph: BlockGraph, time: Tensor) -> tuple[Tensor, Tensor]:
        return guided(lambda c: self.model.denoise(graph, time, c), self.cond, self.weight)

    def rows(self, index: Tensor) -> "_Guided":
        return _Guided(self.model, None if self.cond is None else self.cond[index], self.weight)


def _raw_tensors(graph: BlockGraph) -> dict:
    """A sampled batch as ``PARD.sample``'s raw dict on the CPU, zero off the real nodes."""
    real = graph.real
    pair_real = real.unsqueeze(2) & real.unsqueeze(1)
    return {
        ATOM_TYPES: (graph.node_types * real).cpu(),
        BONDS: (graph.edge_types * pair_real).cpu(),
        NODE_MASK: real.cpu(),
        BLOCK_ID: (graph.block_id * real).cpu(),
        BLOCK_DEGREE: (graph.block_degree * real).cpu(),
    }


_CPU_PAIR_BUDGET = 1 << 19  # floats of pair states per chunk on CPU (2 MiB in float32)

_SIZE_KEYS = ("max_nodes", "max_blocks", "max_block_size", "max_block_degree")


def _padded(counts: list, length: int) -> list:
    """A histogram extended with zero counts to ``length`` bins."""
    return list(counts) + [0] * (length - len(counts))


def _grown_rows(layer: nn.Module, rows: int) -> nn.Module:
    """An Embedding (rows = entries) or Linear (rows = outputs) with rows appended up to ``rows``."""
    current = layer.num_embeddings if isinstance(layer, nn.Embedding) else layer.out_features
    return layer if rows <= current else _inserted(layer, current, rows - current, columns=False)


def _inserted(layer: nn.Module, at: int, count: int, columns: bool) -> nn.Module:
    """A copy of an Embedding / Linear with ``count`` new rows (outputs, entries) or input columns
    inserted at ``at``. New input columns are zero (old inputs map as before); new output rows have
    zero weights and the lowest old bias (below the old logits); new embeddings are drawn like the old."""
    weight = layer.weight.detach()
    axis = 1 if columns else 0
    fresh_shape = list(weight.shape)
    fresh_shape[axis] = count
    fresh = torch.zeros(fresh_shape, dtype=weight.dtype, device=weight.device)
    if isinstance(layer, nn.Embedding):
        fresh.normal_(0.0, float(weight.std()))
    new_weight = torch.cat(
        [weight.narrow(axis, 0, at), fresh, weight.narrow(axis, at, weight.shape[axis] - at)], axis
    )
    if isinstance(layer, nn.Embedding):
        grown = nn.Embedding(*new_weight.shape)
    else:
        grown = nn.Linear(new_weight.shape[1], new_weight.shape[0], bias=layer.bias is not None)
        if layer.bias is not None:
            bias = layer.bias.detach()
            if not columns:
                low = bias.min().expand(count)
                bias = torch.cat([bias[:at], low, bias[at:]])
            grown.bias.data.copy_(bias)
    grown.weight.data.copy_(new_weight)
    return grown.to(weight.device)


def _off_diagonal(edges: Tensor) -> Tensor:
    """(B, N, N, 1) float: 0 on the diagonal (PARD's diagonal pair inputs are all-zero)."""
    n = edges.shape[-1]
    return (~torch.eye(n, dtype=torch.bool, device=edges.device)).unsqueeze(-1)


def _classes(record, kind: str, state: dict) -> tuple[np.ndarray, np.ndarray]:
    """A record -> (node classes (n,), pair classes (n, n)); ValueError on types the model lacks."""
    if kind == "graph":
        if not isinstance(record, Graph):
            raise ValueError(f"pard kind 'graph' trains on Graph records, got {type(record).__name__}")
        return np.zeros(record.num_nodes, np.int64), record.adjacency().astype(np.int64)
    if not isinstance(record, MolGraph):
        raise ValueError(f"pard kind 'molecule' trains on MolGraph records, got {type(record).__name__}")
    index = {z: i for i, z in enumerate(state["atom_types"])}
    missing = sorted({int(z) for z in record.atomic_numbers} - set(index))
    if missing:
        raise ValueError(f"atomic numbers {missing} are not in the model's atom types {state['atom_types']}")
    bonds = record.bonds.astype(np.int64)
    if bonds.max(initial=0) > state["max_bond"]:
        raise ValueError(f"bond code {bonds.max()} is above the model's largest, {state['max_bond']}")
    return np.array([index[int(z)] for z in record.atomic_numbers], np.int64), bonds


def _marginals(config: PARDConfig, state: dict, records) -> dict:
    """Train class frequencies (the virtual class gets 0); pairs: all ordered real pairs i != j."""
    kn, ke = _num_classes(config.kind, state)
    nodes, pairs = np.zeros(kn), np.zeros(ke)
    for record in records:
        x, e = _classes(record, config.kind, state)
        nodes += np.bincount(x, minlength=kn)
        off = ~np.eye(len(x), dtype=bool)
        pairs += np.bincount(e[off], minlength=ke)
    return {
        "node_marginal": (nodes / nodes.sum()).tolist(),
        "edge_marginal": (pairs / max(pairs.sum(), 1)).tolist(),
    }


def _num_classes(kind: str, state: dict) -> tuple[int, int]:
    """(node classes, pair classes): atom types (graphs: 1) + virtual; no edge, 1..max_bond, virtual."""
    return (len(state["atom_types"]) if kind == "molecule" else 1) + 1, int(state["max_bond"]) + 2


def _adjacency(record) -> np.ndarray:
    return record.adjacency() if isinstance(record, Graph) else record.bonds != 0


def _num_nodes(record) -> int:
    return record.num_atoms if isinstance(record, MolGraph) else record.num_nodes
