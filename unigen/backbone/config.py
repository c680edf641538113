"""``BackboneConfig``: every option of the shared backbone, one field each.

A recipe's ``backbone:`` section maps 1:1 onto these fields. Invalid values and
incompatible combinations fail at construction with a :class:`unigen.errors.UsageError`
that lists the valid values.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal, get_args

from unigen.errors import UsageError

NormKind = Literal["rmsnorm", "layernorm"]
FFNKind = Literal["swiglu", "mlp"]
MaskModeKind = Literal["full", "causal", "block_causal"]
RotaryKind = Literal["none", "1d", "3d"]
GeometryKind = Literal["none", "distance", "periodic"]
ScatterBackendKind = Literal["auto", "torch", "torch_scatter"]


@dataclass
class BackboneConfig:
    """Options of :class:`unigen.backbone.Backbone`.

    Inputs:
        vocab_size: token vocabulary (0: no token input).
        node_in: width of input node features ``h (B, N, node_in)`` (0: none). Token and feature
            embeddings are summed, plus any ready-made ``embeddings (B, N, dim)`` passed to
            ``forward`` (a family's own embedder; with both sizes 0 it is the only input).
        pair_in: width of input pair features ``pair (B, N, N, pair_in)`` / ``edge_attr (E, pair_in)``.
        cond_dim: width of a per-sample condition ``cond (B, cond_dim)`` (diffusion time or its
            embedding, properties); a linear map adds it to every node's input embedding and, with a
            pair state, to every pair's (0: no condition input). The one conditioning mechanism.
    Trunk:
        dim, depth, heads: node width, number of blocks, attention heads (``dim % heads == 0``).
        ffn: ``swiglu`` (Llama / Uni-3DAR) or ``mlp`` (GELU); ffn_hidden: 0 means ``4 * dim``.
        norm: ``rmsnorm`` or ``layernorm`` (pre-norm everywhere).
        bias: biases in the attention and FFN projections.
        attn_dropout, drop_path: attention-probability dropout; largest stochastic-depth rate
            (rising linearly from 0 in the first block).
        recycle: apply the block stack this many times with shared weights (Uni-3DAR).
        zero_init_residual: zero the attention output and FFN output projections (Uni-3DAR).
    Masks:
        mask_mode: ``full`` (GDSS), ``causal`` (Uni-3DAR, UniGenX) or ``block_causal`` (PARD).
    Pairs:
        pair_dim: width of the pair state (0: no pair state, no pair output).
        ppgn: add PARD's PPGN higher-order pair update in every block (dense path only).
    Geometry:
        geometry: ``none``, ``distance`` (molecules: RBF of |x_i - x_j|) or ``periodic``
            (crystals: RBF summed over periodic images within ``cutoff``).
        num_rbf, cutoff: radial basis size and range (Angstrom); also the periodic cutoff.
        rotary: ``none``, ``1d`` (token index or ``positions``) or ``3d`` (``pos``, Uni-3DAR).
        rotary_theta, rotary_resolution: RoPE base; positions are divided by the resolution
            (Uni-3DAR: 0.01 Angstrom).
    Kernels:
        scatter_backend: ``auto``, ``torch`` or ``torch_scatter`` for the sparse path.
    """

    vocab_size: int = 0
    node_in: int = 0
    pair_in: int = 0
    cond_dim: int = 0
    dim: int = 128
    depth: int = 4
    heads: int = 4
    ffn: FFNKind = "swiglu"
    ffn_hidden: int = 0
    norm: NormKind = "rmsnorm"
    bias: bool = False
    attn_dropout: float = 0.0
    drop_path: float = 0.0
    recycle: int = 1
    zero_init_residual: bool = False
    mask_mode: MaskModeKind = "full"
    pair_dim: int = 0
    ppgn: bool = False
    geometry: GeometryKind = "none"
    num_rbf: int = 16
    cutoff: float = 5.0
    rotary: RotaryKind = "none"
    rotary_theta: float = 10000.0
    rotary_resolution: float = 1.0
    scatter_backend: ScatterBackendKind = "auto"

    def __post_init__(self):
        self._check_literals()
        self._check_sizes()
        self._check_combinations()

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    @property
    def hidden(self) -> int:
        """FFN hidden width."""
        return self.ffn_hidden or 4 * self.dim

    def _check_literals(self) -> None:
        for f in fields(self):
            valid = get_args(f.type) if not isinstance(f.type, str) else get_args(globals().get(f.type, None))
            if valid and getattr(self, f.name) not in valid:
                raise UsageError(
                    f"backbone.{f.name}: {getattr(self, f.name)!r} is not one of {', '.join(valid)}"
                )

    def _check_sizes(self) -> None:
        for name in ("dim", "depth", "heads", "recycle", "num_rbf"):
            if getattr(self, name) < 1:
                raise UsageError(f"backbone.{name} must be a positive integer, got {getattr(self, name)}")
        for name in ("vocab_size", "node_in", "pair_in", "cond_dim", "pair_dim", "ffn_hidden"):
            if getattr(self, name) < 0:
                raise UsageError(f"backbone.{name} must be >= 0, got {getattr(self, name)}")
        if self.dim % self.heads:
            raise UsageError(f"backbone.dim ({self.dim}) must be divisible by backbone.heads ({self.heads})")
        if not (0.0 <= self.attn_dropout < 1.0 and 0.0 <= self.drop_path < 1.0):
            raise UsageError("backbone.attn_dropout and backbone.drop_path must lie in [0, 1)")

    def _check_combinations(self) -> None:
        if self.pair_in and not self.pair_dim:
            raise UsageError("backbone.pair_in > 0 needs a pair state: set backbone.pair_dim > 0")
        if self.ppgn and not self.pair_dim:
            raise UsageError("backbone.ppgn needs a pair state: set backbone.pair_dim > 0")
        if self.rotary != "none":
            axes = 3 if self.rotary == "3d" else 1
            if self.head_dim % 2 or self.head_dim // 2 < axes:
                raise UsageError(
                    f"backbone.rotary {self.rotary!r} needs an even head size >= {2 * axes}, got {self.head_dim}"
                )
