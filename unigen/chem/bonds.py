"""Bond-length tables and bond orders inferred from 3D distances (the EDM protocol).

EDM (Hoogeboom et al. 2022, ``qm9/bond_analyze.py``) assigns a bond order to every atom pair
from its distance alone: single if d < L1 + 10 pm, then double if d < L2 + 5 pm, then triple
if d < L3 + 3 pm, where L1/L2/L3 are tabulated typical lengths (wiredchemist.com and
chemistry-reference.com tables). The margins were tuned upstream so that QM9's DFT
geometries come out ~99 % atom-stable. Uni-3DAR, UniGenX, GeoLDM and others reuse the same
tables; unigen keeps the single copy here.

Lengths are in picometres; functions take Angstrom coordinates. A pair absent from the
single-bond table never bonds (EDM's ``check_exists=True`` behaviour; with QM9's H, C, N, O,
F every pair is tabulated, so the QM9 numbers do not depend on this choice). Upstream's
double-bond dict lists C->S but not S->C, so EDM's QM9 path (pair in atom order) calls a
short S...C pair single when S comes first; the tables here are symmetric, which is what
EDM's GEOM stability and its RDKit validity see (both sort the pair so that C comes first).
QM9 has no sulphur.

Allowed valences: ``ALLOWED_VALENCES`` is EDM's ``allowed_bonds`` (neutral atoms only; the
table behind EDM's published QM9 stability numbers). ``ALLOWED_VALENCES_CHARGED`` is the
charge-aware table of MiDi / FlowMol, for graphs that carry formal charges.
"""

from __future__ import annotations

import numpy as np

MARGIN_SINGLE_PM, MARGIN_DOUBLE_PM, MARGIN_TRIPLE_PM = 10, 5, 3
MAX_Z = 84  # tables cover H..Bi

# Typical bond lengths in pm, each unordered pair once ("A-B" == "B-A").
SINGLE_BOND_PM = {
    "H-H": 74,
    "H-C": 109,
    "H-N": 101,
    "H-O": 96,
    "H-F": 92,
    "H-B": 119,
    "H-Si": 148,
    "H-P": 144,
    "H-As": 152,
    "H-S": 134,
    "H-Cl": 127,
    "H-Br": 141,
    "H-I": 161,
    "C-C": 154,
    "C-N": 147,
    "C-O": 143,
    "C-F": 135,
    "C-Si": 185,
    "C-P": 184,
    "C-S": 182,
    "C-Cl": 177,
    "C-Br": 194,
    "C-I": 214,
    "N-N": 145,
    "N-O": 140,
    "N-F": 136,
    "N-Cl": 175,
    "N-Br": 214,
    "N-S": 168,
    "N-I": 222,
    "N-P": 177,
    "O-O": 148,
    "O-F": 142,
    "O-Br": 172,
    "O-S": 151,
    "O-P": 163,
    "O-Si": 163,
    "O-Cl": 164,
    "O-I": 194,
    "F-F": 142,
    "F-S": 158,
    "F-Si": 160,
    "F-Cl": 166,
    "F-Br": 178,
    "F-P": 156,
    "F-I": 187,
    "B-Cl": 175,
    "Si-Si": 233,
    "Si-S": 200,
    "Si-Cl": 202,
    "Si-Br": 215,
    "Si-I": 243,
    "Cl-Cl": 199,
    "Cl-P": 203,
    "Cl-S": 207,
    "Cl-Br": 214,
    "S-S": 204,
    "S-Br": 225,
    "S-P": 210,
    "S-I": 234,
    "Br-Br": 228,
    "Br-P": 222,
    "P-P": 221,
    "I-I": 266,
}
DOUBLE_BOND_PM = {
    "C-C": 134,
    "C-N": 129,
    "C-O": 120,
    "C-S": 160,
    "N-N": 125,
    "N-O": 121,
    "O-O": 121,
    "O-P": 150,
    "P-S": 186,
}
TRIPLE_BOND_PM = {"C-C": 120, "C-N": 116, "C-O": 113, "N-N": 110}

# EDM ``allowed_bonds``: the valences (sum of bond orders) of a stable neutral atom.
ALLOWED_VALENCES = {
    "H": (1,),
    "C": (4,),
    "N": (3,),
    "O": (2,),
    "F": (1,),
    "B": (3,),
    "Al": (3,),
    "Si": (4,),
    "P": (3, 5),
    "S": (4,),
    "Cl": (1,),
    "As": (3,),
    "Br": (1,),
    "I": (1,),
    "Hg": (1, 2),
    "Bi": (3, 5),
}
# MiDi / FlowMol table: valences allowed per formal charge. Elements absent here use
# ALLOWED_VALENCES whatever their charge; an unlisted charge uses the charge-0 entry.
ALLOWED_VALENCES_CHARGED = {
    "H": {0: (1,), 1: (0,)},
    "C": {0: (4,)},
    "N": {0: (3,), 1: (4,), -1: (2,)},
    "O": {0: (2,), 1: (3,), -1: (1,)},
    "F": {0: (1,), -1: (0,)},
    "P": {0: (3, 5), 1: (4,)},
    "S": {0: (2, 6), 1: (2, 3), 2: (4,), 3: (5,), -1: (3,)},
    "Br": {0: (1,), 1: (2,)},
    "Se": {0: (2, 4, 6)},
}

