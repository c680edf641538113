"""De novo crystal metrics: validity, coverage (COV-R / COV-P) and property Wasserstein distances.

The CDVAE protocol, used unchanged by DiffCSP, FlowMM and Uni-3DAR (code re-implemented from the
published description and scripts; two data tables are taken verbatim with attribution: CDVAE's
CompScaler constants and matminer's list of order-parameter motifs per coordination number):

* validity: structural (min interatomic distance >= 0.5 A and volume >= 0.1 A^3) and
  compositional (SMACT charge balance + Pauling test), from ``unigen.chem.validity``.
  ``valid`` = both, and the structure fingerprint computable. A malformed record (``None``)
  is invalid in every column.
* Wasserstein distances (``scipy.stats.wasserstein_distance``) of density (g/cm^3, as
  pymatgen's ``Structure.density``) and of the number of distinct elements, between
  ``n_samples`` = 1,000 valid generated crystals drawn at random (seeded here; CDVAE uses the
  unseeded global NumPy stream) and the whole test set. With fewer valid crystals than
  ``n_samples`` all valid ones are used (CDVAE raises instead).
* coverage: structure fingerprint = mean over sites of matminer's
  ``CrystalNNFingerprint.from_preset("ops")``; composition fingerprint = matminer's
  ``ElementProperty.from_preset("magpie")`` standardised with CDVAE's fixed ``CompScaler``
  (NaN -> 0). COV-R = fraction of test crystals with a generated crystal within both cut-offs;
  COV-P = generated crystals within both cut-offs of some test crystal / **all** generated
  crystals (invalid and malformed included). Cut-offs (structure, composition): Perov-5 and
  Carbon-24 0.2 / 4, MP-20 0.4 / 10.

matminer is not a dependency (it pins pandas < 3). Its two featurizers are re-implemented on
what they wrap: pymatgen's ``CrystalNN`` + ``LocalStructOrderParams`` (with pymatgen's
``CN_OPT_PARAMS``, the same table matminer reads) and the Magpie elemental table that SMACT
ships (``smact/data/magpie.csv``). That table equals matminer's Magpie tables except for 10
cells that SMACT fills with column means where matminer's raw tables say "Missing"
(``_MAGPIE_IMPUTED``); those are reset to NaN here, as in the matminer version CDVAE used
(no ``impute_nan``). Elements SMACT's table lacks (Z > 97) get NaN features. Both fingerprints
were checked against matminer 0.10.1 on 80 Perov-5 / Carbon-24 / MP-20 structures: identical
(composition to 5e-13). Cells under 0.1 A^3 are not fingerprinted (CrystalNN would search
thousands of neighbours); they are invalid anyway and still count in the COV-P denominator.
"""

from __future__ import annotations

import csv
import functools
import warnings
from typing import Sequence

import numpy as np

from unigen.chem.metrics import fraction, parallel_map
from unigen.structures import Crystal

# (structure cut-off, composition cut-off) per dataset, CDVAE ``COV_Cutoffs``.
COV_CUTOFFS = {"perov_5": (0.2, 4.0), "carbon_24": (0.2, 4.0), "mp_20": (0.4, 10.0)}

MAGPIE_FEATURES = (
    "Number", "MendeleevNumber", "AtomicWeight", "MeltingT", "Column", "Row", "CovalentRadius",
    "Electronegativity", "NsValence", "NpValence", "NdValence", "NfValence", "NValence",
    "NsUnfilled", "NpUnfilled", "NdUnfilled", "NfUnfilled", "NUnfilled", "GSvolume_pa",
    "GSbandgap", "GSmagmom", "SpaceGroupNumber",
)  # fmt: skip
MAGPIE_STATS = ("minimum", "maximum", "range", "mean", "avg_dev", "mode")

# Cells that matminer's Magpie tables mark "Missing" but SMACT's copy mean-imputes.
_MAGPIE_IMPUTED = {
    ("He", "MeltingT"), ("Fr", "MeltingT"), ("Bk", "CovalentRadius"), ("He", "Electronegativity"),
    ("Ne", "Electronegativity"), ("Ar", "Electronegativity"), ("Rn", "Electronegativity"),
    ("At", "SpaceGroupNumber"), ("Rn", "SpaceGroupNumber"), ("Fr", "SpaceGroupNumber"),
}  # fmt: skip

