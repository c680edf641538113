"""``uni3dar``: autoregression over compressed octree tokens (Uni-3DAR, spec part B).

A 3D molecule or a crystal is an octree of 0.24 A cells, coarse to fine, one 8-bit
occupancy token per occupied node and one leaf per atom (type plus three fine bins);
crystals first draw their unit cell as a tree of 8 labelled corner pseudo-atoms
(``unigen.tokenizers.octree``). Masked next-token prediction: every token is preceded by a
[MASK] at its cell and level, and the [MASK]'s hidden state predicts the token that follows.

Network (the shared backbone, ``mask_mode="causal"``, ``rotary="3d"``): the input is the sum
of the token-type, three fine-bin, level (+1) and tree embeddings (N(0, 0.02), dropout); 3D
rotary positions are the token cell centres (leaves: their exact position) in units of the
0.01 A resolution; no sequence index. Pre-norm RMSNorm, SwiGLU, no biases, attention dropout,
drop-path rising to ``drop_path``, zero-initialised residual outputs, ``recycle`` passes.
Heads (one set per tree): occupancy (255 classes), leaf type, then x, y, z bins through the
cumulative embedding of the type and the earlier bins (teacher-forced in training). Loss =
(tree_weight x occupancy NLL + atom_weight x type NLL + xyz_weight x bin NLL) summed over
targets, divided by the number of tree and leaf targets (published weights 1 / 1 / 0.1).

Training augmentation (``collate`` in training mode): random rotation (``rotation_prob``),
a Gaussian jitter of the whole structure (``jitter`` A) plus an integer cell shift of -1..1
per axis; crystals also a common shift along (1, 1, 1) in fractional space
(``crystal_shift_prob``); tree-node dropout: each level-1 node's [MASK]/token pair is left out
with probability u ~ U(0, ``tree_dropout``), drawn per structure (the node's leaves stay).

Sampling (``unigen.samplers.octree_ar``): KV-cached, temperatures for occupancy, leaf type and
bins; ``rank_ratio < 1`` draws ceil(n / rank_ratio) samples and keeps the n with the highest
mean log p per atom (type + bins, untempered logits; Uni-3DAR's ``ppl_atom`` ranking).
``conditions={"composition": Z}`` fixes the atoms of every sample (exactly these elements and
counts, enforced while sampling): crystal structure prediction, or 3D molecules of a formula.
Property conditioning (``model.conditions``, ``unigen.conditioning``): the condition vector enters
the backbone's condition input, dropped with ``condition_dropout`` in training;
``sampling.guidance`` w != 1 decodes a doubled batch (conditional and unconditional halves, one
KV cache) and mixes the occupancy, type and bin logits as ``uncond + w * (cond - uncond)``.

Deviations from Uni-3DAR: no crystal counter embeddings or count head (the composition is
enforced through leaf-count bounds and per-element allowances instead, ``octree_ar``); the 8
lattice corners carry their own labels (tokenizer); sequences are padded, not packed; with
conditions, ``rank_ratio`` keeps each row's best of ceil(1 / rank_ratio) draws (its composition
must survive) instead of a batch's top fraction. Optional (``leaf_context: k``, off by default): every
leaf [MASK] also receives its k nearest earlier leaves as offsets from its cell centre
(``_LeafContext``), without which the bin head of the CPU-size models learnt nothing (docs/uni3dar.md).

Batch fields (B sequences of L = 2T tokens, right padding):
    TOKENS (B, L), FINE (B, L, 3), LEVEL (B, L), TREE (B, L), POS (B, L, 3) A box frame,
    TARGET_TOKENS (B, L) (-100: no target), TARGET_FINE (B, L, 3), NODE_MASK (B, L)
    COND (B, k) standardised property values (conditioned models only)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unigen.backbone import Backbone, BackboneConfig
from unigen.backbone.kv_cache import KVCache
from unigen.conditioning import (
    check_condition_dropout,
    check_guidance,
    condition_dim,
    doubled,
    mix_guided,
    side_by_side,
)
from unigen.data.keys import FINE, LEVEL, NODE_MASK, POS, TARGET_FINE, TARGET_TOKENS, TOKENS, TREE
from unigen.errors import UnigenError
from unigen.heads import TaskHead
from unigen.models.registry import (
    FamilyModel,
    check_known_elements,
    per_sample_compositions,
    register_family,
    unknown_elements,
)
from unigen.samplers.octree_ar import OctreeLayout, Tokens
from unigen.samplers.registry import get_sampler, sampler_names
from unigen.samplers.tokens import sample_tokens
from unigen.structures import Crystal, Molecule3D
from unigen.tokenizers.octree import (
    ATOM_OFFSET,
    CORNER_OFFSET,
    END,
    IGNORE,
    MASK,
    NULL,
    PAD,
    TREE_OFFSET,
    OctreeSequence,
    OctreeTokenizer,
    random_rotation,
)

NUM_PATTERNS = 255
DRAW_CHUNK = 256  # rank_ratio < 1: extra draws run in batches of max(n, this)


@dataclass
class Uni3DARSampling:
    """Sampling options of ``uni3dar`` (``--set sampling.KEY=VALUE``); defaults: Uni-3DAR's QM9."""

    sampler: str = "octree"
    tree_temperature: float = 0.9  # occupancy patterns
    atom_temperature: float = 0.3  # leaf types
    xyz_temperature: float = 0.3  # fine bins
    rank_ratio: float = 1.0  # < 1: keep the most likely fraction of ceil(n / rank_ratio) draws
    kv_cache: bool = True  # reuse keys / values while decoding (False: rerun the whole prefix)
    max_atoms: int = 0  # most atoms per sample without a composition (0: the largest training structure)
    guidance: float = 1.0  # classifier-free guidance weight of a conditioned model (1: plain conditional)

    def __post_init__(self):
        if self.sampler not in sampler_names("octree_ar"):
            raise ValueError(
                f"sampler {self.sampler!r} is not one of {', '.join(sampler_names('octree_ar'))}"
            )
        if min(self.tree_temperature, self.atom_temperature, self.xyz_temperature) < 0:
            raise ValueError("temperatures must be >= 0")
        if not 0 < self.rank_ratio <= 1:
            raise ValueError(f"rank_ratio must lie in (0, 1], got {self.rank_ratio}")
        if self.max_atoms < 0:
            raise ValueError(f"max_atoms must be >= 0, got {self.max_atoms}")
        check_guidance(self.guidance)


