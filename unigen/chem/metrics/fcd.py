"""Fréchet ChemNet Distance (Preuer et al. 2018), as MOSES / GDSS report it.

ChemNet activations come from the ``fcd`` package (its wheel ships the ChemNet weights, so this
works offline); ``fcd`` and MOSES's ``fcd_torch`` share the same network, SMILES one-hot encoding
(padded to 350) and Fréchet formula. Like MOSES, the generated side uses the canonical SMILES
of the valid molecules and the reference side its SMILES as given.

Reference statistics (mean (512,), covariance (512, 512)) of large sets are cached as
``cache_dir()/metrics/fcd-<sha256 of the SMILES list>.npz`` (``metrics.cache``: plain arrays,
no pickle; an unreadable file is recomputed).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from unigen.chem.metrics.cache import cache_path, load_cached, read_npz, save_npz, smiles_key


class FCDStats(NamedTuple):
    mu: np.ndarray  # (512,)
    sigma: np.ndarray  # (512, 512)
    count: int


def chemnet_activations(smiles: Sequence[str], batch_size: int = 512, progress: bool = False) -> np.ndarray:
    """(n, 512) ChemNet penultimate-layer activations on CPU or the available GPU.

    ``fcd`` pads every SMILES of a call to 350 tokens, or to the longest one when that is longer,
    which would change (and slow down) all the others; SMILES of 350+ characters are therefore
    run one at a time, padded to their own length.
    """
    import torch
    from tqdm.auto import tqdm

    smiles = list(smiles)
    out = np.zeros((len(smiles), 512), np.float32)
    short = [i for i, s in enumerate(smiles) if len(s) < PAD_LEN]
    long = [[i] for i, s in enumerate(smiles) if len(s) >= PAD_LEN]
    step = max(batch_size * 8, 1)
    groups = [short[start : start + step] for start in range(0, len(short), step)] + long
    model, device = _chemnet(), "cuda" if torch.cuda.is_available() else "cpu"
    for group in tqdm(groups, disable=not progress, desc="ChemNet"):
        out[group] = _predict(model, [smiles[i] for i in group], batch_size, device)
    return out


PAD_LEN = 350  # fcd's (and fcd_torch's) one-hot length


def _chemnet():
    import fcd

    return fcd.load_ref_model()


def _predict(model, smiles: list[str], batch_size: int, device: str) -> np.ndarray:
    import warnings

    import fcd

    with warnings.catch_warnings():  # fcd warns whenever it pads beyond 350
        warnings.simplefilter("ignore", UserWarning)
        return fcd.get_predictions(model, smiles, batch_size=batch_size, n_jobs=0, device=device)


def fcd_stats(smiles: Sequence[str], cache: bool = True, progress: bool = False) -> FCDStats:
    """Mean and covariance of ChemNet activations; cached on disk when ``cache`` is set."""
    smiles = list(smiles)
    path = cache_path("fcd", smiles_key(smiles), "npz")
    cached = load_cached(path, _read_stats) if cache else None
    if cached is not None:
        return cached
    act = chemnet_activations(smiles, progress=progress).astype(np.float64)
    stats = FCDStats(act.mean(0), np.cov(act.T), len(smiles))
    if cache:
        save_npz(path, mu=stats.mu, sigma=stats.sigma, count=stats.count)
    return stats


def _read_stats(path) -> FCDStats:
    f = read_npz(path, ("mu", "sigma", "count"))
    if f["mu"].shape != (512,) or f["sigma"].shape != (512, 512):
        raise ValueError(f"FCD statistics of shape {f['mu'].shape} / {f['sigma'].shape}")
    return FCDStats(f["mu"], f["sigma"], int(f["count"]))


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
