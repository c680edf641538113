"""The MOSES distribution metrics (Polykovskiy et al. 2020, ``molsets`` 0.3.1), computed in unigen.

Definitions, as in ``moses/metrics/metrics.py`` and ``utils.py``:

- fingerprints: Morgan radius 2, 1024 bits (bit vectors);
- SNN: mean over generated molecules of the max Tanimoto similarity to the reference set;
- IntDiv_p: 1 - (mean over all ordered pairs of the generated set, self pairs included, of T^p)^(1/p);
- Frag: cosine similarity of the BRICS-fragment count vectors (``FragmentOnBRICSBonds``);
- Scaf: cosine similarity of the Bemis-Murcko scaffold count vectors, scaffolds with >= 2 rings;
- Filters: fraction passing MOSES's filters: no ring of >= 8 atoms, no charged atom, atoms in
  {C, N, S, O, F, Cl, Br, H}, no match (with explicit H) of the MCF and PAINS SMARTS.

The MCF and PAINS SMARTS (``data/moses_filters.csv``, 502 patterns) are the contents of
``moses/metrics/mcf.csv`` and ``wehi_pains.csv`` from the molsets 0.3.1 wheel (MIT licence,
Insilico Medicine), whitespace-trimmed.

Reference statistics (fingerprints, fragment and scaffold counts) of large sets are cached in
``cache_dir()/metrics/moses-<hash>.npz`` (``metrics.cache``: plain arrays, no pickle).

Speed (``benchmarks/score_molecules.py``): Tanimoto similarities come from an int8 matrix product
of the bit vectors (exact intersection counts), one tile at a time; the MCF / PAINS filters are
screened with RDKit pattern fingerprints before any substructure match.
"""

from __future__ import annotations

import csv
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from unigen.chem.metrics._parallel import chunked_map

FP_BITS = 1024
_FILTER_FILE = Path(__file__).with_name("data") / "moses_filters.csv"
_ALLOWED = frozenset({"C", "N", "S", "O", "F", "Cl", "Br", "H"})


class MolRecord(NamedTuple):
    """What the MOSES metrics need from one molecule."""

    fingerprint: np.ndarray  # (128,) uint8: 1024 bits packed
    fragments: tuple  # BRICS fragment SMILES
    scaffold: str | None  # Murcko scaffold SMILES with >= 2 rings, else None
    passes_filters: bool


class ReferenceStats(NamedTuple):
    fingerprints: np.ndarray  # (n, 128) uint8 packed bits
    fragments: Counter
    scaffolds: Counter


# ---------------------------------------------------------------------------------------
# one molecule


@lru_cache(maxsize=1)
def _filters():
    from rdkit import Chem

    with open(_FILTER_FILE, newline="") as f:
        return [Chem.MolFromSmarts(row["smarts"]) for row in csv.DictReader(f)]


@lru_cache(maxsize=1)
def _filter_screen() -> np.ndarray:
    """(502, 256) packed RDKit pattern fingerprints of the filter SMARTS."""
    from rdkit import Chem

    return np.stack([_pattern_bits(Chem.PatternFingerprint(q)) for q in _filters()])


def _pattern_bits(fp) -> np.ndarray:
    from rdkit import DataStructs

    bits = np.zeros(fp.GetNumBits(), np.uint8)
    DataStructs.ConvertToNumpyArray(fp, bits)
    return np.packbits(bits)


def _filter_candidates(mol_with_h) -> np.ndarray:
    """Indices of the filters whose pattern-fingerprint bits all occur in the molecule's.

    A SMARTS can match only if its pattern fingerprint is a subset of the molecule's (RDKit's
    substructure screen, as in ``SubstructLibrary``), so the other filters need no match attempt:
    ~17 of 502 remain on QM9 / MOSES molecules, and the result is unchanged
    (``tests/metrics/test_molecules.py`` compares against the unscreened loop).
    """
    from rdkit import Chem

    screen = _filter_screen()
    bits = _pattern_bits(Chem.PatternFingerprint(mol_with_h))
    return np.flatnonzero(((screen & bits) == screen).all(1))


def morgan_bits(mol) -> np.ndarray:
    """(1024,) uint8 Morgan radius-2 bit vector (same bits as RDKit's GetMorganFingerprintAsBitVect)."""
    return _morgan_generator().GetFingerprintAsNumPy(mol).astype(np.uint8)


@lru_cache(maxsize=1)
def _morgan_generator():
    from rdkit.Chem import rdFingerprintGenerator

    return rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=FP_BITS)


def brics_fragments(mol) -> tuple:
    from rdkit import Chem
    from rdkit.Chem import AllChem

    return tuple(Chem.MolToSmiles(AllChem.FragmentOnBRICSBonds(mol)).split("."))


