"""KV-cached decoding returns exactly what the full forward pass returns."""

import pytest
import torch

from unigen.backbone import KVCache


def decode(model, chunks, **per_token):
    """Run the model chunk by chunk on a fresh cache; per-token inputs are sliced along dim 1."""
    cache, outs, start = KVCache(), [], 0
    for size in chunks:
        step = {k: v[:, start : start + size] for k, v in per_token.items()}
        outs.append(model(cache=cache, **step).h)
        start += size
    assert len(cache) == start
    return torch.cat(outs, 1)


@pytest.mark.parametrize(
    "options",
    [
        dict(rotary="1d"),
        dict(rotary="3d", rotary_resolution=0.01),
        dict(rotary="1d", recycle=2, ffn="mlp", norm="layernorm", bias=True),
    ],
)
def test_causal_decode_equals_full_forward(float64, make_model, options):
    model = make_model(vocab_size=13, node_in=4, pair_dim=0, mask_mode="causal", **options)
    tokens, h, pos = torch.randint(0, 13, (2, 9)), torch.randn(2, 9, 4), torch.rand(2, 9, 3) * 3
    inputs = dict(tokens=tokens, h=h, **({"pos": pos} if options["rotary"] == "3d" else {}))
    full = model(**inputs).h
    cached = decode(model, [4, 1, 1, 3], **inputs)
    assert (cached - full).abs().max() < 1e-10


def test_block_causal_decode_equals_full_forward(float64, make_model):
    model = make_model(vocab_size=13, node_in=0, pair_dim=0, mask_mode="block_causal", rotary="1d")
    tokens = torch.randint(0, 13, (2, 9))
    block_id = torch.tensor([[0, 0, 1, 1, 1, 2, 3, 3, 3]]).expand(2, 9)
    full = model(tokens=tokens, block_id=block_id).h
    cached = decode(model, [2, 3, 1, 3], tokens=tokens, block_id=block_id)
    assert (cached - full).abs().max() < 1e-10


def test_decode_with_right_padding(float64, make_model):
    """Padded prompt positions stay invisible to later tokens, as in the full pass."""
    model = make_model(vocab_size=13, node_in=0, pair_dim=0, mask_mode="causal")
    tokens, mask = torch.randint(0, 13, (2, 6)), torch.ones(2, 6, dtype=torch.bool)
    mask[1, 2:4] = False
    full = model(tokens=tokens, node_mask=mask).h
    cached = decode(model, [4, 1, 1], tokens=tokens, node_mask=mask)
    assert (cached - full).abs().max() < 1e-10


@pytest.mark.parametrize(
    ("options", "call", "message"),
    [
        (dict(mask_mode="full"), {}, "needs mask mode 'causal'"),
        (dict(mask_mode="causal", pair_dim=4), {}, "no pair state"),
        (
            dict(mask_mode="block_causal"),
            {"block_id": torch.zeros(1, 3, dtype=torch.long)},
            "whole new blocks",
        ),
    ],
)
def test_decode_rejects_unsupported(make_model, options, call, message):
    model = make_model(vocab_size=5, node_in=0, **{"pair_dim": 0, **options})
    cache = KVCache()
    if options["mask_mode"] == "block_causal":
        model(tokens=torch.zeros(1, 3, dtype=torch.long), cache=cache, **call)
    with pytest.raises(ValueError, match=message):
        model(tokens=torch.zeros(1, 3, dtype=torch.long), cache=cache, **call)


def test_fused_causal_kernel_matches_masked_path(float64, make_model):
    """Plain causal batches take SDPA's is_causal kernel; an all-True pair_mask forces the masked one."""
    model = make_model(vocab_size=13, node_in=0, pair_dim=0, mask_mode="causal", rotary="1d")
    tokens = torch.randint(0, 13, (2, 7))
    fused = model(tokens=tokens).h
    masked = model(tokens=tokens, pair_mask=torch.ones(2, 7, 7, dtype=torch.bool)).h
    assert (fused - masked).abs().max() < 1e-12
