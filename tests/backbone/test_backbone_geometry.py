"""Geometric pair terms: brute-force image sums, cell-choice invariance, simple values."""

import math

import torch

from unigen.backbone.geometry import (
    cosine_envelope,
    dense_geometry,
    gaussian_rbf,
    image_offsets,
    periodic_displacements,
)
from unigen.testing import random_unimodular

F64 = dict(dtype=torch.float64)


def brute_force_rbf(pos, lattice, num, cutoff, reach=6):
    """Sum over every image in a (2 reach + 1)^3 block of cells, no pruning."""
    cells = torch.cartesian_prod(*[torch.arange(-reach, reach + 1, **F64)] * 3)
    r = pos[:, None, None] - pos[None, :, None] - cells @ lattice  # (N, N, K, 3): x_i - (x_j + n L)
    d = r.norm(dim=-1)
    return (cosine_envelope(d, cutoff).unsqueeze(-1) * gaussian_rbf(d, num, cutoff)).sum(2)


def test_periodic_sum_matches_brute_force():
    lattice = torch.tensor([[2.2, 0.0, 0.0], [0.9, 2.5, 0.0], [0.3, -0.4, 2.0]], **F64)
    pos = torch.rand(5, 3, **F64) @ lattice + torch.randn(5, 3, **F64)  # not wrapped into the cell
    geo = dense_geometry(pos[None], lattice[None], num_rbf=6, cutoff=3.5)
    assert torch.allclose(geo.rbf[0], brute_force_rbf(pos, lattice, 6, 3.5), atol=1e-12)


def test_periodic_terms_ignore_the_choice_of_cell():
    lattice = 2.6 * torch.eye(3, **F64) + 0.3 * torch.randn(3, 3, **F64)
    pos = torch.randn(1, 6, 3, **F64)
    base = dense_geometry(pos, lattice[None], 8, 3.0)
    for _ in range(3):
        u = random_unimodular()
        shifted = pos + torch.randint(-3, 4, pos.shape).to(pos) @ lattice
        other = dense_geometry(shifted, (u @ lattice)[None], 8, 3.0)
        assert torch.allclose(other.rbf, base.rbf, atol=1e-10)
        assert torch.allclose(other.direction, base.direction, atol=1e-10)


def test_image_offsets_reach_the_cutoff():
    cubic = 2.0 * torch.eye(3, **F64)[None]
    offsets = image_offsets(cubic, cutoff=3.0)  # reach = ceil(3 / 2 + 1/2) = 2 cells per side
    assert offsets.shape == (125, 3) and offsets.abs().max() == 2


def test_images_beyond_cutoff_have_zero_weight():
    _, w = periodic_displacements(torch.zeros(1, 1, 3, **F64), 10.0 * torch.eye(3, **F64)[None], cutoff=3.0)
    assert w.sum() == 1.0  # only the atom itself, no other image within 3 A of a 10 A cell


def test_radial_basis_and_envelope_values():
    rbf = gaussian_rbf(torch.tensor([0.0, 1.0], **F64), num=3, cutoff=2.0)  # centres 0, 1, 2; width 1
    assert torch.allclose(rbf[0], torch.tensor([1.0, math.exp(-1), math.exp(-4)], **F64))
    assert torch.allclose(rbf[1], torch.tensor([math.exp(-1), 1.0, math.exp(-1)], **F64))
    env = cosine_envelope(torch.tensor([0.0, 1.0, 2.0, 3.0], **F64), cutoff=2.0)
    assert torch.allclose(env, torch.tensor([1.0, 0.5, 0.0, 0.0], **F64))


def test_molecule_direction_is_the_egnn_difference():
    pos = torch.tensor([[[0.0, 0.0, 0.0], [3.0, 4.0, 0.0]]], **F64)
    geo = dense_geometry(pos, None, 4, 5.0)
    assert torch.allclose(geo.direction[0, 0, 1], torch.tensor([-3.0, -4.0, 0.0], **F64) / 6.0)