def murcko_scaffold(mol, min_rings: int = 2) -> str | None:
    """Bemis-Murcko scaffold SMILES, or None when it has fewer than ``min_rings`` rings."""
    from rdkit import Chem
    from rdkit.Chem.Scaffolds import MurckoScaffold

    try:
        scaffold = MurckoScaffold.GetScaffoldForMol(mol)
    except (ValueError, RuntimeError):
        return None
    smiles = Chem.MolToSmiles(scaffold)
    if smiles == "" or scaffold.GetRingInfo().NumRings() < min_rings:
        return None
    return smiles


def passes_filters(mol) -> bool:
    """MOSES ``mol_passes_filters`` with its default allowed atoms."""
    from rdkit import Chem

    rings = mol.GetRingInfo().AtomRings()
    if any(len(r) >= 8 for r in rings):
        return False
    if any(a.GetFormalCharge() != 0 or a.GetSymbol() not in _ALLOWED for a in mol.GetAtoms()):
        return False
    with_h = Chem.AddHs(mol)
    patterns = _filters()
    if any(with_h.HasSubstructMatch(patterns[i]) for i in _filter_candidates(with_h)):
        return False
    smiles = Chem.MolToSmiles(mol, isomericSmiles=False)
    return bool(smiles) and Chem.MolFromSmiles(smiles) is not None


def parse(smiles: str):
    """MOSES ``get_mol``: RDKit parse + sanitise, or None."""
    from rdkit import Chem

    if not smiles:
        return None
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    try:
        Chem.SanitizeMol(mol)
    except ValueError:
        return None
    return mol


def molecule_record(smiles: str, with_filters: bool = True) -> MolRecord | None:
    mol = parse(smiles)
    if mol is None:
        return None
    fp = np.packbits(morgan_bits(mol))
    return MolRecord(
        fp, brics_fragments(mol), murcko_scaffold(mol), passes_filters(mol) if with_filters else True
    )


def _records_chunk(smiles: list) -> list:
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")
    return [molecule_record(s) for s in smiles]


def _records_chunk_no_filters(smiles: list) -> list:
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")
    return [molecule_record(s, with_filters=False) for s in smiles]


def molecule_records(
    smiles: Sequence[str], with_filters=True, n_jobs=None, progress=False
) -> list[MolRecord | None]:
    """``molecule_record`` for every SMILES, spread over ``n_jobs`` processes (default all cores)."""
    func = _records_chunk if with_filters else _records_chunk_no_filters
    return chunked_map(func, smiles, n_jobs, chunk_size=2000, progress=progress, desc="MOSES features")


# ---------------------------------------------------------------------------------------
# set-level metrics


def average_agg_tanimoto(
    stock: np.ndarray, gen: np.ndarray, agg: str = "max", p: int = 1, block: int = 4096
) -> float:
    """MOSES ``average_agg_tanimoto``: mean over ``gen`` of max (or mean) Tanimoto^p to ``stock``.

    stock: (n, 1024) and gen: (m, 1024) 0/1 arrays (or (., 128) packed bits). Empty-vs-empty
    fingerprint pairs count as similarity 1, as in MOSES. The bit intersections are an int8
    matrix product with int32 sums (exact); the ratio is float32 as in MOSES, so ``max`` is
    bit-identical to MOSES's float32 formula and ``mean`` differs only by float64 summation.
    Memory: one (block, block) tile at a time; ``stock`` is unpacked one block at a time.
    """
    import torch

    gen_bits = torch.from_numpy(_unpacked(gen).astype(np.int8))
    gen_counts = gen_bits.sum(1, dtype=torch.int32).float()
    agg_values = torch.zeros(len(gen_bits), dtype=torch.float64)
    for j in range(0, len(stock), block):
        ref_bits = torch.from_numpy(_unpacked(stock[j : j + block]).astype(np.int8))
        ref_counts = ref_bits.sum(1, dtype=torch.int32).float()
        both_empty = bool((gen_counts == 0).any() and (ref_counts == 0).any())
        for i in range(0, len(gen_bits), block):
            jac = _tanimoto_tile(
                gen_bits[i : i + block], gen_counts[i : i + block], ref_bits, ref_counts, both_empty
            )
            if p != 1:
                jac.pow_(p)
            part = agg_values[i : i + block]
            if agg == "max":
                torch.maximum(part, jac.max(1).values.double(), out=part)
            else:
                part += jac.sum(1, dtype=torch.float64)
    if agg == "mean":
        agg_values /= len(stock)
    if p != 1:
        agg_values = agg_values ** (1 / p)
    return float(agg_values.mean()) if len(agg_values) else float("nan")