@dataclass
class Uni3DARConfig:
    """The recipe's ``model:`` section for family ``uni3dar``."""

    dim: int = 128
    depth: int = 6
    heads: int = 4
    ffn_hidden: int = 0  # SwiGLU width (0: round_up(8 dim / 3, 256), Uni-3DAR)
    recycle: int = 1
    attn_dropout: float = 0.1
    drop_path: float = 0.1
    embed_dropout: float = 0.1
    head_dropout: float = 0.1
    levels: int = 6  # octree depth: 2**levels cells of grid_len per side (QM9 6, drugs 7, crystals 8)
    grid_len: float = 0.24
    resolution: float = 0.01
    lattice_resolution: float = 0.001
    tree_weight: float = 1.0
    atom_weight: float = 1.0
    xyz_weight: float = 0.1
    tree_dropout: float = 0.1  # largest per-structure drop rate of level-1 nodes (0: off)
    leaf_context: int = 0  # earlier atoms each leaf [MASK] sees as offsets (0: off, as published)
    rotation_prob: float = 1.0
    jitter: float = 0.12  # A, std of the whole-structure Gaussian shift
    cell_shift: int = 1  # random integer shift of the structure by -cell_shift..cell_shift cells per axis
    crystal_shift_prob: float = 0.5
    conditions: list[str] = field(default_factory=list)  # properties to condition on (unigen.conditioning)
    condition_dropout: float = 0.1  # p of dropping a row's / a property's condition in training (CFG)
    sampling: Uni3DARSampling = field(default_factory=Uni3DARSampling)

    def __post_init__(self):
        if self.dim % self.heads:
            raise ValueError(f"dim ({self.dim}) must be divisible by heads ({self.heads})")
        if self.dim // self.heads < 6:
            raise ValueError(f"3D rotary positions need a head size >= 6, got {self.dim // self.heads}")
        if self.leaf_context < 0:
            raise ValueError(f"leaf_context must be >= 0, got {self.leaf_context}")
        for name in ("tree_dropout", "rotation_prob", "crystal_shift_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        check_condition_dropout(self.condition_dropout)

    @property
    def hidden(self) -> int:
        return self.ffn_hidden or 256 * math.ceil(int(8 * self.dim / 3) / 256)


class _Embedder(nn.Module):
    """Sum of the token-type, x / y / z fine-bin, level and tree embeddings, then dropout."""

    def __init__(self, vocab: int, fine_vocab: int, levels: int, dim: int, dropout: float):
        super().__init__()
        self.token = nn.Embedding(vocab, dim)
        self.fine = nn.ModuleList(nn.Embedding(fine_vocab, dim) for _ in range(3))
        self.level = nn.Embedding(levels + 2, dim)  # -1 ([END]) .. levels
        self.tree = nn.Embedding(2, dim)
        self.dropout = nn.Dropout(dropout)
        for module in self.modules():
            if isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)

    def forward(self, ids: Tensor, fine: Tensor, level: Tensor, tree: Tensor) -> Tensor:
        x = self.token(ids) + self.level(level + 1) + self.tree(tree)
        x = x + sum(embed(fine[..., a]) for a, embed in enumerate(self.fine))
        return self.dropout(x)


