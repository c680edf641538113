"""Crystal structure prediction (CSP): match rate and RMSE against the true structures.

The protocol of CDVAE ``RecEval`` / DiffCSP ``RecEvalBatch`` (re-implemented, not copied):

* pymatgen ``StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3)``; a prediction matches its
  truth when ``get_rms_dist`` finds a mapping.
* RMSE of a match = ``get_rms_dist(pred, truth)[0]``: the root-mean-square site displacement,
  which pymatgen normalises by (V / N)^(1/3). It is averaged over **matched** items only.
* k = N candidates per truth ("match in any of k"): an item is matched if any candidate
  matches, and its RMSE is the smallest over the matching candidates.
* An invalid prediction counts as no match (``require_valid``): a candidate must be
  structurally valid (all interatomic distances >= 0.5 A, volume >= 0.1 A^3) and
  compositionally valid (SMACT), as CDVAE's ``Crystal.valid``. CDVAE's ``valid`` also needs the
  CrystalNN fingerprint to be computable; that third check is skipped here (it costs more
  than the matching and fails only on degenerate cells that fail the distance check anyway).
  DiffCSP's k = 1 ``RecEval`` additionally drops items whose *truth* is invalid; that filter
  is not applied (the truth is the reference; ``truth_invalid`` lists such items).
* A missing prediction (``None``: malformed record, failed sample) counts as no match.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Sequence

import numpy as np

from unigen.chem.metrics import fraction, parallel_map
from unigen.structures import Crystal

MATCHER_TOLERANCES = dict(stol=0.5, angle_tol=10.0, ltol=0.3)


@dataclass(frozen=True)
class _MatchSettings:
    stol: float
    angle_tol: float
    ltol: float
    require_valid: bool


def csp_match(
    pred: Sequence[Crystal | None] | Sequence[Sequence[Crystal | None]],
    truth: Sequence[Crystal],
    stol: float = 0.5,
    angle_tol: float = 10.0,
    ltol: float = 0.3,
    require_valid: bool = True,
    n_jobs: int | None = None,
    progress: bool = False,
) -> dict:
    """Match rate and mean RMSE of predictions against true crystals.

    Args:
        pred: one prediction per truth (k = 1), or a list of k candidates per truth
            (k = N); ``None`` entries are missing predictions.
        truth: the true crystals, same length as ``pred``.
        require_valid: count structurally or compositionally invalid candidates as no match.
        n_jobs: worker processes (None: all available cores).

    Returns:
        ``{"match_rate", "rmse", "n", "n_matched", "k", "n_truth_invalid", "per_structure":
        [{"index", "matched", "rmse", "best_candidate"}], "truth_invalid": [indices]}``;
        ``rmse`` is None when nothing matched.
    """
    candidates = _as_candidate_lists(pred)
    if len(candidates) != len(truth):
        raise ValueError(f"{len(candidates)} predictions for {len(truth)} true structures")
    settings = _MatchSettings(stol, angle_tol, ltol, require_valid)
    jobs = list(zip(candidates, truth))
    results = parallel_map(partial(_best_match, settings=settings), jobs, n_jobs, progress, "CSP matching")
    return _summarise(results, k=max((len(c) for c in candidates), default=0))


def _as_candidate_lists(pred) -> list[list[Crystal | None]]:
    """k = 1 input (a flat list of crystals) -> one-element candidate lists."""
    return [list(p) if isinstance(p, (list, tuple)) else [p] for p in pred]


def _best_match(job, settings: _MatchSettings) -> dict:
    """Smallest RMSE over the candidates of one truth; runs in a worker process."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    from unigen.chem.convert import crystal_to_pymatgen

    candidates, truth = job
    matcher = StructureMatcher(stol=settings.stol, angle_tol=settings.angle_tol, ltol=settings.ltol)
    truth_structure = crystal_to_pymatgen(truth)
    best, best_index = math.inf, None
    for index, candidate in enumerate(candidates):
        rmse = _rms_or_none(matcher, candidate, truth_structure, settings.require_valid)
        if rmse is not None and rmse < best:
            best, best_index = rmse, index
    return {
        "rmse": None if best_index is None else best,
        "best_candidate": best_index,
        "truth_valid": _is_valid(truth),
    }


def _rms_or_none(matcher, candidate: Crystal | None, truth_structure, require_valid: bool) -> float | None:
    from unigen.chem.convert import crystal_to_pymatgen

    if candidate is None or (require_valid and not _is_valid(candidate)):
        return None
    try:
        rms = matcher.get_rms_dist(crystal_to_pymatgen(candidate), truth_structure)
    except Exception:  # pymatgen raises on degenerate lattices; CDVAE counts these as no match
        return None
    return None if rms is None else float(rms[0])


def _is_valid(crystal: Crystal) -> bool:
    """CDVAE's validity of a crystal: structural and compositional (SMACT)."""
    from unigen.chem.validity import compositional_validity, structural_validity

    try:
        return bool(structural_validity(crystal)) and bool(compositional_validity(crystal.atomic_numbers))
    except (ValueError, np.linalg.LinAlgError):  # degenerate cell or unknown element
        return False


def _summarise(results: list[dict], k: int) -> dict:
    rmses = [r["rmse"] for r in results if r["rmse"] is not None]
    per_structure = [
        {
            "index": i,
            "matched": r["rmse"] is not None,
            "rmse": r["rmse"],
            "best_candidate": r["best_candidate"],
        }
        for i, r in enumerate(results)
    ]
    return {
        "match_rate": fraction(len(rmses), len(results)),
        "rmse": float(np.mean(rmses)) if rmses else None,
        "n": len(results),
        "n_matched": len(rmses),
        "k": k,
        "n_truth_invalid": sum(not r["truth_valid"] for r in results),
        "per_structure": per_structure,
        "truth_invalid": [i for i, r in enumerate(results) if not r["truth_valid"]],
    }
