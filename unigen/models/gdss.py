"""GDSS (Jo et al. 2022): score-based generation of graphs with a system of SDEs over X and A.

Node features X (B, N, F) and adjacency A (B, N, N) are diffused by one SDE each
(``unigen.processes.sde``); two score networks, both configurations of the shared backbone
(``unigen.backbone``), predict the scores; ``unigen.samplers.pc`` integrates the reverse
system. The split follows MatterGen: process / score model / sampler.

Score networks (GDSS's ScoreNetworkX and ScoreNetworkA, re-expressed on the backbone):
    both read X and the powers A, A^2, ..., A^c (GDSS's ``pow_tensor``) as dense pair features,
    with full attention over the real nodes and a per-head bias from the pair state;
    the X network reads out node states -> (B, N, F);
    the A network reads out the pair state -> (B, N, N), symmetrised, zero diagonal.
Deviation from the paper, on purpose: the networks see the diffusion time t as an extra node
and pair feature (``time_conditioning``; GDSS's own networks are time-independent).

Representations (``kind``):
    molecule: X = one-hot atom type over ``atom_types`` (no virtual column), A = kekulized bond
        order 0/1/2/3; formal charges are not modelled (GDSS's +1 rule restores N+/O+/S+).
    graph: X = one-hot node degree (GDSS ``init_features('deg')``), A = 0/1.
Decoding as GDSS: A rounded at 0.5 / 1.5 / 2.5; X binarised at 0.5 with a virtual type when
no entry passes (that node is dropped); graphs drop isolated nodes.

Batch fields (B graphs padded to N = max_nodes):
    x    (B, N, F) float   adj (B, N, N) float   mask (B, N) float (1 = real node)
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn

from unigen.backbone import Backbone, BackboneConfig
from unigen.models.registry import FamilyModel, register_family
from unigen.processes.sde import SDE, VESDE, VPSDE, SubVPSDE, _expand
from unigen.samplers.pc import Variable, check_compatible, sample_pc, sample_s4
from unigen.structures import BOND_AROMATIC, Graph, MolGraph


@dataclass
class SDEConfig:
    """One SDE. ``beta_min``/``beta_max`` are sigma_min/sigma_max for VE (as in GDSS configs)."""

    kind: Literal["VP", "VE", "subVP"] = "VP"
    beta_min: float = 0.1
    beta_max: float = 1.0
    num_scales: int = 1000

    def build(self) -> SDE:
        if self.kind == "VE":
            return VESDE(self.beta_min, self.beta_max, self.num_scales)
        return {"VP": VPSDE, "subVP": SubVPSDE}[self.kind](self.beta_min, self.beta_max, self.num_scales)


@dataclass
class ScoreNetConfig:
    """Width of one score network (a backbone configuration)."""

    dim: int = 32
    depth: int = 2
    heads: int = 4
    pair_dim: int = 16
    adj_powers: int = 2  # GDSS c_init: A, A^2, ..., A^c as pair features


# predictor-corrector samplers by name: (predictor, corrector) of ``unigen.samplers.pc``
PC_SAMPLERS = {"pc": ("reverse", "langevin"), "euler": ("euler", "none"), "euler-langevin": ("euler", "langevin")}
SAMPLERS = (*PC_SAMPLERS, "s4")


@dataclass
class SamplingConfig:
    """Defaults for ``unigen generate`` (not used in training); GDSS's QM9 sampler by default."""

    sampler: Literal["pc", "s4", "euler", "euler-langevin"] = "pc"  # see PC_SAMPLERS; s4: GDSS's S4 solver
    steps: int = 0  # 0: the SDEs' num_scales
    snr: float = 0.2
    scale_eps: float = 0.7
    eps: float = 1e-4


@dataclass
class GDSSConfig:
    """The recipe's ``model:`` section for family ``gdss``."""

    kind: Literal["molecule", "graph"] = "molecule"
    max_nodes: int = 0  # 0: the largest training graph
    max_degree: int = 0  # graphs: one-hot degree classes (0: from the training graphs)
    sde_x: SDEConfig = field(default_factory=lambda: SDEConfig("VE", 0.1, 1.0, 1000))
    sde_adj: SDEConfig = field(default_factory=lambda: SDEConfig("VE", 0.1, 1.0, 1000))
    net_x: ScoreNetConfig = field(default_factory=ScoreNetConfig)
    net_adj: ScoreNetConfig = field(default_factory=ScoreNetConfig)
    time_conditioning: bool = True
    eps: float = 1e-5  # smallest training time
    reduce_mean: bool = False  # GDSS: sum the squared error over entries (False) or average
    sampling: SamplingConfig = field(default_factory=SamplingConfig)


