"""Small building blocks: norms, feed-forward networks, drop-path, and the channels-first forms
(``(C, ...)`` with the channel axis leading) of LayerNorm and Linear used by the dense inference
path for many small graphs (``unigen.backbone.transformer``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def make_norm(kind: str, dim: int) -> nn.Module:
    """``rmsnorm`` (eps 1e-6, Llama) or ``layernorm``."""
    return nn.RMSNorm(dim, eps=1e-6) if kind == "rmsnorm" else nn.LayerNorm(dim)


def layer_norm_cf(norm: nn.LayerNorm, x: Tensor) -> Tensor:
    """``norm`` over the leading channel axis of ``x (C, ...)``: a few passes over contiguous slabs,
    several times faster on CPU than ``F.layer_norm`` over a last axis of 8-16 channels."""
    centred, scale = _centred_scale(norm, x)
    shape = (-1,) + (1,) * (x.dim() - 1)
    return (centred * scale).mul_(norm.weight.view(shape)).add_(norm.bias.view(shape))


def fold_norm(norm: nn.LayerNorm, linear: nn.Linear) -> tuple[Tensor, Tensor]:
    """``linear(norm(x)) = W' x_hat + c'`` on the unscaled normalised input ``x_hat``:
    ``W (g * x_hat + b) + c = (W g) x_hat + (W b + c)``. Returns ``(W', c')``."""
    bias = linear.weight @ norm.bias
    return linear.weight * norm.weight, bias if linear.bias is None else bias + linear.bias


def norm_linear_cf(norm: nn.LayerNorm, linear: nn.Linear, x: Tensor) -> Tensor:
    """``linear(norm(x))`` channels first, the norm's affine folded into the matrix and bias
    (:func:`fold_norm`): two passes fewer than applying both."""
    centred, scale = _centred_scale(norm, x)
    weight, bias = fold_norm(norm, linear)
    out = weight @ centred.reshape(len(x), -1)
    return torch.addcmul(bias[:, None], out, scale.reshape(1, -1)).view(-1, *x.shape[1:])


def _centred_scale(norm: nn.LayerNorm, x: Tensor) -> tuple[Tensor, Tensor]:
    centred = x - x.mean(0)
    return centred, torch.rsqrt(centred.square().mean(0) + norm.eps)


def linear_cf(linear: nn.Linear, x: Tensor, residual: Tensor | None = None) -> Tensor:
    """``linear`` on ``x (C_in, ...)`` -> ``(C_out, ...)``: one wide matrix product (``W @ x``);
    ``residual`` (shape of the output) is added in the same product."""
    flat = x.reshape(x.shape[0], -1)
    if residual is not None:
        out = torch.addmm(residual.reshape(len(residual), -1), linear.weight, flat)
        out = out if linear.bias is None else out.add_(linear.bias[:, None])
    elif linear.bias is None:
        out = linear.weight @ flat
    else:
        out = torch.addmm(linear.bias[:, None], linear.weight, flat)
    return out.view(-1, *x.shape[1:])


class SwiGLU(nn.Module):
    """``w2(SiLU(w1 x) * w3 x)``."""

    def __init__(self, dim: int, hidden: int, bias: bool = False):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=bias)
        self.w3 = nn.Linear(dim, hidden, bias=bias)
        self.w2 = nn.Linear(hidden, dim, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class MLP(nn.Module):
    """``w2(GELU(w1 x))``."""

    def __init__(self, dim: int, hidden: int, bias: bool = True):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=bias)
        self.w2 = nn.Linear(hidden, dim, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.w2(F.gelu(self.w1(x)))


def drop_path(x: Tensor, rate: float, training: bool, sample: Tensor | None = None) -> Tensor:
    """Stochastic depth: zero whole samples of a residual branch with probability ``rate``.

    ``x (B, ...)`` drops along dim 0; for a flat sparse batch ``x (N, ...)`` pass
    ``sample (N,)``, the graph of each node, so whole graphs drop together.
    """
    if not training or rate == 0.0:
        return x
    groups = x.shape[0] if sample is None else int(sample.max()) + 1
    keep = torch.rand(groups, device=x.device) >= rate
    keep = keep if sample is None else keep[sample]
    scale = keep.to(x.dtype).view(-1, *([1] * (x.dim() - 1))) / (1.0 - rate)
    return x * scale
