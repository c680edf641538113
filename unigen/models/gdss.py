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
Deviation from the paper, on purpose: the networks see the diffusion time t through the
backbone's condition input (``cond (B, 1)``, added to node and pair embeddings;
``time_conditioning``; GDSS's own networks are time-independent).

Property conditioning (``model.conditions: [qed, logp]``, ``unigen.conditioning``): the
properties' ``(B, 2k)`` condition vector joins t in the same input (``cond (B, 1 + 2k)``),
dropped in training with ``condition_dropout``; sampling combines the conditional and the
unconditional scores with classifier-free guidance (``sampling.guidance``).

Representations (``kind``):
    molecule: X = one-hot atom type over ``atom_types`` (no virtual column), A = kekulized bond
        order 0/1/2/3; formal charges are not modelled (GDSS's +1 rule restores N+/O+/S+).
    graph: X = one-hot node degree (GDSS ``init_features('deg')``), A = 0/1.
Decoding as GDSS: A rounded at 0.5 / 1.5 / 2.5; X binarised at 0.5 with a virtual type when
no entry passes (that node is dropped); graphs drop isolated nodes.

Batch fields (B graphs padded to N = max_nodes; names from ``unigen.data.keys``):
    x    (B, N, F) float   adj (B, N, N) float   node_mask (B, N) float (1 = real node)
The raw output of ``sample`` is the same dict; ``decode`` turns it into records.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn

from unigen.backbone import Backbone, BackboneConfig
from unigen.conditioning import (
    check_condition_dropout,
    check_guidance,
    condition_dim,
    draw_sizes,
    guided,
    parse_range,
    size_range,
)
from unigen.data.keys import ADJ, NODE_MASK, X
from unigen.heads import NodeScoreHead, PairScoreHead
from unigen.models.gdss_inference import KERNELS, ChunkedScores, FusedScores, resolve_kernel, supports
from unigen.models.registry import FamilyModel, molecule_vocabulary, register_family, unknown_elements
from unigen.processes.sde import SDE, _expand, build_sde
from unigen.samplers import get_sampler, sampler_names
from unigen.samplers.pc import SDESampling, Variable, num_steps
from unigen.structures import BOND_AROMATIC, Graph, MolGraph

_SCHEDULE_KEYS = {
    "VE": ("sigma_min", "sigma_max"),
    "VP": ("beta_min", "beta_max"),
    "subVP": ("beta_min", "beta_max"),
}


# node pairs per score-network call on CPU (``ChunkedScores``, ``GDSS.chunked_scores``)
CPU_CHUNK_PAIRS = 10_000


def cpu_chunk(max_nodes: int) -> int:
    """Graphs per score-network call on CPU: ~``CPU_CHUNK_PAIRS`` node pairs (128 QM9 graphs), at
    least one. Large graphs go one at a time: a Grid graph (361 nodes) alone is 130k pairs, and
    one graph per call sampled 2.6x faster than 32 (fewer passes over pair states of 100+ MB)."""
    return max(1, CPU_CHUNK_PAIRS // max_nodes**2)


@dataclass
class SDEConfig:
    """One SDE: ``sigma_min``/``sigma_max`` for VE, ``beta_min``/``beta_max`` for VP and sub-VP
    (GDSS's configs write beta_* for both; unigen names each by what it is). Unset: 0.1 and 1.0."""

    kind: Literal["VP", "VE", "subVP"] = "VP"
    beta_min: float | None = None
    beta_max: float | None = None
    sigma_min: float | None = None
    sigma_max: float | None = None
    num_scales: int = 1000

    def __post_init__(self):
        used = _SCHEDULE_KEYS[self.kind]
        stray = [
            k
            for keys in _SCHEDULE_KEYS.values()
            for k in keys
            if k not in used and getattr(self, k) is not None
        ]
        if stray:
            raise ValueError(
                f"{', '.join(sorted(set(stray)))} do not apply to a {self.kind} SDE; it takes {' and '.join(used)}"
            )
        low, high = (
            getattr(self, k) if getattr(self, k) is not None else d for k, d in zip(used, (0.1, 1.0))
        )
        setattr(self, used[0], float(low))
        setattr(self, used[1], float(high))
        if not 0 < low < high:
            raise ValueError(f"{self.kind} SDE needs 0 < {used[0]} < {used[1]}, got {low} and {high}")
        if self.num_scales < 1:
            raise ValueError(f"num_scales must be a positive integer, got {self.num_scales}")

    def build(self) -> SDE:
        low, high = _SCHEDULE_KEYS[self.kind]
        return build_sde(
            self.kind, **{low: getattr(self, low), high: getattr(self, high)}, num_scales=self.num_scales
        )


def upgrade_sde_args(args: dict) -> dict:
    """Cards and recipes written before the sigma_* names: VE's beta_* were its sigmas."""
    if args.get("kind") == "VE" and "sigma_min" not in args and "sigma_max" not in args:
        args = dict(args)
        for old, new in (("beta_min", "sigma_min"), ("beta_max", "sigma_max")):
            if old in args:
                args[new] = args.pop(old)
    return args


@dataclass
class ScoreNetConfig:
    """Width of one score network (a backbone configuration)."""

    dim: int = 32
    depth: int = 2
    heads: int = 4
    pair_dim: int = 16
    adj_powers: int = 2  # GDSS c_init: A, A^2, ..., A^c as pair features

    def __post_init__(self):
        small = [f"{k} = {v}" for k, v in asdict(self).items() if v < 1]
        if small:
            raise ValueError(f"{', '.join(small)}: every score-network size must be >= 1")


@dataclass
class GDSSSampling:
    """GDSS's sampling options (``unigen generate --set sampling.KEY=VALUE``); GDSS's QM9 sampler by default.

    sampler: an SDE sampler of ``unigen.samplers`` (pc, euler, euler-langevin, s4).
    steps: reverse-time steps (0: the SDEs' num_scales). snr: Langevin signal-to-noise ratio (> 0).
    scale_eps: Langevin noise scale (>= 0; 1.0 unbiased, below 1 colder). eps: last time, in (0, 1).
    num_atoms: nodes per graph, ``12`` or ``"15..25"`` (0: the training distribution of sizes); GDSS
        may still drop a node it decodes as no atom type (or, for graphs, an isolated node).
    guidance: classifier-free guidance weight w of a conditioned model (1: plain conditional).
    kernel: how the score networks run when sampling on CPU (benchmarks/RESULTS.md, issue 16):
        ``native``: the C loop of ``unigen.models.gdss_native``, a group of graphs at a time,
        compiled with the system C compiler at first use (an error if it cannot be built, or for
        weights other than float32); ``traced``: the fused torch operators of
        ``unigen.models.gdss_inference`` through ``torch.jit.trace``; ``compile``: those through
        ``torch.compile`` (needs a C++ compiler; ~18 s to compile); ``auto`` (default): ``native``
        where it builds with AVX or AVX-512 vectors and the weights are float32, else ``traced``.
        On the 2-core VM the native kernel evaluates both networks on 1,000 QM9 graphs 2.1x (one
        thread) to 2.4x (two threads) faster than ``traced``. Values agree to float rounding, not bit for bit. GPU and
        property-conditioned sampling use the torch modules (``compile`` applies there too).
    """

    sampler: str = "pc"
    steps: int = 0
    snr: float = 0.2
    scale_eps: float = 0.7
    eps: float = 1e-4
    num_atoms: int | str = 0
    guidance: float = 1.0
    kernel: str = "auto"

    def __post_init__(self):
        if self.sampler not in sampler_names("sde"):
            raise ValueError(f"sampler {self.sampler!r} is not one of {', '.join(sampler_names('sde'))}")
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0 (0: the model's), got {self.steps}")
        if not self.snr > 0:
            raise ValueError(f"snr must be > 0, got {self.snr}")
        if not self.scale_eps >= 0:
            raise ValueError(f"scale_eps must be >= 0, got {self.scale_eps}")
        if not 0 < self.eps < 1:
            raise ValueError(f"eps must lie in (0, 1), got {self.eps}")
        check_guidance(self.guidance)
        if self.kernel not in KERNELS:
            raise ValueError(f"kernel {self.kernel!r} is not one of {', '.join(KERNELS)}")
        if self.num_atoms not in (0, ""):
            parse_range(self.num_atoms, "num_atoms", int)


@dataclass
class GDSSConfig:
    """The recipe's ``model:`` section for family ``gdss``."""

    kind: Literal["molecule", "graph"] = "molecule"
    max_nodes: int = 0  # 0: the largest training graph
    max_degree: int = 0  # graphs: one-hot degree classes (0: from the training graphs)
    sde_x: SDEConfig = field(default_factory=lambda: SDEConfig("VE", sigma_min=0.1, sigma_max=1.0))
    sde_adj: SDEConfig = field(default_factory=lambda: SDEConfig("VE", sigma_min=0.1, sigma_max=1.0))
    net_x: ScoreNetConfig = field(default_factory=ScoreNetConfig)
    net_adj: ScoreNetConfig = field(default_factory=ScoreNetConfig)
    time_conditioning: bool = True
    eps: float = 1e-5  # smallest training time
    reduce_mean: bool = False  # GDSS: sum the squared error over entries (False) or average
    conditions: list[str] = field(default_factory=list)  # properties to condition on (unigen.conditioning)
    condition_dropout: float = 0.1  # p of dropping a row's / a property's condition in training (CFG)
    sampling: GDSSSampling = field(default_factory=GDSSSampling)

    def __post_init__(self):
        check_condition_dropout(self.condition_dropout)


class ScoreNetwork(nn.Module):
    """One GDSS score network: the shared backbone plus a node (X) or pair (A) score head."""

    def __init__(
        self,
        cfg: ScoreNetConfig,
        node_in: int,
        readout: Literal["node", "pair"],
        time_conditioning: bool,
        property_dim: int = 0,
    ):
        super().__init__()
        self.powers, self.time_conditioning = cfg.adj_powers, time_conditioning
        self.property_dim = property_dim
        self.backbone = Backbone(
            BackboneConfig(
                node_in=node_in,
                pair_in=cfg.adj_powers,
                cond_dim=int(time_conditioning) + property_dim,
                pair_dim=cfg.pair_dim,
                dim=cfg.dim,
                depth=cfg.depth,
                heads=cfg.heads,
                ffn="mlp",
                norm="layernorm",
                mask_mode="full",
            )
        )
        self.head = NodeScoreHead(cfg.dim, node_in) if readout == "node" else PairScoreHead(cfg.pair_dim)
        self.readout = readout

    def forward(self, x, adj, node_mask, t, properties=None):
        """x (B,N,F), adj (B,N,N), node_mask (B,N), t (B,), properties (B, property_dim) (the
        condition vector of ``unigen.conditioning``; None: not given) -> (B,N,F) or (B,N,N), zero on
        padding."""
        parts = [t.to(x.dtype).unsqueeze(-1)] if self.time_conditioning else []
        if self.property_dim:  # not given: the all-zero vector, the unconditional model
            parts.append(
                x.new_zeros(len(x), self.property_dim) if properties is None else properties.to(x.dtype)
            )
        cond = torch.cat(parts, -1) if parts else None
        out = self.backbone(
            h=x,
            node_mask=node_mask.bool(),
            pair=adjacency_powers(adj, self.powers),
            cond=cond,
            need_pair=self.readout == "pair",
        )
        return self.head(out.h if self.readout == "node" else out.pair, node_mask)


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
    Sampling = GDSSSampling
    record_types = (MolGraph, Graph)
    has_unused_parameters = (
        True  # the X network reads node states only: its last pair update gets no gradient
    )

    def __init__(self, config: GDSSConfig, state: dict | None = None):
        super().__init__(config, state)
        state = dict(state or {})
        if not state.get("node_counts"):
            raise ValueError(
                "gdss model needs a fitted state (node_counts, features); build it with GDSS.fit_state"
            )
        self.state = state
        self.max_nodes = int(state["max_nodes"])
        self.num_features = (
            len(state["atom_types"]) if config.kind == "molecule" else int(state["max_degree"]) + 1
        )
        self.sde_x, self.sde_adj = config.sde_x.build(), config.sde_adj.build()
        properties = condition_dim(state.get("conditions"))
        self.net_x = ScoreNetwork(
            config.net_x, self.num_features, "node", config.time_conditioning, properties
        )
        self.net_adj = ScoreNetwork(
            config.net_adj, self.num_features, "pair", config.time_conditioning, properties
        )
        self.register_train_hashes(state)

    @property
    def record_type(self) -> type:
        return MolGraph if self.config.kind == "molecule" else Graph

    @classmethod
    def upgrade_model_args(cls, args: dict) -> dict:
        args = dict(args)
        for key in ("sde_x", "sde_adj"):
            if isinstance(args.get(key), dict):
                args[key] = upgrade_sde_args(args[key])
        return args

    @classmethod
    def upgrade_weights(cls, tensors: dict) -> dict:
        """Checkpoints written before the backbone's condition input: t was the last column of the
        node and pair input maps, and the score heads were bare ``nn.Sequential``s."""
        tensors = dict(tensors)
        for net in ("net_x", "net_adj"):
            for old, new in (("node_embed", "cond_embed"), ("pair_embed", "cond_pair_embed")):
                weight, cond_key = f"{net}.backbone.{old}.weight", f"{net}.backbone.{new}.weight"
                if (
                    weight in tensors
                    and cond_key not in tensors
                    and f"{net}.head.mlp.0.weight" not in tensors
                ):
                    tensors[weight], tensors[cond_key] = (
                        tensors[weight][:, :-1].contiguous(),
                        tensors[weight][:, -1:].contiguous(),
                    )
            for key in [
                k for k in tensors if k.startswith(f"{net}.head.") and not k.startswith(f"{net}.head.mlp.")
            ]:
                tensors[f"{net}.head.mlp.{key[len(net) + 6 :]}"] = tensors.pop(key)
        return tensors

    # -- state -------------------------------------------------------------------------

    @classmethod
    def fit_state(cls, config: GDSSConfig, records) -> dict:
        sizes = [_num_nodes(r) for r in records]
        max_nodes = config.max_nodes or max(sizes)
        counts = np.bincount(sizes, minlength=max_nodes + 1)[: max_nodes + 1]
        state = {"max_nodes": int(max_nodes), "node_counts": counts.tolist()}
        if config.kind == "molecule":
            state.update(molecule_vocabulary(records))
        else:
            state["max_degree"] = int(
                config.max_degree or max(int(r.adjacency().sum(1).max(initial=0)) for r in records)
            )
        state.update(cls.condition_state(config, records))
        return state

    def card_state(self) -> dict:
        return dict(self.state, num_train_hashes=int(self.train_hashes.numel()))

    def unknown_types(self, records) -> dict[str, int]:
        if self.config.kind != "molecule":
            return {}
        return unknown_elements(records, self.state["atom_types"])

    def refit_sizes(self, records) -> None:
        """Fine-tuning: the node-count histogram refitted on ``records``; ``max_nodes`` grows to their
        largest graph (the score networks do not depend on the number of nodes)."""
        sizes = [_num_nodes(r) for r in records]
        self.max_nodes = max(self.max_nodes, max(sizes))
        self.state.update(
            max_nodes=self.max_nodes, node_counts=np.bincount(sizes, minlength=self.max_nodes + 1).tolist()
        )

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
                raise ValueError(
                    f"atomic numbers {missing} are not in the model's atom types {self.state['atom_types']}"
                )
            x[
                torch.arange(n),
                torch.tensor([index[int(z)] for z in record.atomic_numbers], dtype=torch.long),
            ] = 1
            adj[:n, :n] = torch.from_numpy(record.bonds.astype(np.float32))
        else:
            a = torch.from_numpy(record.adjacency())
            degree = a.sum(1).long().clamp(max=self.num_features - 1)
            x[torch.arange(n), degree] = 1
            adj[:n, :n] = a
        node_mask = torch.zeros(self.max_nodes)
        node_mask[:n] = 1
        return {X: x, ADJ: adj, NODE_MASK: node_mask, **self.example_condition(record)}

    def collate(self, examples: list[dict]) -> dict:
        batch = {key: torch.stack([e[key] for e in examples]) for key in (X, ADJ, NODE_MASK)}
        return {**batch, **self.collated_condition(examples)}

    # -- training ----------------------------------------------------------------------

    def scores(self, x, adj, node_mask, t, cond=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores of X and A; each SDE says how its network's output is read (``output_to_score``).
        ``cond (B, 2k)``: the property condition of a conditioned model (None: not given)."""
        score_x = self.sde_x.output_to_score(self.net_x(x, adj, node_mask, t, cond), t)
        return score_x, self.sde_adj.output_to_score(self.net_adj(x, adj, node_mask, t, cond), t)

    def chunked_scores(
        self, x, adj, node_mask, t, compiled: bool = False, cond=None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``scores`` over chunks of graphs on CPU. Each graph's score depends on that graph alone, so
        chunking changes no value; chunks of ~``CPU_CHUNK_PAIRS`` pairs (128 QM9 graphs) keep the
        pair states in the per-core cache (faster than one batch of 1,000; benchmarks/RESULTS.md).
        ``compiled``: through ``torch.compile``, every chunk padded to one shape (one compilation)."""
        scores = self._compiled_scores() if compiled else self.scores
        size = cpu_chunk(self.max_nodes)
        inputs = (x, adj, node_mask, t) if cond is None else (x, adj, node_mask, t, cond)
        if x.device.type != "cpu" or (len(x) <= size and not compiled):
            return scores(*inputs)
        parts = []
        for i in range(0, len(x), size):
            chunk = [v[i : i + size] for v in inputs]
            real = len(chunk[0])
            if compiled and real < size:  # copies of the first graph fill the chunk
                chunk = [torch.cat([v, v[:1].expand(size - real, *v.shape[1:])]) for v in chunk]
            parts.append([out[:real] for out in scores(*chunk)])
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    def _compiled_scores(self):
        if getattr(self, "_compiled", None) is None:
            self._compiled = torch.compile(self.scores, dynamic=False)
        return self._compiled

    def loss(self, batch: dict):
        x0, adj0, mask = batch[X], batch[ADJ], batch[NODE_MASK]
        t = torch.rand(len(x0), device=x0.device) * (1.0 - self.config.eps) + self.config.eps
        xt, z_x, std_x = self.sde_x.sample_marginal(x0, t, mask)
        adjt, z_adj, std_adj = self.sde_adj.sample_marginal(adj0, t, mask, symmetric=True)
        score_x, score_adj = self.scores(xt, adjt, mask, t, self.training_condition(batch, x0.dtype))
        loss_x = self._dsm(score_x, z_x, std_x)
        loss_adj = self._dsm(score_adj, z_adj, std_adj)
        return loss_x + loss_adj, {"loss_x": loss_x.item(), "loss_adj": loss_adj.item()}

    def _dsm(self, score, noise, std):
        """GDSS's per-graph ||score * std + z||^2 (summed or averaged over entries), mean over graphs."""
        err = (score * _expand(std, score) + noise).square().flatten(1)
        return (err.mean(1) if self.config.reduce_mean else err.sum(1)).mean()

    # -- sampling ----------------------------------------------------------------------

    def sample_node_mask(self, n: int, generator=None, num_atoms=0) -> torch.Tensor:
        """(n, max_nodes) masks whose sizes follow the training distribution of graph sizes
        (restricted to ``num_atoms``, a size or a ``"low..high"`` range, when given)."""
        low, high = size_range(num_atoms, self.max_nodes) or (0, self.max_nodes)
        sizes = draw_sizes(self.state["node_counts"], low, high, n, generator)
        return (torch.arange(self.max_nodes).unsqueeze(0) < sizes.unsqueeze(1)).float()

    def _variables(self) -> dict[str, Variable]:
        return {
            X: Variable(self.sde_x, (self.max_nodes, self.num_features)),
            ADJ: Variable(self.sde_adj, (self.max_nodes, self.max_nodes), symmetric=True),
        }

    def num_sampling_steps(self, options: GDSSSampling) -> int:
        return num_steps(self._variables(), options.steps)

    @torch.no_grad()
    def sample(self, n: int, *, generator, options: GDSSSampling, conditions=None, progress=None) -> dict:
        """n graphs: sizes from the training distribution, then the reverse SDE system from its prior.

        Returns raw ``{x (n,N,F), adj (n,N,N), node_mask (n,N)}``; ``decode`` makes records of it.
        """
        device = next(self.parameters()).device
        cond = self.sampling_condition(n, conditions, generator, device)
        node_mask = self.sample_node_mask(n, generator, options.num_atoms).to(device)

        run = SDESampling(
            options.steps or None,
            options.snr,
            options.scale_eps,
            options.eps,
            node_mask=node_mask,
            generator=generator,
            device=device,
            progress=progress,
        )
        sampler = get_sampler(options.sampler, "sde")
        with self._scores_for(node_mask, options, cond) as scores:

            def score_fn(state, t):
                score_x, score_adj = scores(state[X], state[ADJ], t.to(state[X].dtype))
                return {X: score_x, ADJ: score_adj}

            out = sampler(score_fn, self._variables(), n, run)
        return {X: out[X], ADJ: out[ADJ], NODE_MASK: node_mask}

    def _scores_for(self, node_mask, options: GDSSSampling, cond=None):
        """A context holding the sampling score function ``(x, adj, t) -> (score_x, score_adj)`` for
        graphs with ``node_mask``. CPU (inference): :class:`ChunkedScores` on ``options.kernel``,
        weights folded and masks prepared once for the run, chunks over ``torch.get_num_threads()``
        threads. Elsewhere, and for a property-conditioned model (``cond (n, 2k)``, classifier-free guidance with
        ``options.guidance``): ``chunked_scores``."""
        compiled = options.kernel == "compile"
        if cond is None and node_mask.device.type == "cpu" and not self.training and supports(self):
            chunk, threads = cpu_chunk(self.max_nodes), torch.get_num_threads()
            kernel = resolve_kernel(options.kernel, next(self.parameters()).dtype)
            return ChunkedScores(self._fused(), node_mask, chunk, threads, kernel)

        def scores(x, adj, t):
            return guided(
                lambda c: self.chunked_scores(x, adj, node_mask, t, compiled=compiled, cond=c),
                cond,
                options.guidance,
            )

        return contextlib.nullcontext(scores)

    def _fused(self) -> FusedScores:
        """The :class:`FusedScores` of the current weights, kept across ``sample`` calls (so its
        compiled form compiles once), rebuilt when any parameter changed."""
        key = tuple((p.data_ptr(), p._version) for p in self.parameters())
        if getattr(self, "_fused_key", None) != key:
            self._fused_scores, self._fused_key = FusedScores(self), key
        return self._fused_scores

    def decode(self, raw: dict) -> list:
        """Raw samples -> MolGraph (molecules) or Graph (graphs), as GDSS quantises them."""
        x, adj, node_mask = (raw[k].cpu() for k in (X, ADJ, NODE_MASK))
        if self.config.kind == "molecule":
            return decode_molecules(x, adj, node_mask, self.state["atom_types"])
        return decode_graphs(adj, node_mask)


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
        graphs.append(
            Graph.from_adjacency(a[np.ix_(keep, keep)]) if len(keep) else Graph(1, np.zeros((2, 0)))
        )
    return graphs


def _num_nodes(record) -> int:
    return record.num_atoms if isinstance(record, MolGraph) else record.num_nodes
