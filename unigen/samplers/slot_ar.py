"""Autoregressive decoding of numeric slots with a per-slot diffusion (UniGenX, spec A6).

The model is seen through a :class:`SlotDecoder`: ``start`` runs the prompt and returns the
hidden state that conditions the first slot; ``denoise`` is the diffusion head; ``feed`` appends
a finished slot and returns the hidden state for the next one (with or without a KV cache:
the decoder decides). The process (``unigen.processes.continuous.GaussianDiffusion``, already
respaced to the wanted number of steps) owns every schedule quantity.

Shapes: ``z (B, d)`` hidden states, slot numbers ``(B, D)``; the result is ``(B, S, D)``.
"""

from __future__ import annotations

from typing import Callable, Protocol

import torch
from torch import Tensor

from unigen.samplers.registry import register_sampler


class SlotDecoder(Protocol):
    def start(self) -> Tensor: ...  # hidden state before the first slot, (B, d)

    def denoise(self, x_t: Tensor, t: Tensor, z: Tensor) -> tuple[Tensor, Tensor | None]: ...  # eps, v

    def feed(self, values: Tensor) -> Tensor: ...  # append a slot (B, D); next hidden state (B, d)


@register_sampler("ddpm", "slot_ar", solver="ddpm")
@register_sampler("ddim", "slot_ar", solver="ddim")
@torch.no_grad()
def sample_slots(
    decoder: SlotDecoder,
    process,
    num_slots: int,
    num_values: int = 3,
    *,
    solver: str,
    generator: torch.Generator | None = None,
    temperature: float = 1.0,
    clip_x0: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> Tensor:
    """Fill ``num_slots`` slots one after another; each is a full reverse diffusion from N(0, I).

    ``ddpm``: ancestral steps on the respaced chain, injected noise times ``temperature``, none at
    the last step (UniGenX's default). ``ddim``: deterministic DDIM (eta = 0). ``clip_x0``
    clamps the implied clean numbers at every step (see ``GaussianDiffusion.ddpm_step``).
    """
    z = decoder.start()
    slots = []
    for s in range(num_slots):
        x = process.prior((z.shape[0], num_values), generator=generator, device=z.device, dtype=z.dtype)
        for t in process.timesteps.flip(0).tolist():
            steps = torch.full((len(x),), t, dtype=torch.long, device=z.device)
            eps, v = decoder.denoise(x, steps, z)
            if solver == "ddpm":
                x, _ = process.ddpm_step(x, t, eps, v, generator=generator, temperature=temperature,
                                         clip_x0=clip_x0)  # fmt: skip
            else:
                x, _ = process.ddim_step(x, t, eps, clip_x0=clip_x0)
        slots.append(x)
        if s + 1 < num_slots:
            z = decoder.feed(x)
        if progress is not None:
            progress(s)
    return torch.stack(slots, dim=1)
