"""Drawing discrete tokens from logits: temperature and nucleus (top-p) sampling."""

from __future__ import annotations

import torch
from torch import Tensor


def sample_tokens(
    logits: Tensor,
    *,
    temperature: float = 1.0,
    top_p: float = 1.0,
    allowed: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """``logits (B, V)`` -> token ids ``(B,)``.

    ``allowed (B, V)`` or ``(V,)`` bool restricts the choice (every row must allow one token);
    ``temperature`` 0 is greedy; ``top_p`` keeps the smallest set of most likely tokens whose
    probability reaches ``top_p`` (the most likely token is always kept).
    """
    logits = logits.float()
    if allowed is not None:
        logits = logits.masked_fill(~allowed.expand_as(logits), float("-inf"))
    if temperature == 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        before = sorted_probs.cumsum(-1) - sorted_probs  # mass of the tokens ranked above
        sorted_probs = sorted_probs.masked_fill(before >= top_p, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
