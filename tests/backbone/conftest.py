"""Tiny inputs for the backbone tests, built in code."""

from dataclasses import dataclass

import pytest
import torch
from torch import nn

from unigen.backbone import Backbone, BackboneConfig
from unigen.heads import VectorHead

TINY = dict(dim=16, depth=2, heads=2, pair_dim=4, num_rbf=8, cutoff=3.0)


@pytest.fixture(autouse=True)
def _one_thread():
    """These tensors are tiny: one thread avoids thread hand-off costs on a shared 2-core machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture
def float64():
    """Run a test in float64 so that symmetry errors sit near round-off (~1e-13)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@dataclass
class WithVectorsOutput:
    h: torch.Tensor
    pair: torch.Tensor | None
    vec: torch.Tensor


class WithVectors(nn.Module):
    """A backbone plus the equivariant vector head, as a 3D family would combine them."""

    def __init__(self, backbone: Backbone):
        super().__init__()
        self.backbone, self.config = backbone, backbone.config
        self.vector_head = VectorHead.for_backbone(backbone.config)

    def forward(self, **inputs):
        out = self.backbone(**inputs)
        return WithVectorsOutput(out.h, out.pair, self.vector_head(out))


def tiny_model(vector_output: bool = False, **overrides) -> nn.Module:
    """A 2-block, 16-wide backbone in eval mode (node features of width 5 by default);
    ``vector_output``: with the vector head on top (``out.vec``)."""
    options = {**TINY, "node_in": 5, **overrides}
    backbone = Backbone(BackboneConfig(**options))
    return (WithVectors(backbone) if vector_output else backbone).eval()


def dense_inputs(model: Backbone, b: int = 2, n: int = 7, padding: bool = True, dtype=None) -> dict:
    """Random dense inputs matching ``model.config``: sorted block ids, 2 padded nodes in sample 0."""
    cfg, dtype = model.config, dtype or torch.get_default_dtype()
    out = {}
    if cfg.node_in:
        out["h"] = torch.randn(b, n, cfg.node_in, dtype=dtype)
    if cfg.vocab_size:
        out["tokens"] = torch.randint(0, cfg.vocab_size, (b, n))
    mask = torch.ones(b, n, dtype=torch.bool)
    if padding:
        mask[0, n - 2 :] = False
    out["node_mask"] = mask
    if cfg.pair_in:
        out["pair"] = torch.randn(b, n, n, cfg.pair_in, dtype=dtype)
    if cfg.geometry != "none" or cfg.rotary == "3d":
        out["pos"] = 1.5 * torch.randn(b, n, 3, dtype=dtype)
    if cfg.geometry == "periodic":
        out["lattice"] = 2.5 * torch.eye(3, dtype=dtype) + 0.4 * torch.randn(b, 3, 3, dtype=dtype)
    if cfg.mask_mode == "block_causal":
        out["block_id"] = torch.sort(torch.randint(0, 4, (b, n)), dim=1).values
    return out


@pytest.fixture
def make_model():
    return tiny_model


@pytest.fixture
def make_inputs():
    return dense_inputs