class ScoreNetwork(nn.Module):
    """One GDSS score network on the shared backbone: node (X) or pair (A) read-out."""

    def __init__(self, cfg: ScoreNetConfig, node_in: int, readout: Literal["node", "pair"], time_conditioning: bool):
        super().__init__()
        extra = int(time_conditioning)
        self.powers, self.readout, self.time_conditioning = cfg.adj_powers, readout, time_conditioning
        self.backbone = Backbone(
            BackboneConfig(
                node_in=node_in + extra, pair_in=cfg.adj_powers + extra, pair_dim=cfg.pair_dim,
                dim=cfg.dim, depth=cfg.depth, heads=cfg.heads, ffn="mlp", norm="layernorm", mask_mode="full",
            )
        )
        if readout == "node":
            self.head = nn.Sequential(nn.Linear(cfg.dim, cfg.dim), nn.SiLU(), nn.Linear(cfg.dim, node_in))
        else:
            self.head = nn.Sequential(nn.Linear(cfg.pair_dim, cfg.pair_dim), nn.SiLU(), nn.Linear(cfg.pair_dim, 1))

    def forward(self, x, adj, mask, t):
        """x (B,N,F), adj (B,N,N), mask (B,N), t (B,) -> (B,N,F) or (B,N,N), zero on padding."""
        pair = adjacency_powers(adj, self.powers)
        if self.time_conditioning:
            x = torch.cat([x, _expand(t, x).expand(*x.shape[:-1], 1).to(x.dtype)], -1)
            pair = torch.cat([pair, _expand(t, pair).expand(*pair.shape[:-1], 1).to(pair.dtype)], -1)
        out = self.backbone(h=x, node_mask=mask.bool(), pair=pair)
        m = mask.to(x.dtype)
        if self.readout == "node":
            return self.head(out.h) * m.unsqueeze(-1)
        score = self.head(out.pair).squeeze(-1)
        score = 0.5 * (score + score.transpose(-1, -2))
        return score * (1 - torch.eye(score.shape[-1], device=score.device)) * m.unsqueeze(-1) * m.unsqueeze(-2)


def adjacency_powers(adj: torch.Tensor, k: int) -> torch.Tensor:
    """(B, N, N) -> (B, N, N, k): A, A^2, ..., A^k (GDSS ``pow_tensor``)."""
    powers, current = [adj], adj
    for _ in range(k - 1):
        current = current @ adj
        powers.append(current)
    return torch.stack(powers, -1)


