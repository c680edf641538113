"""Small building blocks: norms, feed-forward networks, drop-path, the EGNN-style vector head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unigen.backbone.scatter import scatter_sum


def make_norm(kind: str, dim: int) -> nn.Module:
    """``rmsnorm`` (eps 1e-6, Llama) or ``layernorm``."""
    return nn.RMSNorm(dim, eps=1e-6) if kind == "rmsnorm" else nn.LayerNorm(dim)


class SwiGLU(nn.Module):
    """``w2(SiLU(w1 x) * w3 x)``."""

    def __init__(self, dim: int, hidden: int, bias: bool = False):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=bias)
        self.w3 = nn.Linear(dim, hidden, bias=bias)
        self.w2 = nn.Linear(hidden, dim, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class MLP(nn.Module):
    """``w2(GELU(w1 x))``."""

    def __init__(self, dim: int, hidden: int, bias: bool = True):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=bias)
        self.w2 = nn.Linear(hidden, dim, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.w2(F.gelu(self.w1(x)))


def drop_path(x: Tensor, rate: float, training: bool, sample: Tensor | None = None) -> Tensor:
    """Stochastic depth: zero whole samples of a residual branch with probability ``rate``.

    ``x (B, ...)`` drops along dim 0; for a flat sparse batch ``x (N, ...)`` pass
    ``sample (N,)``, the graph of each node, so whole graphs drop together.
    """
    if not training or rate == 0.0:
        return x
    groups = x.shape[0] if sample is None else int(sample.max()) + 1
    keep = torch.rand(groups, device=x.device) >= rate
    keep = keep if sample is None else keep[sample]
    scale = keep.to(x.dtype).view(-1, *([1] * (x.dim() - 1))) / (1.0 - rate)
    return x * scale


class VectorHead(nn.Module):
    """EGNN-style equivariant vectors: ``v_i = sum_j phi(x_i, x_j, e_ij, rbf_ij) * u_ij``.

    ``u_ij`` is the (image-summed) direction ``w r_ij / (|r_ij| + 1)`` from
    :mod:`unigen.backbone.geometry`; ``phi`` is an invariant scalar, so ``v`` rotates and
    reflects with the input and ignores translations. The sum runs over visible pairs only.
    """

    def __init__(self, dim: int, pair_dim: int, num_rbf: int):
        super().__init__()
        self.lin_i = nn.Linear(dim, dim)
        self.lin_j = nn.Linear(dim, dim, bias=False)
        self.lin_rbf = nn.Linear(num_rbf, dim, bias=False)
        self.lin_e = nn.Linear(pair_dim, dim, bias=False) if pair_dim else None
        self.phi = nn.Sequential(nn.SiLU(), nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, 1))

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

    def sparse(self, x: Tensor, e: Tensor | None, rbf: Tensor, direction: Tensor, edge_index: Tensor, backend: str) -> Tensor:
        """Edge-list version: ``x (N, d)``, ``e (E, p)``, ``rbf (E, R)``, ``direction (E, 3)`` -> ``(N, 3)``."""
        src, dst = edge_index
        w = self.weights(x.index_select(0, dst), x.index_select(0, src), rbf, e)
        return scatter_sum(w.unsqueeze(-1) * direction, dst, x.shape[0], backend)
