"""Exponential moving average of model weights (the weights a checkpoint ships)."""

from __future__ import annotations

import torch


class EMA:
    """Shadow copies ``s <- d * s + (1 - d) * w`` of every floating-point tensor of a model.

    The effective decay ramps up as ``min(decay, (1 + n) / (10 + n))`` so that early averages
    are not dominated by the random initialisation. Integer buffers are copied as they are.
    """

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.num_updates = 0
        self.shadow = {
            k: v.detach().clone().float() if v.is_floating_point() else v.detach().clone()
            for k, v in model.state_dict().items()
        }

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        d = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        for name, value in model.state_dict().items():
            if value.is_floating_point():
                self.shadow[name].lerp_(value.float(), 1.0 - d)
            else:
                self.shadow[name].copy_(value)
        self.num_updates += 1

    def weights(self, like: torch.nn.Module) -> dict:
        """The averaged weights in the dtypes of ``like``'s state dict."""
        reference = like.state_dict()
        return {k: v.to(reference[k].dtype) for k, v in self.shadow.items()}

    def load(self, shadow: dict, num_updates: int) -> None:
        for name, value in shadow.items():
            self.shadow[name].copy_(value)
        self.num_updates = num_updates
