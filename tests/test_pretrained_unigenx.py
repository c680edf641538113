"""The shipped UniGenX models predict known perovskites (best of 20 candidates, StructureMatcher).

Structures are written out in code: SrTiO3 (textbook cubic cell, a = 3.905 A; not in Perov-5),
and the Perov-5 *test* rows LaAlO3 and RuTlO2F (the first common oxide and the first
near-ideal cubic row of test.csv in file order, picked before the model was evaluated), with their
coordinates rounded to 4 decimals.
"""

import numpy as np
import pytest
import torch

from unigen.chem.metrics.csp import csp_match
from unigen.pretrained import available
from unigen.structures import Crystal

MODEL = "unigenx-perov5"
pytestmark = pytest.mark.skipif(MODEL not in available(), reason=f"{MODEL} is not shipped")


def cubic(a: float, species: list[int], frac: list[list[float]]) -> Crystal:
    return Crystal(species, frac, np.eye(3) * a)


KNOWN = {
    "SrTiO3": cubic(3.905, [38, 22, 8, 8, 8], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]),
    "LaAlO3": cubic(3.8419, [57, 13, 8, 8, 8],
                    [[0.0040, 0, 0], [0.5051, 0.5, 0.5], [0.5062, 0, 0.5], [0.5062, 0.5, 0], [0.0065, 0.5, 0.5]]),
    "RuTlO2F": cubic(4.3490, [44, 81, 9, 8, 8],
                     [[0.0003, 0, 0], [0.5058, 0.5, 0.5], [0.4995, 0, 0.5], [0.4998, 0.5, 0], [0.0047, 0.5, 0.5]]),
}  # fmt: skip


def test_the_best_of_20_candidates_matches_each_known_perovskite():
    from unigen.checkpoint import load
    from unigen.csp import predict_structures

    torch.manual_seed(0)
    model = load(MODEL)
    truths = list(KNOWN.values())
    ranked = predict_structures(model, [t.atomic_numbers for t in truths], k=20, seed=0)
    result = csp_match([list(c) for c in ranked], truths, n_jobs=1)
    unmatched = [name for name, item in zip(KNOWN, result["per_structure"]) if not item["matched"]]
    assert not unmatched, f"no candidate of 20 matches {unmatched}"
