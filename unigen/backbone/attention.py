"""Multi-head attention with an additive per-head bias, on a dense batch or an edge list.

Dense: ``scaled_dot_product_attention`` over ``(B, H, T, Tk)`` with a boolean visibility mask
(memory-efficient kernels on GPU; the fused causal / flash kernel when the mask is a plain
lower triangle). Sparse: per-edge scores, scatter softmax over each
target's incoming edges, scatter sum of the messages. A query that sees no key gets a zero
message on both paths, so both agree on the same graph.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unigen.backbone.kv_cache import KVCache
from unigen.backbone.rotary import Rotary
from unigen.backbone.scatter import scatter_softmax, scatter_sum


class Attention(nn.Module):
    """``heads``-head attention over ``dim`` features; rotary angles and a pair bias optional."""

    def __init__(
        self, dim: int, heads: int, bias: bool = False, dropout: float = 0.0, scatter_backend: str = "auto"
    ):
        super().__init__()
        self.heads, self.head_dim, self.dropout = heads, dim // heads, dropout
        self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        self.out = nn.Linear(dim, dim, bias=bias)
        self.scatter_backend = scatter_backend

    def _project(self, x: Tensor, angles: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """``x (..., T, d)`` -> q, k, v ``(..., T, H, hd)`` with q and k rotated."""
        q, k, v = self.qkv(x).unflatten(-1, (3, self.heads, self.head_dim)).unbind(-3)
        if angles is not None:
            q, k = Rotary.rotate(q, angles.unsqueeze(-2)), Rotary.rotate(k, angles.unsqueeze(-2))
        return q, k, v

    def dense(
        self,
        x: Tensor,
        visible: Tensor,
        bias: Tensor | None = None,
        angles: Tensor | None = None,
        cache: KVCache | None = None,
        layer: int = 0,
        is_causal: bool = False,
    ) -> Tensor:
        """Dense attention.

        Shapes: ``x (B, T, d)``; ``visible (B, T, Tk)`` bool (``Tk = T`` plus cached keys);
        ``bias (B, H, T, Tk)``; ``angles (B, T, hd/2)``. ``is_causal`` promises that
        ``visible`` is the plain lower triangle (no padding, no cache, no bias), which lets
        SDPA use its fused causal kernel. Returns ``(B, T, d)``.
        """
        q, k, v = (t.transpose(1, 2) for t in self._project(x, angles))
        if cache is not None:
            k, v = cache.extend(layer, k, v)
        p = self.dropout if self.training else 0.0
        if is_causal:
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
            return self.out(out.transpose(1, 2).flatten(-2))
        empty = ~visible.any(-1, keepdim=True)  # rows with nothing to read: zero message
        mask = (visible | empty).unsqueeze(1)
        if bias is not None:
            mask = bias.masked_fill(~mask, float("-inf"))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        out = out.transpose(1, 2).flatten(-2).masked_fill(empty, 0.0)
        return self.out(out)

    def dense_cf(self, x: Tensor, visible: Tensor, bias: Tensor) -> Tensor:
        """Dense attention for many small graphs (inference, no dropout, no rotary, no cache).

        Shapes: ``x (B, T, d)``; ``visible (B, T, T)`` bool; ``bias (H, B, T, T)`` indexed
        ``[h, b, query, key]`` (channels first). The same result as :meth:`dense`; the scores are
        held as ``(key, H, B, query)``, so the head-size products, the softmax over keys and the
        weighted sum of values run as a few passes over contiguous slabs instead of ``B * H``
        tiny matrix products. Returns ``(B, T, d)``.
        """
        b, t, _ = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, self.head_dim).permute(2, 4, 3, 0, 1).contiguous()
        q = q * self.head_dim**-0.5  # each (hd, H, B, T)
        keys, values = k.permute(0, 3, 1, 2).unsqueeze(-1), v.permute(0, 3, 1, 2).unsqueeze(-1)
        score = bias.permute(3, 0, 1, 2).contiguous()  # (key, H, B, query)
        for d in range(self.head_dim):
            score.addcmul_(q[d], keys[d])
        empty = ~visible.any(-1)  # (B, T) queries with nothing to read: zero message
        hidden = ~(visible | empty.unsqueeze(-1))
        score.masked_fill_(hidden.permute(2, 0, 1).unsqueeze(1), float("-inf"))
        prob = score.softmax(0)
        out = torch.stack([(prob * values[d]).sum(0) for d in range(self.head_dim)])  # (hd, H, B, T)
        out = out.masked_fill_(empty, 0.0).permute(2, 3, 1, 0).reshape(b, t, -1)
        return self.out(out)

    def sparse(
        self, x: Tensor, edge_index: Tensor, bias: Tensor | None = None, angles: Tensor | None = None
    ) -> Tensor:
        """Attention of each node over its incoming edges.

        Shapes: ``x (N, d)``; ``edge_index (2, E)`` rows (source j, target i): i reads j;
        ``bias (E, H)``; ``angles (N, hd/2)``. Returns ``(N, d)``.
        """
        n = x.shape[0]
        q, k, v = self._project(x, angles)
        src, dst = edge_index
        score = (q.index_select(0, dst) * k.index_select(0, src)).sum(-1) / math.sqrt(self.head_dim)
        if bias is not None:
            score = score + bias
        alpha = scatter_softmax(score, dst, n, self.scatter_backend)
        alpha = F.dropout(alpha, self.dropout, self.training)
        msg = scatter_sum(alpha.unsqueeze(-1) * v.index_select(0, src), dst, n, self.scatter_backend)
        return self.out(msg.flatten(-2))
