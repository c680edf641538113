"""Score heads: node scores and symmetric pair (adjacency) scores, as GDSS reads them out."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class NodeScoreHead(nn.Module):
    """``h (B, N, d)``, ``node_mask (B, N)`` -> ``(B, N, out)`` with a two-layer SiLU MLP, zero on padding."""

    def __init__(self, dim: int, out: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, out))

    def forward(self, h: Tensor, node_mask: Tensor) -> Tensor:
        return self.mlp(h) * node_mask.to(h.dtype).unsqueeze(-1)


class PairScoreHead(nn.Module):
    """``pair (B, N, N, p)``, ``node_mask (B, N)`` -> ``(B, N, N)``: symmetrised, zero diagonal and
    zero on pairs with a padded node, so the score of an undirected adjacency stays one."""

    def __init__(self, pair_dim: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(pair_dim, pair_dim), nn.SiLU(), nn.Linear(pair_dim, 1))

    def forward(self, pair: Tensor, node_mask: Tensor) -> Tensor:
        score = self.mlp(pair).squeeze(-1)
        score = 0.5 * (score + score.transpose(-1, -2))
        m = node_mask.to(score.dtype)
        off_diagonal = 1 - torch.eye(score.shape[-1], device=score.device, dtype=score.dtype)
        return score * off_diagonal * m.unsqueeze(-1) * m.unsqueeze(-2)
