"""The channels-first dense inference path (pair states ``(p, B, N, N)``, issue 16) computes what
the channels-last training path computes, for every mask mode, padding, pair mask and condition."""

import pytest
import torch

from unigen.backbone.transformer import Block

CONFIGS = {
    "full": dict(pair_in=3, cond_dim=2),
    "causal": dict(pair_in=2, mask_mode="causal"),
    "block_causal": dict(pair_in=2, mask_mode="block_causal"),
    "swiglu-rmsnorm-recycle": dict(pair_in=2, ffn="swiglu", norm="rmsnorm", recycle=2),
}


def _inputs(model, make_inputs):
    inputs = make_inputs(model, b=3, n=6)
    if model.config.cond_dim:
        inputs["cond"] = torch.randn(3, model.config.cond_dim)
    return inputs


def _both_paths(model, inputs, monkeypatch, **kwargs):
    """(channels-last output with gradients on, channels-first output under no_grad, cf calls)."""
    reference = model(**inputs, **kwargs)
    calls = []
    original = Block.forward_dense_cf
    monkeypatch.setattr(Block, "forward_dense_cf", lambda *a, **k: calls.append(1) or original(*a, **k))
    with torch.no_grad():
        fast = model(**inputs, **kwargs)
    return reference, fast, len(calls)


@pytest.mark.parametrize("name", CONFIGS)
def test_channels_first_matches_the_training_path(name, float64, make_model, make_inputs, monkeypatch):
    model = make_model(**CONFIGS[name])
    inputs = _inputs(model, make_inputs)
    reference, fast, calls = _both_paths(model, inputs, monkeypatch)
    assert calls == model.config.depth * model.config.recycle
    mask = inputs["node_mask"]
    assert torch.allclose(fast.h[mask], reference.h[mask], atol=1e-10)
    assert fast.pair.shape == reference.pair.shape
    assert torch.allclose(fast.pair, reference.pair, atol=1e-10)
    assert torch.equal(fast.context.visible, reference.context.visible)


def test_pair_mask_and_empty_rows(float64, make_model, make_inputs, monkeypatch):
    """A query that sees no key gets a zero message on both paths (here: isolated nodes)."""
    model = make_model(pair_in=2)
    inputs = _inputs(model, make_inputs)
    pair_mask = torch.rand(3, 6, 6) < 0.4
    pair_mask[1, 2] = False
    reference, fast, calls = _both_paths(model, inputs, monkeypatch, pair_mask=pair_mask)
    assert calls == 2
    mask = inputs["node_mask"]
    assert torch.allclose(fast.h[mask], reference.h[mask], atol=1e-10)
    assert torch.allclose(fast.pair, reference.pair, atol=1e-10)


def test_need_pair_false_drops_the_pair_output_only(float64, make_model, make_inputs, monkeypatch):
    model = make_model(pair_in=2, depth=3)
    inputs = _inputs(model, make_inputs)
    reference, fast, _ = _both_paths(model, inputs, monkeypatch, need_pair=False)
    full = model(**inputs)
    assert reference.pair is None and fast.pair is None
    mask = inputs["node_mask"]
    assert torch.allclose(reference.h[mask], full.h[mask], atol=1e-12)
    assert torch.allclose(fast.h[mask], full.h[mask], atol=1e-10)


def test_training_mode_and_gradients_keep_the_channels_last_path(make_model, make_inputs, monkeypatch):
    model = make_model(pair_in=2)
    inputs = _inputs(model, make_inputs)
    calls = []
    monkeypatch.setattr(Block, "forward_dense_cf", lambda *a, **k: calls.append(1))
    model(**inputs).h.sum().backward()
    with torch.no_grad():
        model.train()(**inputs)
    assert calls == []
