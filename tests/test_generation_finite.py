"""Numbers leaving a model: NaN or infinite samples are a one-line error, never blank records."""

import pytest
import torch

from unigen.checkpoint import load
from unigen.errors import UnigenError
from unigen.generation import generate


def test_non_finite_samples_are_refused_before_decoding(monkeypatch):
    model = load("gdss-community-small")
    real = model.sample

    def poisoned(*args, **kwargs):
        raw = real(*args, **kwargs)
        return {
            k: v.masked_fill(torch.ones_like(v, dtype=torch.bool), float("nan"))
            if v.is_floating_point()
            else v
            for k, v in raw.items()
        }

    monkeypatch.setattr(model, "sample", poisoned)
    with pytest.raises(UnigenError, match="sampling batch 0 produced NaN or infinite values") as info:
        generate(model, 2, batch_size=2, steps=2)
    assert "\n" not in str(info.value)
