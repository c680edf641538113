"""Scatter kernels: hand-computed values, gradients, and parity with torch-scatter when present."""

import pytest
import torch

from unigen.backbone.scatter import (
    resolve_backend,
    scatter_max,
    scatter_softmax,
    scatter_sum,
    torch_scatter_available,
)

INDEX = torch.tensor([0, 2, 0, 2, 2])  # group 1 is empty
SRC = torch.tensor([[1.0, -1.0], [2.0, 0.5], [3.0, 4.0], [-1.0, 0.5], [0.0, 2.0]])


def test_scatter_sum_and_max_by_hand():
    assert torch.equal(
        scatter_sum(SRC, INDEX, 3, "torch"), torch.tensor([[4.0, 3.0], [0.0, 0.0], [1.0, 3.0]])
    )
    assert torch.equal(
        scatter_max(SRC, INDEX, 3, "torch"), torch.tensor([[3.0, 4.0], [0.0, 0.0], [2.0, 2.0]])
    )


def test_scatter_softmax_matches_per_group_softmax():
    out = scatter_softmax(SRC, INDEX, 3, "torch")
    for g in (0, 2):
        rows = INDEX == g
        assert torch.allclose(out[rows], torch.softmax(SRC[rows], dim=0))


def test_scatter_softmax_is_stable_for_large_scores():
    out = scatter_softmax(torch.tensor([1000.0, 1001.0, -1000.0]), torch.tensor([0, 0, 1]), 2, "torch")
    assert torch.allclose(out, torch.tensor([1 / (1 + torch.e), torch.e / (1 + torch.e), 1.0]))


def test_scatter_softmax_gradient():
    src = torch.randn(7, 2, dtype=torch.float64, requires_grad=True)
    index = torch.tensor([0, 1, 0, 3, 3, 3, 1])
    assert torch.autograd.gradcheck(lambda s: scatter_softmax(s, index, 4, "torch"), (src,))


def test_unknown_and_missing_backends():
    with pytest.raises(ValueError, match="valid: auto, torch, torch_scatter"):
        resolve_backend("cuda")
    if not torch_scatter_available():
        assert resolve_backend("auto") == "torch"
        with pytest.raises(ValueError, match="not installed"):
            resolve_backend("torch_scatter")


@pytest.mark.skipif(not torch_scatter_available(), reason="torch-scatter is not installed")
@pytest.mark.parametrize("fn", [scatter_sum, scatter_max, scatter_softmax])
def test_torch_scatter_parity(fn):
    src = torch.randn(200, 4, 3, requires_grad=True)
    index = torch.randint(0, 30, (200,))
    native, reference = fn(src, index, 32, "torch"), fn(src, index, 32, "torch_scatter")
    assert torch.allclose(native, reference, atol=1e-6)
    (g_native,) = torch.autograd.grad(native.square().sum(), src)
    (g_reference,) = torch.autograd.grad(reference.square().sum(), src)
    assert torch.allclose(g_native, g_reference, atol=1e-5)
