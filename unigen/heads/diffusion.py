"""The per-token diffusion head of UniGenX (MAR's "DiffLoss" network; spec part A4).

It predicts, for every numeric slot, the noise (and the learned-variance interpolation) of a
small diffusion process over the slot's numbers, conditioned on the transformer's hidden state
``z`` of the previous position. It knows no schedule: ``t`` is an integer step index it embeds,
and ``unigen.processes.continuous.GaussianDiffusion`` turns its outputs into losses and samples.

Shapes: ``x_t (M, D)`` noised slot numbers, ``t (M,)`` long, ``z (M, cond_dim)`` ->
``eps (M, D)`` and ``v (M, D)`` (None without learned variance).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def timestep_embedding(t: Tensor, dim: int = 256, max_period: float = 1e4) -> Tensor:
    """Sinusoid of integer steps ``t (M,)`` -> ``(M, dim)``: cos half, then sin half (MAR / DiT)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    angles = t.float().unsqueeze(-1) * freqs
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


def _modulate(h: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    return h * (1 + scale) + shift


class _ResBlock(nn.Module):
    """h <- h + g * MLP(LN(h) * (1 + s) + b), with (b, s, g) from the condition (adaptive norm)."""

    def __init__(self, width: int):
        super().__init__()
        self.norm = nn.LayerNorm(width, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 3 * width))

    def forward(self, h: Tensor, y: Tensor) -> Tensor:
        shift, scale, gate = self.modulation(y).chunk(3, dim=-1)
        return h + gate * self.mlp(_modulate(self.norm(h), shift, scale))


class DiffusionHead(nn.Module):
    """Residual MLP with adaptive layer norm on the hidden state (spec A4: width w, ``depth`` blocks).

    At initialisation every block is the identity and the output is zero (zero-initialised
    modulation and output layers), so training starts from "predict no noise".
    """

    def __init__(
        self,
        cond_dim: int,
        width: int = 1024,
        depth: int = 3,
        num_values: int = 3,
        learned_variance: bool = True,
    ):
        super().__init__()
        if width < 1 or depth < 0 or num_values < 1:
            raise ValueError(
                f"diffusion head needs width >= 1, depth >= 0, num_values >= 1; got {width}, {depth}, {num_values}"
            )
        self.num_values, self.learned_variance = num_values, learned_variance
        self.input = nn.Linear(num_values, width)
        self.cond = nn.Linear(cond_dim, width)
        self.time = nn.Sequential(nn.Linear(256, width), nn.SiLU(), nn.Linear(width, width))
        self.blocks = nn.ModuleList(_ResBlock(width) for _ in range(depth))
        self.final_norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.final_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))
        self.output = nn.Linear(width, num_values * (2 if learned_variance else 1))
        self._initialise()

    def _initialise(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        for layer in (self.time[0], self.time[2]):
            nn.init.normal_(layer.weight, std=0.02)
        for modulation in [b.modulation[1] for b in self.blocks] + [self.final_modulation[1], self.output]:
            nn.init.zeros_(modulation.weight)
            nn.init.zeros_(modulation.bias)

    def forward(self, x_t: Tensor, t: Tensor, z: Tensor) -> tuple[Tensor, Tensor | None]:
        h = self.input(x_t)
        y = self.time(timestep_embedding(t).to(h.dtype)) + self.cond(z)
        for block in self.blocks:
            h = block(h, y)
        shift, scale = self.final_modulation(y).chunk(2, dim=-1)
        out = self.output(_modulate(self.final_norm(h), shift, scale))
        if not self.learned_variance:
            return out, None
        eps, v = out.split(self.num_values, dim=-1)
        return eps, v