CONTEXT_PERIODS = (0.03, 0.06, 0.12, 0.24, 0.48, 0.96, 1.92, 3.84)  # A: bin to bond-length scales
CONTEXT_RADII = torch.linspace(0.0, 4.0, 21)  # A: Gaussian centres over neighbour distances
CONTEXT_TYPE_DIM = 16


class _LeafContext(nn.Module):
    """Where the ``k`` nearest earlier leaves of its tree lie, seen from a leaf [MASK]'s cell centre.

    Why: the in-cell bins of an atom follow from its neighbours' exact positions (bond lengths
    to 0.01 A), which the 3D rotary puts only into attention weights, never into the values; the
    published model's bin head stayed at the marginal here (docs/uni3dar.md). Each neighbour at
    offset r (A, distance d, direction u) enters as Fourier features of r's components, Gaussians
    of d and u times those Gaussians (an atom's offset along u is d minus a bond length: linear in
    them), with its type; an MLP per neighbour, summed (order-free), added to the [MASK]'s input.
    Zero at every other token.
    """

    def __init__(self, k: int, vocab: int, dim: int):
        super().__init__()
        self.k = k
        self.register_buffer("freq", 2 * math.pi / torch.tensor(CONTEXT_PERIODS), persistent=False)
        self.register_buffer("radii", CONTEXT_RADII.clone(), persistent=False)
        width = 6 * len(CONTEXT_PERIODS) + 4 * len(CONTEXT_RADII) + CONTEXT_TYPE_DIM
        self.neighbour_type = nn.Embedding(vocab, CONTEXT_TYPE_DIM)
        self.mlp = nn.Sequential(nn.Linear(width, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(
        self, ids: Tensor, level: Tensor, tree: Tensor, pos: Tensor, valid: Tensor, queries: int
    ) -> Tensor:
        """(B, queries, d) for the last ``queries`` of the L tokens (B, L); keys: the earlier ones."""
        length, device = ids.shape[1], ids.device
        is_leaf = (level == 0) & (ids != MASK) & (ids != NULL) & (ids != PAD) & valid
        q = slice(length - queries, length)
        asks = (level[:, q] == 0) & (ids[:, q] == MASK)
        earlier = (
            torch.arange(length, device=device)[None, :]
            < torch.arange(length - queries, length, device=device)[:, None]
        )
        seen = asks[:, :, None] & is_leaf[:, None, :] & earlier[None] & (tree[:, q, None] == tree[:, None, :])
        offset = pos[:, None, :, :] - pos[:, q, None, :]  # (B, Q, L, 3) A
        dist = offset.norm(dim=-1).masked_fill(~seen, float("inf"))
        near, index = dist.topk(min(self.k, length), dim=-1, largest=False)  # (B, Q, k)
        found = torch.isfinite(near)
        r = offset.gather(2, index[..., None].expand(-1, -1, -1, 3))  # (B, Q, k, 3)
        d = near.masked_fill(~found, 0.0)[..., None]
        phase = (r[..., None] * self.freq).flatten(-2)
        gauss = torch.exp(-(((d - self.radii) / 0.2) ** 2))  # (B, Q, k, R)
        direction = r / d.clamp(min=1e-6)
        kinds = self.neighbour_type(ids.gather(1, index.flatten(1)).view_as(index))
        features = torch.cat([phase.sin(), phase.cos(), gauss, (direction[..., None] * gauss[..., None, :]).flatten(-2),
                              kinds.to(r.dtype)], -1)  # fmt: skip
        message = self.mlp(features.to(kinds.dtype)) * found[..., None]
        return message.sum(2)


class _TreeHeads(nn.Module):
    """One tree's heads: occupancy, leaf type, then x, y, z bins through cumulative embeddings."""

    def __init__(self, dim: int, vocab: int, bins: int, dropout: float):
        super().__init__()
        self.pattern = TaskHead(dim, NUM_PATTERNS, dropout)
        self.atom = TaskHead(dim, vocab, dropout)
        self.bins = nn.ModuleList(TaskHead(dim, bins, dropout) for _ in range(3))
        self.type_feed = nn.Embedding(vocab, dim)
        self.bin_feed = nn.ModuleList(nn.Embedding(bins, dim) for _ in range(2))
        self.feed_dropout = nn.Dropout(dropout)
        for embed in (self.type_feed, *self.bin_feed):
            nn.init.normal_(embed.weight, std=0.02)

    def states(self, h: Tensor, type_id: Tensor, axis: int, bins: Tensor) -> Tensor:
        """The hidden state that predicts bin ``axis``: h + E(type) + E(earlier bins)."""
        h = h + self.feed_dropout(self.type_feed(type_id))
        for a in range(axis):
            h = h + self.feed_dropout(self.bin_feed[a](bins[..., a]))
        return h


@register_family("uni3dar")
class Uni3DAR(FamilyModel):
    """3D molecules or crystals as masked next-token prediction over octree tokens (module docstring)."""

    Config = Uni3DARConfig
    Sampling = Uni3DARSampling
    record_types = (Molecule3D, Crystal)

    def __init__(self, config: Uni3DARConfig, state: dict | None = None):
        super().__init__(config, state)
        state = dict(state or {})
        if not state.get("elements"):
            raise ValueError("uni3dar needs a fitted state with 'elements' (Uni3DAR.fit_state)")
        self.state = state
        self.tokenizer = OctreeTokenizer(config.levels, config.grid_len, config.resolution,
                                         config.lattice_resolution, state["elements"])  # fmt: skip
        tok = self.tokenizer
        self.leaf_bins = (tok.lattice_bins, tok.bins) if self.periodic else (tok.bins,)
        self.embed = _Embedder(
            tok.vocab_size, tok.fine_vocab_size, config.levels, config.dim, config.embed_dropout
        )
        self.backbone = Backbone(
            BackboneConfig(dim=config.dim, depth=config.depth, heads=config.heads, ffn="swiglu",
                           ffn_hidden=config.hidden, norm="rmsnorm", attn_dropout=config.attn_dropout,
                           drop_path=config.drop_path, recycle=config.recycle, zero_init_residual=True,
                           mask_mode="causal", rotary="3d", rotary_resolution=config.resolution,
                           cond_dim=condition_dim(state.get("conditions")))
        )  # fmt: skip
        self.context = (
            _LeafContext(config.leaf_context, tok.vocab_size, config.dim) if config.leaf_context else None
        )
        self.trees = nn.ModuleList(
            _TreeHeads(config.dim, tok.vocab_size, max(self.leaf_bins), config.head_dropout)
            for _ in self.leaf_bins
        )
        for block in self.backbone.blocks:
            nn.init.normal_(block.attn.qkv.weight, std=0.02)

    # -- state ---------------------------------------------------------------------------

    @classmethod
    def fit_state(cls, config: Uni3DARConfig, records) -> dict:
        """Elements seen, whether the records are crystals, the largest structure, the mean length."""
        periodic = {isinstance(r, Crystal) for r in records}
        if len(periodic) != 1:
            raise ValueError("uni3dar trains on molecules or on crystals, not on a mix of both")
        tokenizer = OctreeTokenizer(
            config.levels, config.grid_len, config.resolution, config.lattice_resolution
        )
        lengths = [len(s) for s in tokenizer.encode_batch(records[:2000])]
        return {
            "elements": sorted({int(z) for r in records for z in r.atomic_numbers}),
            "periodic": periodic.pop(),
            "max_atoms": max(r.num_atoms for r in records),
            "mean_tokens": round(float(np.mean(lengths)), 1),
            **cls.condition_state(config, records),
        }

    def card_state(self) -> dict:
        return dict(self.state)

    def unknown_types(self, records) -> dict[str, int]:
        return unknown_elements(records, self.state["elements"])

    @property
    def periodic(self) -> bool:
        return bool(self.state.get("periodic", False))

    @property
    def record_type(self) -> type:
        return Crystal if self.periodic else Molecule3D

    @property
    def elements(self) -> list[int]:
        return list(self.state["elements"])

    # -- data ----------------------------------------------------------------------------

    def encode(self, record) -> dict:
        """Check that the record tokenizes (in the box at any rotation) and keep its arrays;
        ``collate`` tokenizes every batch anew with fresh augmentation."""
        if not isinstance(record, self.record_type):
            raise ValueError(
                f"this uni3dar model trains on {self.record_type.__name__}, got {type(record).__name__}"
            )
        reach, room = _reach(record), self._room()
        if reach > room:
            raise ValueError(f"the structure reaches {reach:.2f} A from its centre; levels={self.config.levels} "
                             f"leaves room for {room:.2f} A with augmentation: use more levels")  # fmt: skip
        try:
            self.tokenizer.encode(record)
        except UnigenError as err:
            raise ValueError(str(err)) from None
        return {"record": record, **self.example_condition(record)}

    def _room(self) -> float:
        """How far from the box centre a structure may reach in any orientation (one cell of margin)."""
        return self.tokenizer.box_length / 2 - self.config.grid_len

    def collate(self, examples: list[dict]) -> dict:
        """Tokenize (augmented in training mode), interleave the [MASK]s, pad on the right."""
        records = [e["record"] for e in examples]
        rotations, translations = self._augmentation(records) if self.training else (None, None)
        if self.training and self.periodic:
            records = [self._shift_crystal(r) for r in records]
        sequences = self.tokenizer.encode_batch(records, rotations, translations)
        masked = [self.tokenizer.interleave_masks(s) for s in sequences]
        if self.training and self.config.tree_dropout > 0:
            masked = [self._drop_tree_nodes(m) for m in masked]
        batch = self._pad(masked)
        return {**batch, **self.collated_condition(examples)}

    def _augmentation(self, records) -> tuple[np.ndarray, np.ndarray]:
        """Per-structure rotations (B, 3, 3) and translations (B, 3) A, from torch's random state;
        a translation is clipped where it would push the rotated structure out of the box."""
        cfg, n = self.config, len(records)
        rng = self._rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
        rotations = np.array([random_rotation(rng) if rng.random() < cfg.rotation_prob else np.eye(3)
                              for _ in range(n)])  # fmt: skip
        shifts = rng.integers(-cfg.cell_shift, cfg.cell_shift + 1, size=(n, 3)) * cfg.grid_len
        translations = shifts + rng.normal(0.0, cfg.jitter, size=(n, 3))
        room = self._room()
        for k, points in enumerate(_points(r) @ q.T for r, q in zip(records, rotations)):
            low, high = -room - points.min(0), room - points.max(0)
            translations[k] = np.clip(translations[k], np.minimum(low, 0), np.maximum(high, 0))
        return rotations, translations

    def _shift_crystal(self, crystal: Crystal) -> Crystal:
        rng = self._rng
        if rng.random() >= self.config.crystal_shift_prob:
            return crystal
        frac = np.mod(crystal.frac_coords + rng.random(), 1.0)
        return Crystal(crystal.atomic_numbers, frac, crystal.lattice)

    def _drop_tree_nodes(self, masked):
        """Leave out each level-1 [MASK]/token pair with probability u ~ U(0, tree_dropout)."""
        rate = float(torch.rand(()) * self.config.tree_dropout)
        pairs = masked.level[0::2] == 1
        drop = pairs & (torch.rand(len(pairs)).numpy() < rate)
        keep = ~np.repeat(drop, 2)
        return type(masked)(*(getattr(masked, f)[keep] for f in masked.__dataclass_fields__))

    def _pad(self, masked: list) -> dict:
        length = max(len(m.ids) for m in masked)
        b = len(masked)
        null = self.tokenizer.null_bin
        batch = {
            TOKENS: torch.full((b, length), PAD, dtype=torch.long),
            FINE: torch.full((b, length, 3), null, dtype=torch.long),
            LEVEL: torch.full((b, length), -1, dtype=torch.long),
            TREE: torch.zeros(b, length, dtype=torch.long),
            POS: torch.zeros(b, length, 3),
            TARGET_TOKENS: torch.full((b, length), IGNORE, dtype=torch.long),
            TARGET_FINE: torch.full((b, length, 3), IGNORE, dtype=torch.long),
            NODE_MASK: torch.zeros(b, length, dtype=torch.bool),
        }
        for i, m in enumerate(masked):
            n = len(m.ids)
            fields = {TOKENS: m.ids, FINE: m.fine, LEVEL: m.level, TREE: m.tree.astype(np.int64),
                      POS: m.position.astype(np.float32), TARGET_TOKENS: m.target_ids, TARGET_FINE: m.target_fine}  # fmt: skip
            for key, value in fields.items():
                batch[key][i, :n] = torch.from_numpy(np.ascontiguousarray(value))
            batch[NODE_MASK][i, :n] = True
        return batch

    # -- network and loss ----------------------------------------------------------------

    def hidden(self, tokens, fine, level, tree, pos, node_mask=None, cache: KVCache | None = None,
               history=None, cond=None) -> Tensor:  # fmt: skip
        """Backbone states ``(B, L, d)``; a [MASK]'s state predicts the token after it.

        ``history``: (ids, level, tree, pos, valid) of the whole sequence so far, whose last L
        tokens are these (KV-cached decoding; the leaf context looks at earlier tokens).
        ``cond (B, 2k)``: the property condition of a conditioned model."""
        x = self.embed(tokens, fine, level, tree)
        run = dict(pos=pos.to(x.dtype), node_mask=node_mask, cache=cache, cond=cond)
        if self.context is None:
            return self.backbone(embeddings=x, **run).h
        valid = torch.ones_like(tokens, dtype=torch.bool) if node_mask is None else node_mask
        context = self.context(*(history or (tokens, level, tree, pos, valid)), queries=tokens.shape[1])
        h = self.backbone(embeddings=x + context, **run).h
        return h + context  # also straight to the heads, past the backbone's norms and dropout

    def loss(self, batch: dict):
        """Weighted NLL of the occupancy, leaf-type and bin targets over the number of targets."""
        # right padding: a causal position never reads the padding after it, so no node mask
        cond = self.training_condition(batch)
        h = self.hidden(batch[TOKENS], batch[FINE], batch[LEVEL], batch[TREE], batch[POS], cond=cond)
        target, level, tree = batch[TARGET_TOKENS], batch[LEVEL], batch[TREE]
        sums = {"tree": h.new_zeros(()), "atom": h.new_zeros(()), "xyz": h.new_zeros(())}
        for t, heads in enumerate(self.trees):
            node = (target != IGNORE) & (level >= 1) & (tree == t)
            leaf = (target != IGNORE) & (level == 0) & (tree == t)
            pattern = target[node] - TREE_OFFSET - 1
            sums["tree"] = sums["tree"] + F.cross_entropy(
                heads.pattern(h[node]).float(), pattern, reduction="sum"
            )
            atom, xyz = self._leaf_nll(
                heads, h[leaf], target[leaf], batch[TARGET_FINE][leaf], self.leaf_bins[t]
            )
            sums["atom"], sums["xyz"] = sums["atom"] + atom, sums["xyz"] + xyz
        count = ((target != IGNORE) & (level >= 0)).sum().clamp(min=1)
        cfg = self.config
        total = (
            cfg.tree_weight * sums["tree"] + cfg.atom_weight * sums["atom"] + cfg.xyz_weight * sums["xyz"]
        ) / count
        return total, {k: (v / count).item() for k, v in sums.items()}

    def _leaf_nll(self, heads: _TreeHeads, h: Tensor, ids: Tensor, bins: Tensor, num_bins: int):
        """Summed type NLL and bin NLL (teacher-forced type and earlier bins)."""
        atom = F.cross_entropy(heads.atom(h).float(), ids, reduction="sum")
        xyz = h.new_zeros(())
        for axis in range(3):
            logits = heads.bins[axis](heads.states(h, ids, axis, bins)).float()[:, :num_bins]
            xyz = xyz + F.cross_entropy(logits, bins[:, axis], reduction="sum")
        return atom, xyz

    # -- sampling ------------------------------------------------------------------------

    def layout(self) -> OctreeLayout:
        tok = self.tokenizer
        return OctreeLayout(
            tok.levels, tok.grid_len, MASK, END, NULL, TREE_OFFSET, tok.null_bin, self.leaf_bins
        )

    def num_sampling_steps(self, options: Uni3DARSampling) -> int:
        """About one step per token (the mean training length) per draw."""
        return int(self.state.get("mean_tokens", 100) * math.ceil(1 / options.rank_ratio))

    @torch.no_grad()
    def sample(self, n: int, *, generator, options: Uni3DARSampling, conditions=None, progress=None) -> dict:
        """``n`` raw samples ``{"ids", "fine", "valid"}`` (n, S[, 3]) and ``"logp"`` (n,).
        ``conditions={"composition": Z}`` (shared) or ``[Z_1, ..., Z_n]`` fixes every sample's atoms;
        a conditioned model also takes property targets (``{"heat_ref": 1.0}``)."""
        targets = dict(conditions or {})
        composition = {"composition": targets.pop("composition")} if "composition" in targets else None
        compositions = self._compositions(n, composition)
        draws = math.ceil(1 / options.rank_ratio)
        if compositions is None:
            draws, chunk = math.ceil(n / options.rank_ratio), max(n, DRAW_CHUNK)
            parts = [self._draw(min(chunk, draws - s), None, generator, options, progress, targets)
                     for s in range(0, draws, chunk)]  # fmt: skip
            raw = _concat(parts)
            return (
                raw
                if draws == n
                else _take(raw, torch.argsort(raw["logp"], descending=True, stable=True)[:n])
            )
        parts = [self._draw(n, compositions, generator, options, progress, targets) for _ in range(draws)]
        best = torch.stack([p["logp"] for p in parts]).argmax(0)  # each row: its most likely draw
        raw = _concat(parts)
        return _take(raw, best * n + torch.arange(n))

    def _draw(self, n: int, compositions, generator, options, progress, targets=None) -> dict:
        """One batch of n draws; ``targets``: property targets of a conditioned model."""
        device = next(self.parameters()).device
        cond = self.sampling_condition(n, targets, generator, device)
        low, high, allowance = self._leaf_budget(n, compositions, options, device)
        run = get_sampler(options.sampler, "octree_ar")
        raw = run(_Decoder(self, options, device, cond), self.layout(), low, high, allowance,
                  tree_temperature=options.tree_temperature, generator=generator, progress=progress)  # fmt: skip
        return {k: raw[k].cpu() for k in ("ids", "fine", "valid", "logp")}

    def _leaf_budget(self, n: int, compositions, options, device):
        """(min, max) leaves (n, trees) and the allowance (n, trees, V) of every leaf type."""
        vocab, trees = self.tokenizer.vocab_size, len(self.leaf_bins)
        most = int(options.max_atoms or self.state["max_atoms"])
        low = torch.ones(n, trees, dtype=torch.long)
        high = torch.full((n, trees), most, dtype=torch.long)
        allowance = torch.zeros(n, trees, vocab, dtype=torch.long)
        atoms = trees - 1  # the atom tree (0 for molecules, 1 for crystals)
        allowance[:, atoms, ATOM_OFFSET:] = most
        if self.periodic:
            low[:, 0], high[:, 0] = 8, 8
            allowance[:, 0, CORNER_OFFSET : CORNER_OFFSET + 8] = 1
        if compositions is not None:
            allowance[:, atoms] = 0
            for i, ids in enumerate(compositions):
                allowance[i, atoms] = torch.bincount(torch.as_tensor(ids), minlength=vocab)
                low[i, atoms] = high[i, atoms] = len(ids)
        return low.to(device), high.to(device), allowance.to(device)

    def composition_ids(self, atomic_numbers) -> np.ndarray:
        """(N,) Z -> leaf token ids; UsageError naming elements the model never saw."""
        z = np.asarray(atomic_numbers, dtype=np.int64)
        check_known_elements(z, self.state["elements"])
        return np.array([self.tokenizer.atom_id(int(v)) for v in z], dtype=np.int64)

    def _compositions(self, n: int, conditions) -> list | None:
        if not conditions:
            return None
        return [self.composition_ids(z) for z in per_sample_compositions(conditions, n, "uni3dar")]

    def candidate_nll(self, raw: dict, steps: int = 0, generator=None) -> Tensor:
        """(n,) ranking score in bits, lower = more likely: minus the mean log2 p per atom recorded while
        sampling (type and bins; ``steps`` and ``generator`` are unused: nothing is re-estimated)."""
        return -raw["logp"] / math.log(2)

    def decode(self, raw: dict) -> list:
        """Raw samples -> Molecule3D / Crystal records (meta ``logp``); a crystal whose corners
        span no volume is left out."""
        sequences = [self._sequence(ids[valid], fine[valid]) for ids, fine, valid in
                     zip(raw["ids"].numpy(), raw["fine"].numpy(), raw["valid"].numpy())]  # fmt: skip
        try:
            records = self.tokenizer.decode_batch(sequences)
        except UnigenError:
            records = [_decode_or_none(self.tokenizer, s) for s in sequences]
        out = []
        for record, logp in zip(records, raw["logp"].tolist()):
            if record is not None:
                record.meta["logp"] = round(float(logp), 4)
                out.append(record)
        return out

    @staticmethod
    def _sequence(ids: np.ndarray, fine: np.ndarray) -> OctreeSequence:
        t = len(ids)
        zeros = np.zeros(t, np.int64)
        return OctreeSequence(ids, zeros, np.zeros((t, 3)), fine, zeros.astype(np.int8), zeros.astype(np.int8),
                              np.zeros(3), np.zeros(0, np.int64))  # fmt: skip


def _points(record) -> np.ndarray:
    """(P, 3) A relative to the point the tokenizer puts at the box centre: a molecule's atoms
    (centred on their mean), a crystal's 8 cell corners (centred on the cell centre)."""
    if isinstance(record, Molecule3D):
        return record.positions - record.positions.mean(0)
    corners = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)]) - 0.5
    return corners @ record.lattice