@register_family("gdss")
class GDSS(FamilyModel):
    """Two score networks, two SDEs; ``loss`` is GDSS's denoising score matching."""

    Config = GDSSConfig
    record_types = (MolGraph, Graph)
    has_unused_parameters = True  # the X network reads node states only: its last pair update gets no gradient

    def __init__(self, config: GDSSConfig, state: dict | None = None):
        super().__init__(config, state)
        state = dict(state or {})
        if not state.get("node_counts"):
            raise ValueError("gdss model needs a fitted state (node_counts, features); build it with GDSS.fit_state")
        self.state = state
        self.max_nodes = int(state["max_nodes"])
        self.num_features = len(state["atom_types"]) if config.kind == "molecule" else int(state["max_degree"]) + 1
        self.sde_x, self.sde_adj = config.sde_x.build(), config.sde_adj.build()
        self.net_x = ScoreNetwork(config.net_x, self.num_features, "node", config.time_conditioning)
        self.net_adj = ScoreNetwork(config.net_adj, self.num_features, "pair", config.time_conditioning)
        # hashes of the training set's canonical SMILES (novelty offline, from the checkpoint alone):
        # a weights buffer, not card state, so the card stays readable
        hashes = state.pop("train_hashes", None)
        size = len(hashes) if hashes is not None else int(state.get("num_train_hashes", 0))
        self.register_buffer("train_hashes", torch.zeros(size, dtype=torch.int64))
        if hashes is not None:
            self.train_hashes.copy_(torch.tensor(hashes, dtype=torch.int64))

    # -- state -------------------------------------------------------------------------

    @classmethod
    def fit_state(cls, config: GDSSConfig, records) -> dict:
        sizes = [_num_nodes(r) for r in records]
        max_nodes = config.max_nodes or max(sizes)
        counts = np.bincount(sizes, minlength=max_nodes + 1)[: max_nodes + 1]
        state = {"max_nodes": int(max_nodes), "node_counts": counts.tolist()}
        if config.kind == "molecule":
            state["atom_types"] = sorted({int(z) for r in records for z in r.atomic_numbers})
            state["train_hashes"] = training_hashes(records)  # moved into a buffer by __init__
        else:
            state["max_degree"] = int(config.max_degree or max(int(r.adjacency().sum(1).max(initial=0)) for r in records))
        return state

    def card_state(self) -> dict:
        return dict(self.state, num_train_hashes=int(self.train_hashes.numel()))

    def is_novel(self, canonical: str) -> bool:
        h = torch.tensor(smiles_hash(canonical))
        i = torch.searchsorted(self.train_hashes, h)
        return not (i < len(self.train_hashes) and self.train_hashes[i] == h)

    def unknown_types(self, records) -> dict[str, int]:
        if self.config.kind != "molecule":
            return {}
        from collections import Counter

        from unigen.chem.convert import element_symbol

        known = set(self.state["atom_types"])
        counts = Counter(int(z) for r in records for z in r.atomic_numbers if int(z) not in known)
        return {element_symbol(z): n for z, n in sorted(counts.items())}

    # -- data --------------------------------------------------------------------------

    def encode(self, record) -> dict:
        n = _num_nodes(record)
        if n > self.max_nodes:
            raise ValueError(f"graph has {n} nodes; this model handles at most {self.max_nodes}")
        x = torch.zeros(self.max_nodes, self.num_features)
        adj = torch.zeros(self.max_nodes, self.max_nodes)
        if self.config.kind == "molecule":
            if (record.bonds == BOND_AROMATIC).any():
                raise ValueError("gdss needs kekulized molecules (aromatic bond found)")
            index = {z: i for i, z in enumerate(self.state["atom_types"])}
            missing = sorted({int(z) for z in record.atomic_numbers} - set(index))
            if missing:
                raise ValueError(f"atomic numbers {missing} are not in the model's atom types {self.state['atom_types']}")
            x[torch.arange(n), torch.tensor([index[int(z)] for z in record.atomic_numbers], dtype=torch.long)] = 1
            adj[:n, :n] = torch.from_numpy(record.bonds.astype(np.float32))
        else:
            a = torch.from_numpy(record.adjacency())
            degree = a.sum(1).long().clamp(max=self.num_features - 1)
            x[torch.arange(n), degree] = 1
            adj[:n, :n] = a
        mask = torch.zeros(self.max_nodes)
        mask[:n] = 1
        return {"x": x, "adj": adj, "mask": mask}

    def collate(self, examples: list[dict]) -> dict:
        return {key: torch.stack([e[key] for e in examples]) for key in ("x", "adj", "mask")}

    # -- training ----------------------------------------------------------------------

    def scores(self, x, adj, mask, t) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores of X and A. VP-type SDEs predict noise and divide by the std (as GDSS)."""
        return self._score(self.net_x, self.sde_x, x, adj, mask, t), self._score(self.net_adj, self.sde_adj, x, adj, mask, t)

    @staticmethod
    def _score(net, sde, x, adj, mask, t):
        out = net(x, adj, mask, t)
        if isinstance(sde, VESDE):
            return out
        std = sde.marginal_prob(torch.zeros_like(t), t)[1]
        return -out / _expand(std, out)

    def loss(self, batch: dict):
        x0, adj0, mask = batch["x"], batch["adj"], batch["mask"]
        t = torch.rand(len(x0), device=x0.device) * (1.0 - self.config.eps) + self.config.eps
        xt, z_x, std_x = self.sde_x.sample_marginal(x0, t, mask)
        adjt, z_adj, std_adj = self.sde_adj.sample_marginal(adj0, t, mask, symmetric=True)
        score_x, score_adj = self.scores(xt, adjt, mask, t)
        loss_x = self._dsm(score_x, z_x, std_x)
        loss_adj = self._dsm(score_adj, z_adj, std_adj)
        return loss_x + loss_adj, {"loss_x": loss_x.item(), "loss_adj": loss_adj.item()}

    def _dsm(self, score, noise, std):
        """GDSS's per-graph ||score * std + z||^2 (summed or averaged over entries), mean over graphs."""
        err = (score * _expand(std, score) + noise).square().flatten(1)
        return (err.mean(1) if self.config.reduce_mean else err.sum(1)).mean()

    # -- sampling ----------------------------------------------------------------------

    def sample_node_mask(self, n: int, generator=None) -> torch.Tensor:
        """(n, max_nodes) masks whose sizes follow the training distribution of graph sizes."""
        counts = torch.tensor(self.state["node_counts"], dtype=torch.float64)
        sizes = torch.multinomial(counts / counts.sum(), n, replacement=True, generator=generator).cpu()
        return (torch.arange(self.max_nodes).unsqueeze(0) < sizes.unsqueeze(1)).float()

    @torch.no_grad()
    def sample(self, n: int, generator=None, progress=None, **overrides) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Draw n graphs with ``config.sampling`` (fields overridable by keyword).

        Returns raw (x (n,N,F), adj (n,N,N), mask (n,N)); turn them into structures with ``decode``.
        """
        opts = dataclasses.replace(self.config.sampling, **{k: v for k, v in overrides.items() if v is not None})
        sampler, steps, snr, scale_eps, eps = opts.sampler, opts.steps, opts.snr, opts.scale_eps, opts.eps
        device = next(self.parameters()).device
        mask = self.sample_node_mask(n, generator).to(device)
        variables = {
            "x": Variable(self._sampling_sde(self.sde_x, steps), (self.max_nodes, self.num_features)),
            "adj": Variable(self._sampling_sde(self.sde_adj, steps), (self.max_nodes, self.max_nodes), symmetric=True),
        }

        def score_fn(state, t):
            sx, sa = self.scores(state["x"], state["adj"], mask, t.to(state["x"].dtype))
            return {"x": sx, "adj": sa}

        common = dict(node_mask=mask, snr=snr, scale_eps=scale_eps, eps=eps, generator=generator, device=device, progress=progress)
        if sampler == "s4":
            out = sample_s4(score_fn, variables, n, **common)
        else:
            if sampler not in PC_SAMPLERS:
                raise ValueError(f"unknown sampler {sampler!r}; valid: {', '.join(SAMPLERS)}")
            predictor, corrector = PC_SAMPLERS[sampler]
            check_compatible(variables, predictor, corrector)
            out = sample_pc(score_fn, variables, n, predictor=predictor, corrector=corrector, **common)
        return out["x"], out["adj"], mask

    @staticmethod
    def _sampling_sde(sde: SDE, steps: int | None) -> SDE:
        if not steps or steps == sde.N:
            return sde
        clone = type(sde).__new__(type(sde))
        clone.__dict__.update(vars(sde), N=int(steps))
        return clone

    def decode(self, x, adj, mask) -> list:
        """Raw samples -> MolGraph (molecules) or Graph (graphs), as GDSS quantises them."""
        if self.config.kind == "molecule":
            return decode_molecules(x, adj, mask, self.state["atom_types"])
        return decode_graphs(adj, mask)


def decode_molecules(x, adj, mask, atom_types) -> list[MolGraph]:
    """GDSS ``quantize_mol`` + ``construct_mol`` atoms: thresholds 0.5/1.5/2.5, virtual nodes dropped."""
    orders = quantize_bond_orders(adj).numpy()
    binary = (x > 0.5).float() * mask.unsqueeze(-1)
    with_virtual = torch.cat([binary, 1 - binary.sum(-1, keepdim=True)], -1)
    types = with_virtual.argmax(-1).numpy()
    graphs = []
    for k in range(len(types)):
        keep = np.nonzero(types[k] < len(atom_types))[0]
        z = np.asarray(atom_types)[types[k][keep]]
        graphs.append(MolGraph(z, orders[k][np.ix_(keep, keep)]))
    return graphs


def quantize_bond_orders(adj: torch.Tensor) -> torch.Tensor:
    """Continuous adjacency -> bond orders 0..3 with GDSS's thresholds 0.5, 1.5, 2.5."""
    a = adj.detach().cpu()
    return (a >= 0.5).long() + (a >= 1.5).long() + (a >= 2.5).long()