# matminer ``load_cn_target_motif_op``: the order-parameter motifs fingerprinted per coordination number.
_CN_MOTIFS = {
    1: ["sgl_bd"],
    2: ["L-shaped", "water-like", "bent 120 degrees", "bent 150 degrees", "linear"],
    3: ["trigonal planar", "trigonal non-coplanar", "T-shaped"],
    4: ["square co-planar", "tetrahedral", "rectangular see-saw-like", "see-saw-like", "trigonal pyramidal"],
    5: ["pentagonal planar", "square pyramidal", "trigonal bipyramidal"],
    6: ["hexagonal planar", "octahedral", "pentagonal pyramidal"],
    7: ["hexagonal pyramidal", "pentagonal bipyramidal"],
    8: ["body-centered cubic", "hexagonal bipyramidal"],
    9: ["q2", "q4", "q6"],
    10: ["q2", "q4", "q6"],
    11: ["q2", "q4", "q6"],
    12: ["cuboctahedral", "q2", "q4", "q6"],
}
_MAX_CN = 24
STRUCTURE_FP_SIZE = _MAX_CN + sum(len(m) for m in _CN_MOTIFS.values())  # 61
COMPOSITION_FP_SIZE = len(MAGPIE_FEATURES) * len(MAGPIE_STATS)  # 132

# ---------------------------------------------------------------------------------------
# Simple per-crystal properties


def crystal_density(crystal: Crystal) -> float:
    """Mass density in g/cm^3 (pymatgen ``Structure.density``)."""
    from pymatgen.core import Element

    amu_per_a3_to_g_per_cm3 = 1e24 / 6.02214076e23  # (g / amu) / (cm^3 / A^3), as pymatgen
    mass = sum(Element.from_Z(int(z)).atomic_mass for z in crystal.atomic_numbers)
    return float(mass) / crystal.volume * amu_per_a3_to_g_per_cm3


def num_elements(crystal: Crystal) -> int:
    return len(set(crystal.atomic_numbers.tolist()))


def wasserstein(values: Sequence[float], reference: Sequence[float]) -> float | None:
    """1D earth mover's distance between two samples (None if either is empty)."""
    from scipy.stats import wasserstein_distance

    if len(values) == 0 or len(reference) == 0:
        return None
    return float(wasserstein_distance(values, reference))


# ---------------------------------------------------------------------------------------
# Fingerprints


@functools.lru_cache(maxsize=1)
def _site_fingerprinter():
    """(CrystalNN, {cn: [order-parameter object or "wt"]}) as matminer's "ops" preset."""
    from pymatgen.analysis.local_env import CrystalNN, LocalStructOrderParams

    try:
        from pymatgen.analysis.local_env import CN_OPT_PARAMS
    except ImportError:  # pragma: no cover - moved in newer pymatgen
        from pymatgen.core.local_env import CN_OPT_PARAMS
    ops = {}
    for cn in range(1, _MAX_CN + 1):
        ops[cn] = ["wt"]
        for motif in _CN_MOTIFS.get(cn, []):
            name, *params = CN_OPT_PARAMS.get(cn, {}).get(motif, [motif])
            ops[cn].append(LocalStructOrderParams([name], parameters=[params[0] if params else None]))
    return CrystalNN(), ops


def site_fingerprint(structure, index: int) -> list[float]:
    """matminer ``CrystalNNFingerprint.from_preset("ops").featurize(structure, index)`` (61 values).

    For each coordination number 1..24: the CrystalNN weight of that CN, then for each motif
    of that CN the weight times the motif's local order parameter.
    """
    cnn, ops = _site_fingerprinter()
    nn_data = cnn.get_nn_data(structure, index)
    out = []
    for cn in range(1, _MAX_CN + 1):
        weight = nn_data.cn_weights.get(cn, 0)
        out.append(weight)
        for op in ops[cn][1:]:
            out.append(
                0 if weight == 0 else weight * _order_parameter(op, structure, index, nn_data.cn_nninfo[cn])
            )
    return out


