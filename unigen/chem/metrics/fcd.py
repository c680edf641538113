"""Fréchet ChemNet Distance (Preuer et al. 2018), as MOSES / GDSS report it.

ChemNet activations come from the ``fcd`` package (its wheel ships the ChemNet weights, so this
works offline); ``fcd`` and MOSES's ``fcd_torch`` share the same network, SMILES one-hot encoding
(padded to 350) and Fréchet formula. Like MOSES, the generated side uses the canonical SMILES
of the valid molecules and the reference side its SMILES as given.

Reference statistics (mean (512,), covariance (512, 512)) of large sets are cached as
``cache_dir()/metrics/fcd-<sha256 of the SMILES list>.npz`` (plain arrays, no pickle).
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple, Sequence

import numpy as np


class FCDStats(NamedTuple):
    mu: np.ndarray  # (512,)
    sigma: np.ndarray  # (512, 512)
    count: int


def smiles_key(smiles: Sequence[str]) -> str:
    """Content hash of a SMILES list (order-sensitive), used as a cache key."""
    digest = hashlib.sha256()
    for s in smiles:
        digest.update(s.encode())
        digest.update(b"\n")
    return digest.hexdigest()[:24]


def chemnet_activations(smiles: Sequence[str], batch_size: int = 512, progress: bool = False) -> np.ndarray:
    """(n, 512) ChemNet penultimate-layer activations on CPU or the available GPU."""
    import fcd
    import torch
    from tqdm.auto import tqdm

    model = fcd.load_ref_model()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    parts, step = [], max(batch_size * 8, 1)
    for start in tqdm(range(0, len(smiles), step), disable=not progress, desc="ChemNet"):
        chunk = list(smiles[start : start + step])
        parts.append(fcd.get_predictions(model, chunk, batch_size=batch_size, n_jobs=0, device=device))
    return np.concatenate(parts) if parts else np.zeros((0, 512), np.float32)


def fcd_stats(smiles: Sequence[str], cache: bool = True, progress: bool = False) -> FCDStats:
    """Mean and covariance of ChemNet activations; cached on disk when ``cache`` is set."""
    from unigen.atomic import atomic_write
    from unigen.paths import cache_dir

    smiles = list(smiles)
    path = cache_dir() / "metrics" / f"fcd-{smiles_key(smiles)}.npz"
    if cache and path.exists():
        with np.load(path, allow_pickle=False) as f:
            return FCDStats(f["mu"], f["sigma"], int(f["count"]))
    act = chemnet_activations(smiles, progress=progress).astype(np.float64)
    stats = FCDStats(act.mean(0), np.cov(act.T), len(smiles))
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "wb") as f:
            np.savez(f, mu=stats.mu, sigma=stats.sigma, count=stats.count)
    return stats


def frechet_distance(a: FCDStats, b: FCDStats) -> float:
    """Fréchet distance between two Gaussians (the ``fcd`` package's numerically stable formula)."""
    from fcd import calculate_frechet_distance

    return float(calculate_frechet_distance(a.mu, a.sigma, b.mu, b.sigma))


def fcd_score(
    generated: Sequence[str], reference: Sequence[str] | FCDStats, cache_reference: bool = True
) -> float:
    """FCD between generated SMILES and a reference set (SMILES or precomputed ``FCDStats``).

    NaN when either side has fewer than 2 molecules (the covariance is undefined).
    """
    if len(generated) < 2:
        return float("nan")
    ref = reference if isinstance(reference, FCDStats) else None
    if ref is None:
        if len(reference) < 2:
            return float("nan")
        ref = fcd_stats(reference, cache=cache_reference)
    return frechet_distance(fcd_stats(generated, cache=False), ref)