def decode_graphs(adj, mask) -> list[Graph]:
    """A >= 0.5 is an edge (GDSS ``quantize``); isolated nodes are dropped (``adjs_to_graphs``)."""
    binary = ((adj.detach().cpu() >= 0.5) & (mask.unsqueeze(-1) * mask.unsqueeze(-2)).bool().cpu()).numpy()
    graphs = []
    for a in binary:
        a = np.triu(a, 1) | np.triu(a, 1).T
        keep = np.nonzero(a.any(1))[0]
        graphs.append(Graph.from_adjacency(a[np.ix_(keep, keep)]) if len(keep) else Graph(1, np.zeros((2, 0))))
    return graphs


def training_hashes(records) -> list[int]:
    """Sorted unique hashes of the canonical SMILES of the (valid) training molecules."""
    from unigen.chem.convert import graph_to_smiles

    hashes = set()
    for record in records:
        try:
            hashes.add(smiles_hash(graph_to_smiles(record)))
        except ValueError:
            continue
    return sorted(hashes)


def smiles_hash(smiles: str) -> int:
    """A stable signed 64-bit hash of a canonical SMILES."""
    return int.from_bytes(hashlib.blake2b(smiles.encode(), digest_size=8).digest(), "little", signed=True)


def _num_nodes(record) -> int:
    return record.num_atoms if isinstance(record, MolGraph) else record.num_nodes
