"""The EGNN-style equivariant vector head (coordinate read-out for 3D families)."""

from __future__ import annotations

from torch import Tensor, nn

from unigen.backbone import BackboneConfig, BackboneOutput
from unigen.backbone.scatter import scatter_sum


class VectorHead(nn.Module):
    """EGNN-style equivariant vectors: ``v_i = sum_j phi(x_i, x_j, e_ij, rbf_ij) * u_ij``.

    ``u_ij`` is the (image-summed) direction ``w r_ij / (|r_ij| + 1)`` from
    :mod:`unigen.backbone.geometry`; ``phi`` is an invariant scalar, so ``v`` rotates and
    reflects with the input and ignores translations. The sum runs over visible pairs only.
    """

    def __init__(self, dim: int, pair_dim: int, num_rbf: int, scatter_backend: str = "auto"):
        super().__init__()
        self.scatter_backend = scatter_backend
        self.lin_i = nn.Linear(dim, dim)
        self.lin_j = nn.Linear(dim, dim, bias=False)
        self.lin_rbf = nn.Linear(num_rbf, dim, bias=False)
        self.lin_e = nn.Linear(pair_dim, dim, bias=False) if pair_dim else None
        self.phi = nn.Sequential(nn.SiLU(), nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, 1))

    @classmethod
    def for_backbone(cls, config: BackboneConfig) -> VectorHead:
        """A head sized for a backbone configured with ``geometry`` other than ``none``."""
        if config.geometry == "none":
            raise ValueError("a vector head needs backbone geometry 'distance' or 'periodic'")
        return cls(config.dim, config.pair_dim, config.num_rbf, config.scatter_backend)

    def forward(self, out: BackboneOutput) -> Tensor:
        """Equivariant vectors ``(B, N, 3)`` (dense) or ``(N, 3)`` (sparse) from a backbone output."""
        ctx = out.context
        if ctx is None or ctx.rbf is None:
            raise ValueError(
                "the vector head needs a backbone output with geometry (pos given, geometry != 'none')"
            )
        if ctx.edge_index is None:
            return self.dense(out.h, out.pair, ctx.rbf, ctx.direction, ctx.visible)
        pair = None if out.pair is None else out.pair.index_select(0, ctx.attend)
        return self.sparse(out.h, pair, ctx.rbf, ctx.direction, ctx.edge_index)

    def weights(self, x_i: Tensor, x_j: Tensor, rbf: Tensor, e: Tensor | None) -> Tensor:
        """Invariant per-pair scalars ``(...,)`` from aligned node terms, rbf and pair state."""
        h = self.lin_i(x_i) + self.lin_j(x_j) + self.lin_rbf(rbf)
        if self.lin_e is not None and e is not None:
            h = h + self.lin_e(e)
        return self.phi(h).squeeze(-1)

    def dense(self, x: Tensor, e: Tensor | None, rbf: Tensor, direction: Tensor, visible: Tensor) -> Tensor:
        """``x (B, N, d)``, ``e (B, N, N, p)``, ``rbf (B, N, N, R)``, ``direction (B, N, N, 3)``, ``visible (B, N, N)`` -> ``(B, N, 3)``."""
        w = self.weights(x.unsqueeze(2), x.unsqueeze(1), rbf, e) * visible.to(x.dtype)
        return (w.unsqueeze(-1) * direction).sum(2)

    def sparse(
        self, x: Tensor, e: Tensor | None, rbf: Tensor, direction: Tensor, edge_index: Tensor
    ) -> Tensor:
        """Edge-list version: ``x (N, d)``, ``e (E, p)``, ``rbf (E, R)``, ``direction (E, 3)`` -> ``(N, 3)``."""
        src, dst = edge_index
        w = self.weights(x.index_select(0, dst), x.index_select(0, src), rbf, e)
        return scatter_sum(w.unsqueeze(-1) * direction, dst, x.shape[0], self.scatter_backend)