def _order_parameter(op, structure, index: int, neighbours) -> float:
    sites = [structure[index]] + [n["site"] for n in neighbours]
    value = op.get_order_parameters(sites, 0, indices_neighs=list(range(1, len(sites))))[0]
    return value or 0  # None when undefined


def structure_fingerprint(crystal: Crystal) -> np.ndarray | None:
    """(61,) mean site fingerprint, or None when CrystalNN fails on this structure."""
    from unigen.chem.convert import crystal_to_pymatgen

    try:
        structure = crystal_to_pymatgen(crystal)
        with warnings.catch_warnings():  # CrystalNN warns on every site without oxidation states
            warnings.simplefilter("ignore")
            return np.mean([site_fingerprint(structure, i) for i in range(len(structure))], axis=0)
    except Exception:  # CDVAE: a crystal whose fingerprint cannot be built is invalid
        return None


@functools.lru_cache(maxsize=1)
def _magpie_table() -> dict[int, np.ndarray]:
    """Z -> (22,) Magpie elemental properties, NaN where the raw Magpie data is missing."""
    from importlib.resources import files

    from pymatgen.core import Element

    table = {}
    with (files("smact") / "data" / "magpie.csv").open() as handle:
        for row in csv.DictReader(handle):
            symbol = row["element"]
            values = [
                np.nan if (symbol, f) in _MAGPIE_IMPUTED else float(row[f] or "nan") for f in MAGPIE_FEATURES
            ]
            table[Element(symbol).Z] = np.array(values)
    return table


def composition_fingerprint(atomic_numbers) -> np.ndarray:
    """(132,) matminer ``ElementProperty.from_preset("magpie")``: 22 properties x 6 statistics.

    Statistics over the elements weighted by their fraction: minimum, maximum, range, mean,
    mean absolute deviation, mode (value of the most abundant element; ties -> the smallest).
    Property-major order, as matminer's feature labels.
    """
    table = _magpie_table()
    elements, counts = np.unique(np.asarray(atomic_numbers), return_counts=True)
    nan_row = np.full(len(MAGPIE_FEATURES), np.nan)
    data = np.stack([table.get(int(z), nan_row) for z in elements])  # (E, 22)
    weights = counts / counts.sum()
    return np.stack([_property_stats(data[:, j], weights) for j in range(data.shape[1])]).reshape(-1)


