"""Key/value cache for incremental (causal or block-causal) decoding."""

from __future__ import annotations

import torch
from torch import Tensor

from unigen.backbone.masks import TokenMeta


class KVCache:
    """Rotated keys and values of every attention layer, plus the meta of the cached tokens.

    Fields:
        keys[layer], values[layer]: ``(B, H, T, head_dim)``; ``layer`` counts recycled passes
            separately (``pass * depth + block``), so each pass has its own cache.
        meta: :class:`TokenMeta` of the ``T`` cached tokens, or None when empty.

    Usage: create an empty cache, call ``backbone(tokens=prefix, cache=cache)`` once, then
    ``backbone(tokens=next_tokens, cache=cache)`` per step; each call returns outputs for the
    new tokens only and appends their keys and values.
    """

    def __init__(self):
        self.keys: dict[int, Tensor] = {}
        self.values: dict[int, Tensor] = {}
        self.meta: TokenMeta | None = None

    def __len__(self) -> int:
        return 0 if self.meta is None else self.meta.index.shape[1]

    def extend(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append new ``k, v (B, H, T_new, hd)`` of ``layer``; return all keys and values."""
        if layer in self.keys:
            k = torch.cat([self.keys[layer], k], dim=2)
            v = torch.cat([self.values[layer], v], dim=2)
        self.keys[layer], self.values[layer] = k, v
        return k, v

    def key_meta(self, new: TokenMeta) -> TokenMeta:
        """Meta of every key the new queries see: cached tokens followed by ``new``."""
        return new if self.meta is None else self.meta.cat(new)
