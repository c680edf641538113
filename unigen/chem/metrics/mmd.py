"""Squared maximum mean discrepancy between two sets of per-graph statistics.

The kernels and the estimator follow GraphRNN / GDSS ``evaluation/mmd.py`` and SPECTRE / DiGress
``spectre_utils.py``: the *biased* estimator

    MMD^2 = mean_{i,j} k(x_i, x_j) + mean_{i,j} k(y_i, y_j) - 2 mean_{i,j} k(x_i, y_j)

with no square root (GraphRNN issue #17), over histograms normalised to probability mass
functions when ``is_hist`` is set.

Kernels on two vectors ``x, y`` (the shorter one is zero-padded):

- ``gaussian_emd``: exp(-EMD(x, y)^2 / (2 sigma^2)), EMD with ground distance |i - j| /
  distance_scaling. In 1-D with equal masses the EMD is exactly sum_i |X_i - Y_i| where X, Y are
  cumulative sums, so no optimal-transport solver is needed (GDSS calls pyemd; both agree).
- ``gaussian_tv``: exp(-TV(x, y)^2 / (2 sigma^2)), TV = sum|x - y| / 2 (SPECTRE).
- ``gaussian``: exp(-||x - y||_2^2 / (2 sigma^2)) (GDSS orbit kernel, sigma = 30).

All pairwise kernel values are computed at once with numpy.
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np

KernelName = Literal["gaussian_emd", "gaussian_tv", "gaussian"]


def pad_stack(samples: Sequence[np.ndarray], width: int | None = None) -> np.ndarray:
    """Stack 1-D vectors of different lengths into a (n, width) float64 matrix, zero-padded."""
    width = max([len(s) for s in samples] + [width or 0])
    out = np.zeros((len(samples), width), np.float64)
    for row, s in zip(out, samples):
        row[: len(s)] = s
    return out


def _normalise_rows(x: np.ndarray) -> np.ndarray:
    """Histogram rows -> pmfs (an all-zero row stays zero instead of becoming NaN)."""
    total = x.sum(axis=1, keepdims=True)
    return np.divide(x, total, out=np.zeros_like(x), where=total != 0)


def _pairwise_distance(
    x: np.ndarray, y: np.ndarray, kernel: KernelName, distance_scaling: float
) -> np.ndarray:
    """(n, w), (m, w) -> (n, m) distances underlying each Gaussian kernel."""
    if kernel == "gaussian_emd":
        cx, cy = np.cumsum(x, axis=1), np.cumsum(y, axis=1)
        return np.abs(cx[:, None, :] - cy[None, :, :]).sum(-1) / distance_scaling
    if kernel == "gaussian_tv":
        return np.abs(x[:, None, :] - y[None, :, :]).sum(-1) / 2.0
    if kernel == "gaussian":
        return np.sqrt(np.maximum(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1), 0.0))
    raise ValueError(f"unknown kernel {kernel!r}; valid: gaussian_emd, gaussian_tv, gaussian")


def kernel_matrix(
    x: np.ndarray,
    y: np.ndarray,
    kernel: KernelName,
    sigma: float = 1.0,
    distance_scaling: float = 1.0,
    chunk: int = 256,
) -> np.ndarray:
    """Gaussian kernel values k(x_i, y_j) as an (n, m) matrix; rows processed in chunks to bound memory."""
    out = np.empty((len(x), len(y)))
    for start in range(0, len(x), chunk):
        dist = _pairwise_distance(x[start : start + chunk], y, kernel, distance_scaling)
        out[start : start + chunk] = np.exp(-dist * dist / (2.0 * sigma * sigma))
    return out


def compute_mmd(
    samples1: Sequence[np.ndarray],
    samples2: Sequence[np.ndarray],
    kernel: KernelName,
    is_hist: bool = True,
    sigma: float = 1.0,
    distance_scaling: float = 1.0,
) -> float:
    """Biased squared MMD between two sets of 1-D statistics (histograms or count vectors).

    samples1, samples2: sequences of 1-D arrays (lengths may differ; zero-padded to a common width).
    Returns NaN when either set is empty.
    """
    if len(samples1) == 0 or len(samples2) == 0:
        return float("nan")
    width = max(max(len(s) for s in samples1), max(len(s) for s in samples2))
    x, y = pad_stack(samples1, width), pad_stack(samples2, width)
    if is_hist:
        x, y = _normalise_rows(x), _normalise_rows(y)
    args = dict(kernel=kernel, sigma=sigma, distance_scaling=distance_scaling)
    kxx = kernel_matrix(x, x, **args).mean()
    kyy = kernel_matrix(y, y, **args).mean()
    kxy = kernel_matrix(x, y, **args).mean()
    return float(kxx + kyy - 2.0 * kxy)


def linear_mmd(mean_x: np.ndarray, mean_y: np.ndarray) -> float:
    """Biased squared MMD under a linear kernel, from the two feature means: ||mean_x - mean_y||^2.

    Equal to mean(Kxx) + mean(Kyy) - 2 mean(Kxy) with K = X X^T (GDSS NSPDK), without the n x m matrix.
    """
    diff = np.asarray(mean_x, np.float64) - np.asarray(mean_y, np.float64)
    return float(diff @ diff)
