"""Geometric pair terms: invariant radial features and equivariant directions.

Conventions: positions are Cartesian, ``lattice`` rows are the cell vectors (``x = f @ L``),
and the pair ``(i, j)`` carries ``r_ij = x_i - x_j`` (EGNN's sign).

For crystals every pair sums over all periodic images of ``j`` within ``cutoff``, weighted by a
smooth cosine envelope. The image set is enumerated from the cell's plane spacings, so the sums
depend on the crystal, not on the chosen cell: they are invariant to unimodular changes of
basis ``L -> U L`` and to moving an atom by a lattice vector (tested in
``tests/backbone/test_geometry.py``). Molecules use the single image ``r_ij`` and no envelope.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class PairGeometry:
    """Pair terms for a dense batch ``(B, N, N, ...)`` or an edge list ``(E, ...)``.

    Fields:
        rbf: ``(..., num_rbf)`` image-summed radial basis of the distances (E(3)-invariant).
        direction: ``(..., 3)`` image-summed ``w * r / (|r| + 1)`` (E(3)-equivariant vectors).
    """

    rbf: Tensor
    direction: Tensor


def gaussian_rbf(dist: Tensor, num: int, cutoff: float) -> Tensor:
    """``dist (...)`` -> ``(..., num)`` Gaussians centred on ``linspace(0, cutoff, num)``."""
    centres = torch.linspace(0.0, cutoff, num, dtype=dist.dtype, device=dist.device)
    width = cutoff / max(num - 1, 1)
    return torch.exp(-(((dist.unsqueeze(-1) - centres) / width) ** 2))


def cosine_envelope(dist: Tensor, cutoff: float) -> Tensor:
    """Smooth weight ``0.5 (cos(pi d / cutoff) + 1)`` for ``d < cutoff``, 0 beyond."""
    inside = dist < cutoff
    return torch.where(inside, 0.5 * (torch.cos(math.pi * dist / cutoff) + 1.0), torch.zeros_like(dist))


def molecule_displacements(pos: Tensor) -> tuple[Tensor, Tensor]:
    """``pos (B, N, 3)`` -> ``r (B, N, N, 1, 3)`` with ``r_ij = x_i - x_j`` and unit weights ``(B, N, N, 1)``."""
    r = (pos.unsqueeze(2) - pos.unsqueeze(1)).unsqueeze(3)
    return r, torch.ones(r.shape[:-1], dtype=pos.dtype, device=pos.device)


def edge_displacements(pos: Tensor, edge_index: Tensor) -> tuple[Tensor, Tensor]:
    """``pos (N, 3)``, ``edge_index (2, E)`` (source, target) -> ``r (E, 1, 3)``, weights ``(E, 1)``.

    The edge ``j -> i`` carries ``r = x_i - x_j``, the same as the dense pair ``(i, j)``.
    """
    src, dst = edge_index
    r = (pos.index_select(0, dst) - pos.index_select(0, src)).unsqueeze(1)
    return r, torch.ones(r.shape[:-1], dtype=pos.dtype, device=pos.device)


def image_offsets(lattice: Tensor, cutoff: float) -> Tensor:
    """Integer cell offsets ``(K, 3)`` that reach every image within ``cutoff``.

    For a displacement ``(df + n) @ L`` with ``|df_a| <= 1/2`` and length below ``cutoff``,
    ``|n_a| <= cutoff * |column a of L^-1| + 1/2`` (the inverse plane spacing).
    """
    inv = torch.linalg.inv(lattice.detach())
    reach = torch.ceil(cutoff * inv.norm(dim=-2) + 0.5).reshape(-1, 3).amax(0).long()
    axes = [torch.arange(-n, n + 1, device=lattice.device) for n in reach.tolist()]
    return torch.cartesian_prod(*axes).to(lattice.dtype)


def periodic_displacements(pos: Tensor, lattice: Tensor, cutoff: float) -> tuple[Tensor, Tensor]:
    """``pos (B, N, 3)``, ``lattice (B, 3, 3)`` -> ``r (B, N, N, K, 3)``, envelope weights ``(B, N, N, K)``.

    ``r[b, i, j, k] = x_i - (x_j + n_k L)`` over the image offsets ``n_k``; images beyond
    ``cutoff`` get weight 0.
    """
    frac = pos @ torch.linalg.inv(lattice)
    dfrac = frac.unsqueeze(1) - frac.unsqueeze(2)  # [b, i, j] = f_j - f_i
    dfrac = dfrac - dfrac.detach().round()
    shifts = dfrac.unsqueeze(3) + image_offsets(lattice, cutoff)
    r = -(shifts @ lattice[:, None, None])
    return r, cosine_envelope(r.norm(dim=-1), cutoff)


def pair_geometry(r: Tensor, weight: Tensor, num_rbf: int, cutoff: float) -> PairGeometry:
    """Reduce image displacements ``r (..., K, 3)`` with weights ``(..., K)`` to :class:`PairGeometry`."""
    dist = torch.linalg.vector_norm(r, dim=-1)
    rbf = (weight.unsqueeze(-1) * gaussian_rbf(dist, num_rbf, cutoff)).sum(-2)
    direction = (weight.unsqueeze(-1) * r / (dist.unsqueeze(-1) + 1.0)).sum(-2)
    return PairGeometry(rbf=rbf, direction=direction)


def dense_geometry(pos: Tensor, lattice: Tensor | None, num_rbf: int, cutoff: float) -> PairGeometry:
    """Pair geometry of a padded batch: molecules when ``lattice`` is None, crystals otherwise."""
    if lattice is None:
        r, w = molecule_displacements(pos)
    else:
        r, w = periodic_displacements(pos, lattice, cutoff)
    return pair_geometry(r, w, num_rbf, cutoff)
