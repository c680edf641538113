"""The config is the constructor: bad values and combinations fail early with the valid choices."""

import pytest
import torch

from unigen.backbone import Backbone, BackboneConfig
from unigen.errors import UsageError


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(norm="batchnorm"), "backbone.norm: 'batchnorm' is not one of rmsnorm, layernorm"),
        (dict(mask_mode="bidirectional"), "is not one of full, causal, block_causal"),
        (dict(geometry="3d"), "is not one of none, distance, periodic"),
        (dict(dim=30, heads=4), "must be divisible"),
        (dict(pair_in=3), "set backbone.pair_dim > 0"),
        (dict(ppgn=True), "set backbone.pair_dim > 0"),
        (dict(cond_dim=-1), "cond_dim must be >= 0"),
        (dict(dim=8, heads=4, rotary="3d"), "even head size >= 6"),
        (dict(depth=0), "positive integer"),
    ],
)
def test_bad_config(options, message):
    with pytest.raises(UsageError, match=message):
        BackboneConfig(**{"node_in": 4, **options})


def test_family_shaped_configs_build():
    """GDSS (dense pairs, full), PARD (PPGN, block-causal), Uni-3DAR (3-D RoPE), UniGenX (1-D RoPE)."""
    configs = [
        BackboneConfig(
            node_in=4, pair_in=2, pair_dim=8, dim=32, heads=4, mask_mode="full", ffn="mlp", norm="layernorm"
        ),
        BackboneConfig(
            node_in=4, pair_in=5, pair_dim=8, ppgn=True, dim=32, heads=4, mask_mode="block_causal"
        ),
        BackboneConfig(
            vocab_size=300,
            dim=64,
            heads=4,
            mask_mode="causal",
            rotary="3d",
            rotary_resolution=0.01,
            recycle=2,
        ),
        BackboneConfig(vocab_size=100, node_in=3, dim=64, heads=4, mask_mode="causal", rotary="1d"),
    ]
    for cfg in configs:
        assert sum(p.numel() for p in Backbone(cfg).parameters()) > 0


def test_zero_init_residual_makes_blocks_identity_at_start(make_model):
    model = make_model(zero_init_residual=True, pair_dim=0)
    h = torch.randn(1, 4, 5)
    x = model.node_embed(h)
    assert torch.allclose(model(h=h).h, model.final_norm(x), atol=1e-6)


@pytest.mark.parametrize(
    ("options", "call", "message"),
    [
        (dict(geometry="distance"), {}, "needs pos"),
        (dict(geometry="periodic"), {"pos": torch.zeros(1, 3, 3)}, "needs lattice"),
        (dict(), {"lattice": torch.eye(3)[None]}, "use geometry 'periodic'"),
        (dict(pair_in=2), {}, "pair features / edge_attr are required"),
        (dict(pair_dim=0), {"pair": torch.zeros(1, 3, 3, 2)}, "given but backbone.pair_in is 0"),
        (dict(mask_mode="block_causal"), {}, "needs block_id"),
        (dict(), {"h": torch.zeros(1, 3, 7)}, "node_in=5"),
        (dict(), {"h": None}, "needs tokens, node features h or embeddings"),
        (dict(), {"embeddings": torch.zeros(1, 3, 5)}, "dim=16"),
    ],
)
def test_bad_inputs(make_model, options, call, message):
    model = make_model(**options)
    inputs = {"h": torch.zeros(1, 3, 5), **call}
    with pytest.raises(ValueError, match=message):
        model(**inputs)


def test_ready_made_embeddings_are_added_as_is(make_model):
    """A family's own embedder (e.g. UniGenX's number slots) feeds the trunk directly."""
    model = make_model(node_in=0, vocab_size=7, zero_init_residual=True, pair_dim=0)
    tokens, extra = torch.randint(0, 7, (1, 4)), torch.randn(1, 4, 16)
    out = model(tokens=tokens, embeddings=extra).h
    assert torch.allclose(out, model.final_norm(model.token_embed(tokens) + extra), atol=1e-6)
    assert make_model(node_in=0)(embeddings=extra).h.shape == (1, 4, 16)
