"""Rotary position embeddings over 1 or 3 axes (Llama 1-D RoPE; Uni-3DAR 3-D RoPE).

Mapping (``../shared/reference/unigenx_uni3dar_spec.md`` B2): a head of size ``hd`` has
``hd/2`` rotation pairs; each of the ``n_axes`` axes gets ``m = (hd/2) // n_axes`` pairs with
frequencies ``theta ** (-k/m)``, ``k = 0..m-1``; the ``(hd/2) mod n_axes`` leftover pairs get
angle 0. Angles rotate adjacent channels ``(2j, 2j+1)`` as a complex multiply. Positions are
divided by ``resolution`` first (Uni-3DAR: 0.01 Angstrom). With ``n_axes = 1`` this is exactly
Llama's RoPE. Query-key scores then depend only on position differences.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Rotary(nn.Module):
    """Rotary embedding for heads of size ``head_dim`` over ``n_axes`` position axes."""

    def __init__(self, head_dim: int, n_axes: int, theta: float = 1e4, resolution: float = 1.0):
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"rotary embeddings need an even head size, got {head_dim}")
        pairs = head_dim // 2
        per_axis = pairs // n_axes
        if per_axis == 0:
            raise ValueError(f"head size {head_dim} is too small for {n_axes}-axis rotary embeddings")
        k = torch.arange(per_axis, dtype=torch.float64)
        self.register_buffer("freqs", theta ** (-k / per_axis), persistent=False)
        self.n_axes, self.pairs, self.resolution = n_axes, pairs, resolution

    def angles(self, positions: Tensor, dtype: torch.dtype | None = None) -> Tensor:
        """``positions (..., n_axes)`` -> angles ``(..., head_dim/2)`` (axis-major, zero-padded).

        ``dtype`` defaults to the positions' dtype, or the default dtype for integer positions.
        """
        if positions.shape[-1] != self.n_axes:
            raise ValueError(
                f"rotary positions need {self.n_axes} coordinates, got shape {tuple(positions.shape)}"
            )
        if dtype is None:
            dtype = positions.dtype if positions.is_floating_point() else torch.get_default_dtype()
        scaled = positions.to(dtype) / self.resolution
        ang = (scaled.unsqueeze(-1) * self.freqs.to(dtype)).flatten(-2)
        pad = self.pairs - ang.shape[-1]
        return torch.nn.functional.pad(ang, (0, pad))

    @staticmethod
    def rotate(x: Tensor, angles: Tensor) -> Tensor:
        """Rotate adjacent channel pairs of ``x (..., T, head_dim)`` by ``angles (..., T, head_dim/2)``."""
        cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
        x1, x2 = x[..., 0::2], x[..., 1::2]
        out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
        return out.flatten(-2)