MAX_VALENCE = 8
MIN_CHARGE, MAX_CHARGE = -3, 3


def _atomic_number(symbol: str) -> int:
    from rdkit import Chem

    return Chem.GetPeriodicTable().GetAtomicNumber(symbol)


def _threshold_table(lengths_pm: dict, margin: float) -> np.ndarray:
    """(MAX_Z+1, MAX_Z+1) distance thresholds in pm; -inf where the pair has no entry."""
    table = np.full((MAX_Z + 1, MAX_Z + 1), -np.inf)
    for pair, length in lengths_pm.items():
        a, b = (_atomic_number(s) for s in pair.split("-"))
        table[a, b] = table[b, a] = length + margin
    return table


def _valence_table() -> np.ndarray:
    """(MAX_Z+1, MAX_VALENCE+1) bool: ALLOWED_VALENCES as a lookup table."""
    table = np.zeros((MAX_Z + 1, MAX_VALENCE + 1), bool)
    for symbol, valences in ALLOWED_VALENCES.items():
        table[_atomic_number(symbol), list(valences)] = True
    return table


def _charged_valence_table() -> np.ndarray:
    """(MAX_Z+1, charges, MAX_VALENCE+1) bool, charge axis offset by -MIN_CHARGE.

    MiDi semantics: elements without a per-charge entry ignore the charge; for the others an
    unlisted charge uses the charge-0 valences.
    """
    neutral = _valence_table()
    table = np.repeat(neutral[:, None, :], MAX_CHARGE - MIN_CHARGE + 1, axis=1)
    for symbol, by_charge in ALLOWED_VALENCES_CHARGED.items():
        z = _atomic_number(symbol)
        for c in range(MIN_CHARGE, MAX_CHARGE + 1):
            table[z, c - MIN_CHARGE] = False
            table[z, c - MIN_CHARGE, list(by_charge.get(c, by_charge[0]))] = True
    return table


_TABLES: dict = {}


def tables() -> dict:
    """The lookup arrays, built once: thr1/thr2/thr3 (pm), valence, valence_charged."""
    if not _TABLES:
        _TABLES.update(
            thr1=_threshold_table(SINGLE_BOND_PM, MARGIN_SINGLE_PM),
            thr2=_threshold_table(DOUBLE_BOND_PM, MARGIN_DOUBLE_PM),
            thr3=_threshold_table(TRIPLE_BOND_PM, MARGIN_TRIPLE_PM),
            valence=_valence_table(),
            valence_charged=_charged_valence_table(),
        )
    return _TABLES


def _check_numbers(atomic_numbers: np.ndarray) -> None:
    if atomic_numbers.size and (atomic_numbers.min() < 0 or atomic_numbers.max() > MAX_Z):
        raise ValueError(f"atomic numbers must lie in 1..{MAX_Z} for the EDM bond tables")


def bond_orders_from_distances(atomic_numbers: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """EDM bond orders for pairs of elements at given distances.

    atomic_numbers: (..., N) int, 0 marks padding (never bonds).
    distances:      (..., N, N) Angstrom.
    Returns (..., N, N) int8 in {0, 1, 2, 3}; the diagonal is 0.
    """
    z = np.asarray(atomic_numbers)
    _check_numbers(z)
    t = tables()
    zi, zj = z[..., :, None], z[..., None, :]
    d_pm = 100.0 * np.asarray(distances)
    single = d_pm < t["thr1"][zi, zj]
    double = single & (d_pm < t["thr2"][zi, zj])
    triple = double & (d_pm < t["thr3"][zi, zj])
    orders = single.astype(np.int8) + double + triple
    n = z.shape[-1]
    orders[..., np.arange(n), np.arange(n)] = 0
    return orders


def pairwise_distances(positions: np.ndarray) -> np.ndarray:
    """(..., N, 3) -> (..., N, N) Euclidean distances, in the dtype of ``positions``."""
    diff = positions[..., :, None, :] - positions[..., None, :, :]
    return np.sqrt((diff * diff).sum(-1))


def infer_bond_orders(atomic_numbers, positions) -> np.ndarray:
    """(N,) atomic numbers and (N, 3) Angstrom positions -> (N, N) int8 EDM bond orders."""
    positions = np.asarray(positions)
    return bond_orders_from_distances(np.asarray(atomic_numbers, np.int64), pairwise_distances(positions))


def valence_allowed(atomic_numbers, valences, charges=None) -> np.ndarray:
    """Whether each atom's valence (sum of bond orders) is allowed.

    atomic_numbers, valences, charges: (...,) arrays of equal shape. Without charges the EDM
    table applies; with charges the MiDi charge-aware table. Valences that are not whole
    numbers (aromatic 1.5 contributions that do not sum to an integer) are never allowed.
    """
    z = np.asarray(atomic_numbers, np.int64)
    _check_numbers(z)
    v = np.asarray(valences, np.float64)
    whole = (v == np.round(v)) & (v >= 0) & (v <= MAX_VALENCE)
    v_idx = np.where(whole, v, 0).astype(np.int64)
    if charges is None:
        return whole & tables()["valence"][z, v_idx]
    c = np.asarray(charges, np.int64)
    in_range = (c >= MIN_CHARGE) & (c <= MAX_CHARGE)
    c_idx = np.where(in_range, c - MIN_CHARGE, 0)
    return whole & in_range & tables()["valence_charged"][z, c_idx, v_idx]
