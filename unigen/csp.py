"""Crystal structure prediction: K ranked candidate structures per composition (``unigen predict-structure``).

    >>> model = unigen.load("unigenx-perov5")
    >>> ranked = predict_structures(model, [parse_formula("SrTiO3")], k=5, seed=0)
    >>> best = ranked[0][0]                 # a Crystal; best.meta holds rank, nll_bits, space group, flags

The model must generate crystals, take ``conditions={"composition": [Z_1, ..., Z_n]}`` and offer
``candidate_nll`` (families ``unigenx`` and ``uni3dar``). Candidates of one composition are ranked
by the model's likelihood, lower first: for unigenx the negative ELBO of the sampled numbers on a
``rank_steps``-step chain, for uni3dar minus the mean log p per atom recorded while sampling. Each
candidate's meta also carries its space group (spglib through pymatgen, symprec 0.1) and the
CDVAE validity flags (SMACT composition, all distances >= 0.5 A). Batches are seeded like
``unigen.generation`` (batch 0 with ``seed``, later ones with a hash of (seed, k)).
"""

from __future__ import annotations

import numpy as np
import torch

from unigen.chem.symmetry import SYMPREC, space_group
from unigen.distributed import batch_seed
from unigen.errors import UsageError


def predict_structures(
    model,
    compositions: list,
    k: int = 1,
    seed: int = 0,
    batch_size: int = 512,
    progress: bool = False,
    rank_steps: int = 20,
    **options,
) -> list[list]:
    """For each composition ((N,) atomic numbers), ``k`` candidate Crystals, most likely first."""
    if k < 1:
        raise UsageError(f"number of candidates must be positive, got {k}")
    check_csp_model(model)
    opts = model.sampling_options(**options)
    for z in compositions:
        model.composition_ids(z)  # unknown elements fail before any sampling
    jobs = [(i, z) for i, z in enumerate(compositions) for _ in range(k)]
    batches = [jobs[start : start + batch_size] for start in range(0, len(jobs), batch_size)]
    candidates: list[list] = [[] for _ in compositions]
    # one tick per decoded slot: a batch decodes its largest cell's N + 3 slots
    bar = _bar(sum(max(len(z) for _, z in part) + 3 for part in batches), progress)
    tick = None if bar is None else (lambda _: bar.update(1))
    for b, part in enumerate(batches):
        generator = torch.Generator(device=next(model.parameters()).device).manual_seed(batch_seed(seed, b))
        raw = model.sample(len(part), generator=generator, options=opts, progress=tick,
                           conditions={"composition": [z for _, z in part]})  # fmt: skip
        nll = model.candidate_nll(raw, steps=rank_steps, generator=generator).tolist()
        for (index, _), crystal, score in zip(part, model.decode(raw), nll):
            candidates[index].append((score, crystal))
    if bar is not None:
        bar.close()
    from unigen.chem.formula import formula_of

    return [_ranked(c, formula_of(z)) for c, z in zip(candidates, compositions)]


def check_csp_model(model, name: str = "this model") -> None:
    """UsageError unless ``model`` predicts crystals from a composition (and ranks its candidates)."""
    from unigen.structures import Crystal

    if not hasattr(model, "candidate_nll") or model.record_type is not Crystal:
        kind = getattr(model.record_type, "__name__", "no")
        raise UsageError(
            f"{name} is a '{model.family}' model of {kind} records; predict-structure needs a crystal model "
            f"of family unigenx or uni3dar"
        )


def _ranked(scored: list, formula: str) -> list:
    out = []
    for rank, (score, crystal) in enumerate(sorted(scored, key=lambda item: item[0]), start=1):
        crystal.meta.update({"name": f"{formula}_rank{rank}", "formula": formula, "rank": rank,
                             "nll_bits": round(float(score), 3), **describe(crystal)})  # fmt: skip
        out.append(crystal)
    return out


def describe(crystal) -> dict:
    """Space group (symbol and number, or None), SMACT and distance validity, shortest distance."""
    from unigen.chem.validity import compositional_validity, min_interatomic_distance, structural_validity

    try:
        distance = float(min_interatomic_distance(crystal))
        structure_ok = bool(structural_validity(crystal))
    except (ValueError, np.linalg.LinAlgError):
        distance, structure_ok = 0.0, False
    return {
        **space_group(crystal, SYMPREC),
        "smact_valid": bool(compositional_validity(crystal.atomic_numbers)),
        "structure_valid": structure_ok,
        "min_distance": round(distance, 4) if np.isfinite(distance) else None,
    }


def _bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="predicting", unit="slot", leave=False)
