"""Token head: logits over a vocabulary, with room for new rows when the vocabulary grows."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class TokenHead(nn.Module):
    """``h (..., d)`` -> logits ``(..., V)`` (one linear map)."""

    def __init__(self, dim: int, vocab_size: int):
        super().__init__()
        self.proj = nn.Linear(dim, vocab_size)

    @property
    def vocab_size(self) -> int:
        return self.proj.out_features

    def forward(self, h: Tensor) -> Tensor:
        return self.proj(h)

    def grow(self, extra: int) -> None:
        """Append ``extra`` output rows (fine-tuning on new types): zero weights and the smallest old
        bias, so the old logits are unchanged and the new types start unlikely."""
        old = self.proj
        new = nn.Linear(old.in_features, old.out_features + extra).to(old.weight.device)
        with torch.no_grad():
            new.weight[: old.out_features], new.bias[: old.out_features] = old.weight, old.bias
            new.weight[old.out_features :] = 0.0
            new.bias[old.out_features :] = old.bias.min()
        self.proj = new


class TaskHead(nn.Module):
    """Uni-3DAR's classifier ``h (..., d)`` -> logits ``(..., C)``: dropout, Linear(d, d) without bias,
    GELU, Linear(d, C) without bias and zero-initialised (every class equally likely at the start)."""

    def __init__(self, dim: int, num_classes: int, dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(dim, dim, bias=False),
            nn.GELU(),
            nn.Linear(dim, num_classes, bias=False),
        )
        nn.init.zeros_(self.net[-1].weight)

    def forward(self, h: Tensor) -> Tensor:
        return self.net(h)