def _property_stats(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The six Magpie statistics of one property; NaN propagates (CompScaler maps it to 0)."""
    mean = float(np.sum(weights * values))
    most = np.isclose(weights, weights.max())
    return np.array([
        values.min(), values.max(), values.max() - values.min(), mean,
        float(np.sum(weights * np.abs(values - mean))), values[most].min(),
    ])  # fmt: skip


def scale_composition_fingerprints(fingerprints: np.ndarray) -> np.ndarray:
    """(M, 132) -> standardised with CDVAE's fixed means / stds; NaN -> 0."""
    means, stds = np.asarray(_COMP_SCALER_MEANS), np.asarray(_COMP_SCALER_STDS)
    scaled = (np.asarray(fingerprints, dtype=np.float64) - means) / stds
    return np.nan_to_num(scaled, nan=0.0)


# ---------------------------------------------------------------------------------------
# Per-crystal evaluation (runs in worker processes)


def evaluate_crystal(crystal: Crystal | None, fingerprints: bool = True) -> dict:
    """Validity flags, density, element count and (optionally) both fingerprints of one crystal.

    Returns ``{"struct_valid", "comp_valid", "valid", "reason", "density", "n_elements",
    "struct_fp", "comp_fp"}``; ``reason`` names the first failed check (None if valid).
    """
    if crystal is None:
        return _invalid_record("malformed record")
    if (
        not (np.isfinite(crystal.lattice).all() and np.isfinite(crystal.frac_coords).all())
        or crystal.num_atoms == 0
    ):
        return _invalid_record("non-finite or empty structure")
    if crystal.atomic_numbers.min() < 1 or crystal.atomic_numbers.max() > 118:
        return _invalid_record("atomic number outside 1..118")
    from unigen.chem.validity import compositional_validity, structural_validity

    struct_valid = _passes(structural_validity, crystal)
    comp_valid = _passes(compositional_validity, crystal.atomic_numbers)
    density = crystal_density(crystal) if crystal.volume > 0 else None
    out = {"struct_valid": struct_valid, "comp_valid": comp_valid, "density": density,
           "n_elements": num_elements(crystal), "struct_fp": None, "comp_fp": None}  # fmt: skip
    if fingerprints and crystal.volume >= 0.1:  # CrystalNN on a collapsed cell finds thousands of neighbours
        out["struct_fp"] = structure_fingerprint(crystal)
        out["comp_fp"] = None if out["struct_fp"] is None else composition_fingerprint(crystal.atomic_numbers)
    out["reason"] = _first_failure(out, fingerprints)
    out["valid"] = out["reason"] is None
    return out


def _passes(check, argument) -> bool:
    """A validity check that raises (degenerate lattice, unknown element) counts as a failure."""
    try:
        return bool(check(argument))
    except (ValueError, np.linalg.LinAlgError):
        return False


def _invalid_record(reason: str) -> dict:
    return {"struct_valid": False, "comp_valid": False, "valid": False, "reason": reason, "density": None,
            "n_elements": None, "struct_fp": None, "comp_fp": None}  # fmt: skip


def _first_failure(record: dict, fingerprints: bool) -> str | None:
    if not record["struct_valid"]:
        return "structurally invalid (atoms closer than 0.5 A or volume < 0.1 A^3)"
    if not record["comp_valid"]:
        return "compositionally invalid (SMACT charge balance / electronegativity)"
    if fingerprints and record["struct_fp"] is None:
        return "CrystalNN fingerprint failed"
    return None


def evaluate_crystals(
    crystals: Sequence[Crystal | None], fingerprints: bool = True, n_jobs=None, progress=False
) -> list[dict]:
    """``evaluate_crystal`` over a list, on all cores."""
    work = functools.partial(evaluate_crystal, fingerprints=fingerprints)
    return parallel_map(work, list(crystals), n_jobs, progress, desc="crystal features")


def reference_features(
    reference: Sequence[Crystal], fingerprints: bool = True, n_jobs=None, progress=False
) -> dict:
    """Density, element counts and fingerprints of a reference (test) set.

    Returns ``{"density": (M,), "n_elements": (M,), "struct_fp": (M', 61), "comp_fp": (M', 132)}``
    where M' <= M keeps the crystals whose fingerprint could be built (M' = 0 without
    ``fingerprints``). Fingerprinted sets are cached under ``cache_dir()/metrics``, keyed by a
    hash of the crystals (plain ``.npz``, no pickle): the test set is fingerprinted once.
    """
    from unigen.chem.metrics.cache import load_cached, read_npz

    path = _reference_cache_path(reference)
    cached = load_cached(path, lambda p: read_npz(p, _FEATURE_KEYS)) if fingerprints else None
    if cached is not None:
        return cached
    records = evaluate_crystals(reference, fingerprints, n_jobs, progress)
    with_fp = [r for r in records if r["struct_fp"] is not None]
    features = {
        "density": np.array([r["density"] for r in records if r["density"] is not None]),
        "n_elements": np.array([r["n_elements"] for r in records if r["n_elements"] is not None]),
        "struct_fp": np.array([r["struct_fp"] for r in with_fp]).reshape(-1, STRUCTURE_FP_SIZE),
        "comp_fp": np.array([r["comp_fp"] for r in with_fp]).reshape(-1, COMPOSITION_FP_SIZE),
    }
    if fingerprints:
        from unigen.chem.metrics.cache import save_npz

        save_npz(path, **features)
    return features


_FEATURE_KEYS = ("density", "n_elements", "struct_fp", "comp_fp")


def _reference_cache_path(reference: Sequence[Crystal]):
    import hashlib

    from unigen.paths import cache_dir

    digest = hashlib.sha256(b"crystal-features-v1")
    for crystal in reference:
        for array in (crystal.atomic_numbers, crystal.frac_coords, crystal.lattice):
            digest.update(np.ascontiguousarray(array).tobytes())
    return cache_dir() / "metrics" / f"crystal_features_{digest.hexdigest()[:20]}.npz"


# ---------------------------------------------------------------------------------------
# Set-level metrics


def coverage(gen_struct_fp, gen_comp_fp, ref_struct_fp, ref_comp_fp, struct_cutoff: float, comp_cutoff: float,
             n_generated: int | None = None) -> dict:  # fmt: skip
    """COV-R / COV-P (CDVAE ``compute_cov``) from unscaled fingerprints.

    gen_*: (G, 61) / (G, 132) fingerprints of the generated crystals that have one;
    ref_*: (M, 61) / (M, 132) of the reference set. ``n_generated`` (default G) is the COV-P
    denominator: CDVAE divides by all generated crystals, including those without fingerprint.
    Also returns the mean nearest-neighbour fingerprint distances (AMSD / AMCD).
    """
    from scipy.spatial.distance import cdist

    n_generated = len(gen_struct_fp) if n_generated is None else n_generated
    if len(gen_struct_fp) == 0 or len(ref_struct_fp) == 0:
        return {"cov_recall": 0.0, "cov_precision": 0.0}
    struct_d = cdist(np.asarray(gen_struct_fp), np.asarray(ref_struct_fp))
    comp_d = cdist(scale_composition_fingerprints(gen_comp_fp), scale_composition_fingerprints(ref_comp_fp))
    recall = (struct_d.min(0) <= struct_cutoff) & (comp_d.min(0) <= comp_cutoff)
    precision = (struct_d.min(1) <= struct_cutoff) & (comp_d.min(1) <= comp_cutoff)
    return {
        "cov_recall": float(recall.mean()),
        "cov_precision": fraction(int(precision.sum()), n_generated),
        "amsd_recall": float(struct_d.min(0).mean()),
        "amsd_precision": float(struct_d.min(1).mean()),
        "amcd_recall": float(comp_d.min(0).mean()),
        "amcd_precision": float(comp_d.min(1).mean()),
    }


def validity_summary(records: Sequence[dict]) -> dict:
    """Fractions of structurally / compositionally / fully valid crystals and the invalid list."""
    n = len(records)
    invalid = [{"index": i, "reason": r["reason"]} for i, r in enumerate(records) if not r["valid"]]
    return {
        "n": n,
        "struct_validity": fraction(sum(r["struct_valid"] for r in records), n),
        "comp_validity": fraction(sum(r["comp_valid"] for r in records), n),
        "validity": fraction(sum(r["valid"] for r in records), n),
        "invalid_indices": [item["index"] for item in invalid],
        "invalid": invalid,
    }


def property_distances(
    records: Sequence[dict], reference: dict, n_samples: int = 1000, seed: int = 0
) -> dict:
    """Wasserstein distances of density and element count: ``n_samples`` random valid crystals vs reference."""
    valid = [r for r in records if r["valid"]]
    if len(valid) > n_samples:
        picked = np.random.default_rng(seed).choice(len(valid), n_samples, replace=False)
        valid = [valid[i] for i in picked]
    return {
        "wdist_density": wasserstein([r["density"] for r in valid], reference["density"]),
        "wdist_num_elements": wasserstein([r["n_elements"] for r in valid], reference["n_elements"]),
        "n_property_samples": len(valid),
    }


def score_crystals(
    crystals: Sequence[Crystal | None],
    test: Sequence[Crystal] | None = None,
    dataset: str | None = None,
    cov_cutoffs: tuple[float, float] | None = None,
    n_samples: int = 1000,
    seed: int = 0,
    fingerprints: bool = True,
    n_jobs: int | None = None,
    progress: bool = False,
) -> dict:
    """The CDVAE de novo metrics of generated crystals (``None`` = malformed record).

    Args:
        test: the reference (test) set for Wasserstein distances and coverage.
        dataset: "perov_5", "carbon_24" or "mp_20": picks CDVAE's COV cut-offs.
        cov_cutoffs: (structure, composition) cut-offs; overrides ``dataset``.
        fingerprints: compute CrystalNN / Magpie fingerprints (validity then also requires a
            computable fingerprint, as in CDVAE); False skips coverage (much faster).

    Returns:
        validity fractions, ``invalid`` records with reasons, and with ``test``: Wasserstein
        distances; with ``test``, cut-offs and fingerprints: COV-R / COV-P.
    """
    records = evaluate_crystals(crystals, fingerprints, n_jobs, progress)
    result = validity_summary(records)
    if test is None:
        return result
    reference = reference_features(test, fingerprints, n_jobs, progress)
    result.update(property_distances(records, reference, n_samples, seed))
    cutoffs = cov_cutoffs or COV_CUTOFFS.get(dataset or "")
    if fingerprints and cutoffs is not None:
        result.update(_records_coverage(records, reference, cutoffs))
    elif fingerprints:
        result["coverage"] = (
            f"skipped: no COV cut-offs (dataset one of {', '.join(COV_CUTOFFS)}, or cov_cutoffs)"
        )
    return result


def _records_coverage(records: Sequence[dict], reference: dict, cutoffs: tuple[float, float]) -> dict:
    """COV of evaluated generated crystals against reference features; the COV-P denominator is all records."""
    with_fp = [r for r in records if r["struct_fp"] is not None]
    gen_struct = np.array([r["struct_fp"] for r in with_fp]).reshape(-1, STRUCTURE_FP_SIZE)
    gen_comp = np.array([r["comp_fp"] for r in with_fp]).reshape(-1, COMPOSITION_FP_SIZE)
    result = coverage(
        gen_struct, gen_comp, reference["struct_fp"], reference["comp_fp"], *cutoffs, len(records)
    )
    return result | {"cov_cutoffs": list(cutoffs)}


# ---------------------------------------------------------------------------------------
# CDVAE's CompScaler (txie-93/cdvae ``cdvae/common/constants.py``, MIT): the means and standard
# deviations of the 132 Magpie features over CDVAE's training data. Fixed numbers, so that COV
# values are comparable with every paper that reports them.
# fmt: off
_COMP_SCALER_MEANS = (
    21.194441759304013, 58.20212663122281, 37.0076848719188, 36.52738520455582, 13.350626389725019, 29.468922184630255,
    28.71735137747704, 78.8868535524408, 50.16950217496375, 59.56764743604155, 19.020429484306277, 61.335572740454325,
    47.14515893344343, 141.75135923307818, 94.60620029962553, 85.95794070476977, 34.07300576173523, 68.06189371516912,
    637.9862061297893, 1817.2394155466848, 1179.2532094169414, 1127.2743149568837, 431.51034284549826, 909.1060025135899,
    3.7744320927984534, 13.673707104881585, 9.899275012083132, 9.620186927095652, 3.8426065581251856, 9.96950217496375,
    3.305461575640406, 5.483035282745288, 2.1775737071048815, 4.215114560306594, 0.8206087101824266, 3.732092798453359,
    109.16732721121315, 179.5570323827936, 70.38970517158047, 136.0978305229613, 27.027545809538527, 119.16713388110198,
    1.2721433060967857, 2.4614001837260617, 1.1892568776289631, 1.9844483610247092, 0.4691462290494881, 2.100143582306204,
    1.4829869502174964, 1.9899951667472209, 0.5070082165297245, 1.7956250375970633, 0.2056251946617602, 1.745867568873852,
    0.05650072498791687, 2.3618656355727405, 2.3053649105848235, 1.2829636137262992, 0.9995555685850794, 1.5150314161430642,
    0.7731271145480909, 7.4648139197680035, 6.691686805219913, 4.010677272036105, 2.612307566507693, 3.303528274528758,
    0.2739487675205413, 5.889753504108265, 5.615804736587724, 2.3244356612494683, 2.1426251769710905, 1.4464475592073465,
    4.739246012566457, 14.578395360077332, 9.839149347510874, 9.413701584608935, 3.537059747455868, 8.550410826486225,
    0.008119864668922184, 0.43286611889801835, 0.4247462542290962, 0.16687837041055423, 0.17139889490813626, 0.10898985016916385,
    0.06283228612856452, 2.6573707104881583, 2.594538424359594, 1.219602938224228, 1.0596390454742999, 1.1120831319478008,
    0.14842919284678588, 3.8473658772353794, 3.6989366843885936, 1.4541605082183982, 1.3862277372859781, 0.8018849685838569,
    0.03542774287095215, 2.4474625422909617, 2.4120347994200095, 0.7745217539010397, 0.9145812330586208, 0.3198646689221846,
    1.552730787820203, 6.910681488641856, 5.357950700821653, 3.615163570754227, 1.9072256165179793, 2.6702271628806185,
    14.608536589568727, 34.83222477045747, 20.223688180890715, 22.47901710732293, 7.17674504190757, 18.641837024143584,
    0.009066988883518605, 0.9185191396809959, 0.9094521507974755, 0.4368550481994018, 0.38905942883427047, 0.48375558240695804,
    0.0012985909686158003, 0.21708593995837092, 0.21578734898975546, 0.08167977375391729, 0.08155386250705281, 0.06036340747305611,
    116.32010633156113, 217.5905751570807, 101.27046882551957, 162.87154200548844, 41.920624308665566, 136.4664572257129,
)
_COMP_SCALER_STDS = (
    16.35781741152948, 20.189540126474725, 20.516298414514758, 16.816765336550194, 7.966591328222124, 22.270791076753067,
    21.802116630115243, 12.804546460581966, 24.756629388687983, 13.930306216047477, 10.214535652334533, 27.801612936980938,
    39.74031558353379, 54.269739685575814, 53.70466607591569, 42.852342044453444, 20.78341194242935, 56.28783510219931,
    563.8004405882157, 732.0722574247563, 736.2122907972664, 606.351603075103, 272.62646060896407, 810.6156779688841,
    3.0362262146833428, 3.2075174256751606, 4.0633818989245665, 2.9738244769894764, 1.7805586029644034, 5.643243225066782,
    1.1994336274579853, 0.8939013979423364, 1.2297581799896975, 1.0066021334519983, 0.49129747526397105, 1.4159553146070951,
    31.754756468836774, 28.054241463256226, 38.16336054795611, 25.83485338379922, 15.388376641904662, 39.67137484594156,
    0.31988340032011076, 0.6833658037760536, 0.7464197945553585, 0.4881349085029781, 0.3176591553643101, 0.8601748146737138,
    0.5864801661863596, 0.10048913710210677, 0.5836289120986499, 0.2811748167435902, 0.2468696279341553, 0.5007375747433073,
    0.37237566669029587, 1.7235989187720187, 1.7058836077743305, 1.1558859351244697, 0.7677842566598179, 1.9203550253462733,
    2.1289400248865182, 3.5326064169848332, 3.708508303762512, 2.8709941136664567, 1.6110681295257014, 4.310192504023775,
    1.6644182118209292, 6.228287671164213, 6.1200848808512305, 3.1986202996110302, 2.4492978142248867, 4.030497343977163,
    3.662028270049814, 6.8192125550358345, 6.614243783887738, 4.334987449618594, 2.568319610320196, 5.9494890200106925,
    0.08974370432893491, 0.4954725441517777, 0.494304434278516, 0.2309340434963803, 0.2072873961103969, 0.31162647950590266,
    0.39805702757060923, 1.8111691089355726, 1.7973395144505941, 0.9486995373104102, 0.7538753151875139, 1.5233177017753785,
    0.7952606701778913, 3.711190225170556, 3.638721437232604, 1.7171165424006831, 1.4307904413917036, 2.1047820817622904,
    0.49193748323158065, 4.064840532426175, 4.035286619587313, 1.4858577214526643, 1.5799117659864677, 1.6130080156145745,
    1.555249156140194, 4.776932951077492, 4.569790780459629, 2.224617778217326, 1.7217507416156546, 2.5969733650703763,
    7.215001918238936, 19.252513469778584, 18.775394044177858, 9.447222764774764, 6.7467931836261235, 11.106825644766616,
    0.27206794253092115, 1.6449321034573106, 1.6236282792648686, 0.8506917026741503, 0.7020945355184042, 1.2281895279350408,
    0.04134438177238229, 0.5508855867341717, 0.5486095551438679, 0.24239297524046477, 0.2127779137935831, 0.3036750942874694,
    80.06063945615361, 21.345794811194104, 80.16475677581042, 52.58533928558554, 35.40836791039412, 85.980205895116,
)
# fmt: on
