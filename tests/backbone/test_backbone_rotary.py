"""Rotary embeddings: the exact Uni-3DAR mapping and the relative-position property."""

import math

import torch

from unigen.backbone.rotary import Rotary


def test_3d_mapping_for_head_dim_64():
    """m = 10 pairs per axis, r = 2 leftover pairs at angle 0, frequencies theta^(-k/m)."""
    rope = Rotary(64, 3, theta=1e4, resolution=0.01)
    ang = rope.angles(torch.tensor([[0.01, 0.02, 0.03]], dtype=torch.float64))[0]
    assert ang.shape == (32,)
    freqs = 1e4 ** (-torch.arange(10, dtype=torch.float64) / 10)
    assert torch.allclose(ang[:10], 1.0 * freqs) and torch.allclose(ang[10:20], 2.0 * freqs)
    assert torch.allclose(ang[20:30], 3.0 * freqs) and torch.equal(
        ang[30:], torch.zeros(2, dtype=torch.float64)
    )
    assert math.isclose(float(ang[1]), 1e4**-0.1)


def test_1d_is_llama_rope():
    """Pair j of position p rotates channels (2j, 2j+1) by p * theta^(-2j/d)."""
    rope = Rotary(8, 1)
    x = torch.randn(1, 8, dtype=torch.float64)
    out = Rotary.rotate(x, rope.angles(torch.tensor([[5]]), torch.float64))
    for j in range(4):
        a = 5 * 1e4 ** (-2 * j / 8)
        c, s = math.cos(a), math.sin(a)
        expected = torch.stack([x[0, 2 * j] * c - x[0, 2 * j + 1] * s, x[0, 2 * j] * s + x[0, 2 * j + 1] * c])
        assert torch.allclose(out[0, 2 * j : 2 * j + 2], expected)


def _scores(rope, q, k, pq, pk):
    return (Rotary.rotate(q, rope.angles(pq)) * Rotary.rotate(k, rope.angles(pk))).sum(-1)


def test_scores_depend_only_on_position_differences():
    for n_axes in (1, 3):
        rope = Rotary(12, n_axes, resolution=0.5)
        q, k = torch.randn(6, 12, dtype=torch.float64), torch.randn(6, 12, dtype=torch.float64)
        pq, pk = (
            torch.randn(6, n_axes, dtype=torch.float64) * 4,
            torch.randn(6, n_axes, dtype=torch.float64) * 4,
        )
        shift = torch.randn(1, n_axes, dtype=torch.float64) * 10
        base = _scores(rope, q, k, pq, pk)
        assert torch.allclose(base, _scores(rope, q, k, pq + shift, pk + shift), atol=1e-10)
        assert not torch.allclose(base, _scores(rope, q, k, pq + shift, pk), atol=1e-3)


def test_rotation_preserves_norm():
    rope = Rotary(16, 3)
    x = torch.randn(5, 16, dtype=torch.float64)
    out = Rotary.rotate(x, rope.angles(torch.randn(5, 3, dtype=torch.float64)))
    assert torch.allclose(out.norm(dim=-1), x.norm(dim=-1))
