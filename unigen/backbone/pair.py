"""Pair-state updates: node-to-pair messages and the PPGN higher-order product (PARD).

Pair states are dense ``(B, N, N, p)`` or per edge ``(E, p)``. :class:`PairUpdate` works on
both (node terms are broadcast or gathered by the caller); :class:`PPGNUpdate` is dense only.
``forward_cf`` is the same update on channels-first states ``(p, B, N, N)`` (the dense
inference path, ``unigen.backbone.transformer``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unigen.backbone.layers import linear_cf, norm_linear_cf


class PairUpdate(nn.Module):
    """``delta_ij = W_o SiLU(W_e LN(e_ij) + W_a x_i + W_b x_j)``; ``x`` are normed node states."""

    def __init__(self, dim: int, pair_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(pair_dim)
        self.lin_e = nn.Linear(pair_dim, pair_dim)
        self.lin_a = nn.Linear(dim, pair_dim, bias=False)
        self.lin_b = nn.Linear(dim, pair_dim, bias=False)
        self.out = nn.Linear(pair_dim, pair_dim)

    def node_terms(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x (..., N, d)`` -> the query-side and key-side terms ``(..., N, p)`` each."""
        return self.lin_a(x), self.lin_b(x)

    def forward(self, e: Tensor, a_i: Tensor, b_j: Tensor) -> Tensor:
        """``e (..., p)`` plus node terms already aligned to it -> update ``(..., p)``."""
        return self.out(F.silu(self.lin_e(self.norm(e)) + a_i + b_j))

    def forward_cf(self, e: Tensor, a_i: Tensor, b_j: Tensor) -> Tensor:
        """Channels first: ``e (p, ...)`` plus node terms aligned to it -> ``e`` + update ``(p, ...)``."""
        h = norm_linear_cf(self.norm, self.lin_e, e)
        h += a_i
        h += b_j
        return linear_cf(self.out, F.silu(h, inplace=True), residual=e)


class PairFFN(nn.Module):
    """``delta = MLP(LN(e))`` with hidden width ``2 p`` and SiLU."""

    def __init__(self, pair_dim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(pair_dim),
            nn.Linear(pair_dim, 2 * pair_dim),
            nn.SiLU(),
            nn.Linear(2 * pair_dim, pair_dim),
        )

    def forward(self, e: Tensor) -> Tensor:
        return self.net(e)

    def forward_cf(self, e: Tensor) -> Tensor:
        """Channels first: ``e (p, ...)`` -> ``e`` + update ``(p, ...)``."""
        norm, lin_in, _, lin_out = self.net
        return linear_cf(lin_out, F.silu(norm_linear_cf(norm, lin_in, e), inplace=True), residual=e)


def restricted_product(u: Tensor, v: Tensor, reach: Tensor | None) -> Tensor:
    """Channel-wise ``M_ij = sum_k U_ik V_kj [C(i,k) or C(j,k)]``.

    Shapes: ``u, v (B, c, N, N)``; ``reach (B, N, N)`` bool, ``C(i, k)`` = "i may read k",
    or None for no restriction. PARD's inclusion-exclusion ``(U*C) V + U (V*C^T) - (U*C)(V*C^T)``
    with its last two terms merged, ``(U*C) V + (U - U*C)(V*C^T)``: two matmuls (unrestricted: one).
    """
    if reach is None:
        return u @ v
    c = reach.unsqueeze(1).to(u.dtype)
    uc = u * c
    return uc @ v + (u - uc) @ (v * c.transpose(-1, -2))


class PPGNUpdate(nn.Module):
    """PPGN pair update (PARD section 4.3): ``delta = W_o mean_k U_ik V_kj`` over the reachable ``k``.

    ``U = SiLU(MLP([LN(e); LN(e)^T]))`` and ``V = SiLU(MLP(LN(e)))``. The mean over the
    reachable ``k`` keeps the scale independent of ``N`` without counting future nodes.
    """

    def __init__(self, pair_dim: int):
        super().__init__()
        p = pair_dim
        self.norm = nn.LayerNorm(p)
        self.mlp_u = nn.Sequential(nn.Linear(2 * p, p), nn.SiLU(), nn.Linear(p, p))
        self.mlp_v = nn.Sequential(nn.Linear(p, p), nn.SiLU(), nn.Linear(p, p))
        self.out = nn.Linear(p, p)

    def forward(self, e: Tensor, pair_valid: Tensor, reach: Tensor | None) -> Tensor:
        """``e (B, N, N, p)``, ``pair_valid (B, N, N)`` bool, ``reach (B, N, N)`` bool or None -> ``(B, N, N, p)``."""
        en = self.norm(e)
        keep = pair_valid.unsqueeze(-1).to(e.dtype)
        u = F.silu(self.mlp_u(torch.cat([en, en.transpose(1, 2)], -1))) * keep
        v = F.silu(self.mlp_v(en)) * keep
        m = restricted_product(u.permute(0, 3, 1, 2), v.permute(0, 3, 1, 2), reach)
        ones = keep.permute(0, 3, 1, 2)
        count = restricted_product(ones, ones, reach).clamp(min=1.0)
        return self.out((m / count).permute(0, 2, 3, 1))