def _tanimoto_tile(gen_bits, gen_counts, ref_bits, ref_counts, both_empty: bool):
    """(g, 1024), (r, 1024) int8 bit rows -> (g, r) float32 Tanimoto (0/0 -> 1)."""
    import torch

    jac = torch._int_mm(gen_bits, ref_bits.T).float()  # |a & b|, exact
    union = gen_counts[:, None] + ref_counts[None, :]
    union.sub_(jac)
    jac.div_(union)
    if both_empty:
        jac.nan_to_num_(nan=1.0)
    return jac


def _unpacked(fps: np.ndarray) -> np.ndarray:
    fps = np.asarray(fps, np.uint8)
    return np.unpackbits(fps, axis=1) if fps.shape[1] == FP_BITS // 8 else fps


def internal_diversity(fps: np.ndarray, p: int = 1) -> float:
    """MOSES IntDiv_p = 1 - mean pairwise Tanimoto^p (self pairs included), p-th root."""
    return 1.0 - average_agg_tanimoto(fps, fps, agg="mean", p=p)


def cosine_similarity(ref: Counter, gen: Counter) -> float:
    """MOSES ``cos_similarity`` of two count dictionaries (NaN when one is empty)."""
    if not ref or not gen:
        return float("nan")
    keys = sorted(set(ref) | set(gen))
    a = np.array([ref.get(k, 0) for k in keys], np.float64)
    b = np.array([gen.get(k, 0) for k in keys], np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def reference_stats(records: Sequence[MolRecord | None]) -> ReferenceStats:
    """Fingerprints and fragment / scaffold counts of the valid records."""
    valid = [r for r in records if r is not None]
    fps = np.stack([r.fingerprint for r in valid]) if valid else np.zeros((0, FP_BITS // 8), np.uint8)
    frags = Counter(f for r in valid for f in r.fragments)
    scafs = Counter(r.scaffold for r in valid if r.scaffold is not None)
    return ReferenceStats(fps, frags, scafs)


def cached_reference_stats(smiles: Sequence[str], n_jobs=None, progress=False) -> ReferenceStats:
    """``reference_stats`` of a SMILES list, cached as plain arrays under ``cache_dir()/metrics``."""
    from unigen.chem.metrics.cache import cache_path, load_cached, save_npz, smiles_key

    path = cache_path("moses", smiles_key(list(smiles)), "npz")
    cached = load_cached(path, _read_reference_stats)
    if cached is not None:
        return cached
    stats = reference_stats(molecule_records(smiles, with_filters=False, n_jobs=n_jobs, progress=progress))
    save_npz(
        path,
        fps=stats.fingerprints,
        frag_keys=np.array(list(stats.fragments), dtype=str),
        frag_counts=np.array(list(stats.fragments.values()), dtype=np.int64),
        scaf_keys=np.array(list(stats.scaffolds), dtype=str),
        scaf_counts=np.array(list(stats.scaffolds.values()), dtype=np.int64),
    )
    return stats


def _read_reference_stats(path) -> ReferenceStats:
    from unigen.chem.metrics.cache import read_npz

    f = read_npz(path, ("fps", "frag_keys", "frag_counts", "scaf_keys", "scaf_counts"))
    if f["fps"].ndim != 2 or f["fps"].shape[1] != FP_BITS // 8 or f["fps"].dtype != np.uint8:
        raise ValueError(f"fingerprints of shape {f['fps'].shape} and type {f['fps'].dtype}")
    if len(f["frag_keys"]) != len(f["frag_counts"]) or len(f["scaf_keys"]) != len(f["scaf_counts"]):
        raise ValueError("fragment or scaffold keys and counts differ in length")
    return ReferenceStats(
        f["fps"],
        Counter(dict(zip(f["frag_keys"].tolist(), f["frag_counts"].tolist()))),
        Counter(dict(zip(f["scaf_keys"].tolist(), f["scaf_counts"].tolist()))),
    )


def moses_metrics(
    gen: ReferenceStats, passes: Sequence[bool], refs: dict[str, ReferenceStats]
) -> dict[str, float]:
    """IntDiv, IntDiv2, Filters, and SNN / Frag / Scaf against each named reference set.

    gen: statistics of the valid generated molecules; passes: filter result per valid molecule;
    refs: e.g. {"Test": ..., "TestSF": ...}.
    """
    out = {}
    for name, ref in refs.items():
        out[f"SNN/{name}"] = average_agg_tanimoto(ref.fingerprints, gen.fingerprints, agg="max")
        out[f"Frag/{name}"] = cosine_similarity(ref.fragments, gen.fragments)
        out[f"Scaf/{name}"] = cosine_similarity(ref.scaffolds, gen.scaffolds)
    out["IntDiv"] = internal_diversity(gen.fingerprints, p=1)
    out["IntDiv2"] = internal_diversity(gen.fingerprints, p=2)
    out["Filters"] = float(np.mean(passes)) if len(passes) else float("nan")
    return out