def _reach(record) -> float:
    """Largest distance (A) of those points from the box centre, in any orientation."""
    return float(np.linalg.norm(_points(record), axis=1).max())


def _decode_or_none(tokenizer, sequence):
    try:
        return tokenizer.decode(sequence)
    except UnigenError:
        return None


def _concat(parts: list[dict]) -> dict:
    """Raw draws of different lengths S -> one raw (invalid padding on the right)."""
    width = max(p["ids"].shape[1] for p in parts)
    pad = lambda x, value: F.pad(x, (0, 0) * (x.dim() - 2) + (0, width - x.shape[1]), value=value)  # noqa: E731
    return {
        "ids": torch.cat([pad(p["ids"], PAD) for p in parts]),
        "fine": torch.cat([pad(p["fine"], 0) for p in parts]),
        "valid": torch.cat([pad(p["valid"], False) for p in parts]),
        "logp": torch.cat([p["logp"] for p in parts]),
    }


def _take(raw: dict, index: Tensor) -> dict:
    return {k: v[index] for k, v in raw.items()}


class _Decoder:
    """``unigen.samplers.octree_ar.OctreeDecoder`` over a Uni3DAR model.

    With ``kv_cache`` every ``feed`` runs only the new tokens; without, it reruns the whole
    sequence (the reference for the cached path). Finished samples feed padding (masked keys).

    Guidance (``cond`` given, ``options.guidance`` != 1) feeds every row twice, conditional then
    unconditional, in one doubled batch; the sampler sees n rows whose hidden state is the two
    halves side by side ``(n, 2d)``, and every head's logits are mixed (``_guided``).
    """

    def __init__(self, model: Uni3DAR, options: Uni3DARSampling, device, cond=None):
        self.model, self.options = model, options
        self.guidance = options.guidance if cond is not None else 1.0
        if self.guidance != 1.0:
            cond = doubled(cond)
        self.cond = cond
        self.cache = KVCache() if options.kv_cache else None
        self.history: Tokens | None = None  # every token fed so far (the leaf context, uncached runs)
        self.bins = torch.arange(max(model.leaf_bins), device=device)
        self.leaf_bins = torch.tensor(model.leaf_bins, device=device)

    def feed(self, tokens: Tokens) -> Tensor:
        if self.guidance != 1.0:
            tokens = Tokens(*(torch.cat([field, field]) for field in tokens.fields()))
        keep = self.cache is None or self.model.context is not None
        if keep:
            self.history = tokens if self.history is None else self.history.cat(tokens)
        if self.cache is None:
            tokens = self.history
        past = self.history if keep else None
        history = None if past is None else (past.ids, past.level, past.tree, past.pos, past.valid)
        h = self.model.hidden(tokens.ids, tokens.fine, tokens.level, tokens.tree, tokens.pos,
                              node_mask=tokens.valid, cache=self.cache, history=history,
                              cond=self.cond)  # fmt: skip
        return h[:, -1] if self.guidance == 1.0 else side_by_side(h[:, -1])

    def _guided(self, h: Tensor, logits_of) -> Tensor:
        """``logits_of(states)``, mixed over the conditional and unconditional halves when guided."""
        if self.guidance == 1.0:
            return logits_of(h)
        h_cond, h_uncond = h.chunk(2, dim=-1)
        return mix_guided(logits_of(h_cond), logits_of(h_uncond), self.guidance)

    def pattern_logits(self, h: Tensor, tree: Tensor) -> Tensor:
        return self._guided(
            h, lambda x: self._per_tree(tree, lambda heads, rows: heads.pattern(x[rows]), NUM_PATTERNS, x)
        )

    def leaf(self, h: Tensor, tree: Tensor, allowed: Tensor, generator):
        """Type, then x, y, z bins, each fed back through the cumulative embeddings."""
        opts = self.options
        logits = self._guided(
            h, lambda x: self._per_tree(tree, lambda heads, rows: heads.atom(x[rows]), allowed.shape[1], x)
        )
        ids = sample_tokens(logits, temperature=opts.atom_temperature, allowed=allowed, generator=generator)
        logp = _log_prob(logits, allowed, ids)
        bins = torch.zeros(len(h), 3, dtype=torch.long, device=h.device)
        bin_ok = self.bins[None, :] < self.leaf_bins[tree][:, None]
        for axis in range(3):
            logits = self._guided(h, lambda x: self._per_tree(tree, lambda heads, rows: heads.bins[axis](
                heads.states(x[rows], ids[rows], axis, bins[rows])), len(self.bins), x))  # fmt: skip
            bins[:, axis] = sample_tokens(
                logits, temperature=opts.xyz_temperature, allowed=bin_ok, generator=generator
            )
            logp = logp + _log_prob(logits, bin_ok, bins[:, axis])
        return ids, bins, logp

    def _per_tree(self, tree: Tensor, head, width: int, h: Tensor) -> Tensor:
        """Logits (B, width) from each row's own tree heads."""
        out = h.new_zeros(len(h), width, dtype=torch.float32)
        for t, heads in enumerate(self.model.trees):
            rows = tree == t
            if bool(rows.any()):
                out[rows] = head(heads, rows).float()
        return out


def _log_prob(logits: Tensor, allowed: Tensor, chosen: Tensor) -> Tensor:
    """log p of ``chosen`` under the untempered logits restricted to ``allowed``."""
    logp = torch.log_softmax(logits.masked_fill(~allowed, float("-inf")), -1)
    return logp.gather(1, chosen[:, None]).squeeze(1)
