"""Learning-rate schedule: linear warm-up, then cosine decay to a floor."""

from __future__ import annotations

import math


def lr_at(step: int, peak: float, warmup: int, total: int, min_ratio: float = 0.1) -> float:
    """Learning rate for optimizer step ``step`` (0-based).

    Rises linearly from ``peak / warmup`` to ``peak`` over ``warmup`` steps, then follows a
    half cosine from ``peak`` down to ``peak * min_ratio`` at step ``total - 1``.
    """
    if step < warmup:
        return peak * (step + 1) / warmup
    span = max(total - 1 - warmup, 1)
    progress = min((step - warmup) / span, 1.0)
    floor = peak * min_ratio
    return floor + 0.5 * (peak - floor) * (1.0 + math.cos(math.pi * progress))
