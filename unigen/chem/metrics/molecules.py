"""2D molecule metrics: validity, uniqueness, novelty, V.U.N., FCD, NSPDK MMD and the MOSES set.

Protocols (``protocol=``), each pinning how a record becomes the molecule that is scored:

- ``gdss``: a SMILES record is valid when RDKit parses and sanitises it (the SMILES analogue of
  GDSS's "validity w/o correction": explicit charges such as [N+] are accepted as written). For a
  ``MolGraph`` record, ``unigen.chem.validity.valid_mol(graph, "gdss")`` decides (the +1 charge rule
  on N, O, S). The scored molecule is the largest fragment by canonical-SMILES length, as GDSS's
  ``valid_mol_can_with_seg``.
- ``digress``: valid when it sanitises; the scored molecule is the fragment with most atoms.
- ``moses``: MOSES ``get_mol`` (parse + sanitise), whole molecule, no fragment selection.

Denominators (documented because GDSS issue #3 is about exactly this):

- validity = valid records / **all** records, including None, empty and malformed ones
  (GDSS's printed value divides by the molecules that survived its own post-processing);
- uniqueness = distinct canonical SMILES / valid records (MOSES ``unique@k`` with k = all);
- novelty = distinct canonical SMILES absent from the canonical training set / distinct
  (MOSES ``novelty``, DiGress);
- vu = distinct / all records, vun = distinct and novel / all records.

FCD and NSPDK are computed on the valid molecules (canonical SMILES; GDSS labels for NSPDK)
against the test set; the MOSES metrics (SNN, Frag, Scaf against test and scaffold test, IntDiv,
IntDiv2, Filters) on the valid molecules too, as ``molsets.get_all_metrics`` does.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from unigen.chem.metrics._parallel import chunked_map
from unigen.errors import UsageError

PROTOCOLS = ("gdss", "digress", "moses")
ALL_METRICS = ("validity", "uniqueness", "novelty", "fcd", "nspdk", "moses")
DEFAULT_METRICS = {
    "gdss": ("validity", "uniqueness", "novelty", "fcd", "nspdk"),
    "digress": ("validity", "uniqueness", "novelty", "fcd"),
    "moses": ("validity", "uniqueness", "novelty", "fcd", "moses"),
}


# ---------------------------------------------------------------------------------------
# record -> scored molecule


def _largest_fragment(mol, protocol: str):
    """GDSS: longest fragment SMILES (re-parsed); DiGress: fragment with most atoms; MOSES: all."""
    from rdkit import Chem

    if protocol == "moses" or len(Chem.GetMolFrags(mol)) == 1:
        return mol
    if protocol == "gdss":
        parts = Chem.MolToSmiles(mol).split(".")
        return Chem.MolFromSmiles(max(parts, key=len))
    frags = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=True)
    return max(frags, key=lambda m: m.GetNumAtoms())


def _parse_record(record, protocol: str):
    """A SMILES string, RDKit Mol or MolGraph -> sanitised Mol, or None when invalid."""
    from rdkit import Chem

    if record is None:
        return None
    if isinstance(record, str):
        if not record.strip():
            return None
        try:
            from unigen.chem.convert import parse_smiles

            return parse_smiles(record.strip())
        except ValueError:
            return None
    if isinstance(record, Chem.Mol):
        mol = Chem.Mol(record)
        try:
            Chem.SanitizeMol(mol)
        except Exception:  # RDKit raises several types (AtomValenceException, KekulizeException, ...)
            return None
        return mol
    from unigen.chem.validity import valid_mol

    return valid_mol(record, "gdss" if protocol == "gdss" else "digress")


def scored_smiles(record, protocol: str) -> str | None:
    """Canonical SMILES of the molecule that the protocol scores for one record, or None."""
    from rdkit import Chem

    mol = _parse_record(record, protocol)
    if mol is None:
        return None
    mol = _largest_fragment(mol, protocol)
    return None if mol is None else Chem.MolToSmiles(mol)


def _scored_chunk(args_chunk: list) -> list:
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")
    return [scored_smiles(record, protocol) for record, protocol in args_chunk]


def _canonical_chunk(smiles: list) -> list:
    from rdkit import RDLogger

    from unigen.chem.convert import canonical_smiles

    RDLogger.DisableLog("rdApp.*")
    return [canonical_smiles(s) for s in smiles]


def canonical_list(smiles: Sequence[str], n_jobs=None, progress=False) -> list[str | None]:
    """Canonical SMILES of each entry (None where RDKit rejects it), cached under ``cache_dir()/metrics``."""
    from unigen.atomic import atomic_write
    from unigen.chem.metrics.cache import cache_path, load_cached, smiles_key

    smiles = list(smiles)
    path = cache_path("canonical", smiles_key(smiles), "txt")
    cached = load_cached(path, lambda p: _read_lines(p, len(smiles)))
    if cached is not None:
        return cached
    canon = chunked_map(
        _canonical_chunk, smiles, n_jobs, chunk_size=5000, progress=progress, desc="canonical SMILES"
    )
    with atomic_write(path) as f:
        f.write("\n".join(c or "" for c in canon))
    return canon


def _read_lines(path, expected: int) -> list[str | None]:
    lines = path.read_text().split("\n")
    if len(lines) != expected:
        raise ValueError(f"{len(lines)} lines for {expected} SMILES")
    return [line or None for line in lines]


def canonical_set(smiles: Sequence[str], n_jobs=None, progress=False) -> set[str]:
    """Set of the canonical SMILES of a (training) list."""
    return {c for c in canonical_list(smiles, n_jobs, progress) if c}


# ---------------------------------------------------------------------------------------
# metric groups


def _basic_metrics(scored: list, train: set[str] | None) -> dict:
    n = len(scored)
    valid = [s for s in scored if s is not None]
    unique = set(valid)
    out = {
        "validity": len(valid) / n,
        "uniqueness": len(unique) / len(valid) if valid else float("nan"),
        "vu": len(unique) / n,
        "num_generated": n,
        "num_valid": len(valid),
    }
    if train is not None:
        novel = unique - train
        out["novelty"] = len(novel) / len(unique) if unique else float("nan")
        out["vun"] = len(novel) / n
    return out


def _reference_canonical(test_smiles, protocol, n_jobs):
    """GDSS and DiGress compare against canonicalised test SMILES; MOSES uses the file as given."""
    if protocol == "moses":
        return list(test_smiles)
    return [c for c in canonical_list(test_smiles, n_jobs) if c]


def _nspdk_reference(test_smiles: Sequence[str], n_jobs) -> np.ndarray:
    """Mean NSPDK features of the test molecules, cached by SMILES hash."""
    from unigen.atomic import atomic_write
    from unigen.chem.metrics.cache import cache_path, load_cached, smiles_key
    from unigen.chem.metrics.nspdk import FEATURE_SIZE, mean_features

    path = cache_path("nspdk", smiles_key(list(test_smiles)), "npy")
    cached = load_cached(path, lambda p: _read_vector(p, FEATURE_SIZE))
    if cached is not None:
        return cached
    mean = mean_features(_labelled_graphs(test_smiles), n_jobs)
    with atomic_write(path, "wb") as f:
        np.save(f, mean)
    return mean


def _read_vector(path, size: int) -> np.ndarray:
    vector = np.load(path, allow_pickle=False)
    if vector.shape != (size,):
        raise ValueError(f"a vector of shape {vector.shape}, expected ({size},)")
    return vector


def _labelled_graphs(smiles: Sequence[str]) -> list:
    from rdkit import Chem, RDLogger

    from unigen.chem.metrics.nspdk import mol_to_labelled_graph

    RDLogger.DisableLog("rdApp.*")
    mols = (Chem.MolFromSmiles(s) for s in smiles)
    return [mol_to_labelled_graph(m) for m in mols if m is not None]


def _nspdk_metric(valid: list[str], test_smiles, n_jobs, progress) -> float:
    from unigen.chem.metrics.mmd import linear_mmd
    from unigen.chem.metrics.nspdk import mean_features

    graphs = [g for g in _labelled_graphs(valid) if len(g.node_labels) > 0]
    if not graphs:
        return float("nan")
    return linear_mmd(_nspdk_reference(test_smiles, n_jobs), mean_features(graphs, n_jobs, progress))


def _fcd_metrics(valid, test_smiles, test_scaffold_smiles, protocol, n_jobs, progress) -> dict:
    from unigen.chem.metrics.fcd import fcd_stats, frechet_distance

    if len(valid) < 2:
        return {"FCD/Test": float("nan")}
    gen = fcd_stats(valid, cache=False, progress=progress)
    out = {"FCD/Test": frechet_distance(gen, fcd_stats(_reference_canonical(test_smiles, protocol, n_jobs)))}
    if test_scaffold_smiles is not None:
        ref = fcd_stats(_reference_canonical(test_scaffold_smiles, protocol, n_jobs))
        out["FCD/TestSF"] = frechet_distance(gen, ref)
    return out


def _moses_group(valid, test_smiles, test_scaffold_smiles, n_jobs, progress) -> dict:
    from unigen.chem.metrics import moses

    records = moses.molecule_records(valid, n_jobs=n_jobs, progress=progress)
    kept = [r for r in records if r is not None]
    refs = {}
    if test_smiles is not None:
        refs["Test"] = moses.cached_reference_stats(test_smiles, n_jobs, progress)
    if test_scaffold_smiles is not None:
        refs["TestSF"] = moses.cached_reference_stats(test_scaffold_smiles, n_jobs, progress)
    return moses.moses_metrics(moses.reference_stats(kept), [r.passes_filters for r in kept], refs)


# ---------------------------------------------------------------------------------------
# entry point


def _check_arguments(smiles, protocol, metrics) -> tuple[str, ...]:
    if protocol not in PROTOCOLS:
        raise UsageError(f"unknown molecule protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
    if len(smiles) == 0:
        raise UsageError("no molecules to score")
    chosen = tuple(metrics) if metrics else DEFAULT_METRICS[protocol]
    unknown = [m for m in chosen if m not in ALL_METRICS]
    if unknown:
        raise UsageError(f"unknown molecule metric(s) {', '.join(unknown)}; valid: {', '.join(ALL_METRICS)}")
    return chosen


def score_molecules(
    smiles: Sequence,
    train_smiles: Sequence[str] | None = None,
    test_smiles: Sequence[str] | None = None,
    test_scaffold_smiles: Sequence[str] | None = None,
    protocol: str = "gdss",
    metrics: Sequence[str] | None = None,
    n_jobs: int | None = None,
    progress: bool = False,
) -> dict:
    """Score generated molecules (SMILES strings; None for records that failed to decode).

    ``RDKit Mol`` and ``MolGraph`` records are accepted too. Metrics that need a training or test
    set are skipped when it is not given. Returns floats keyed validity, uniqueness, novelty, vu,
    vun, FCD/Test, FCD/TestSF, NSPDK/Test, SNN/..., Frag/..., Scaf/..., IntDiv, IntDiv2, Filters,
    plus num_generated, num_valid and ``invalid_indices`` (list of input positions judged invalid).
    """
    chosen = _check_arguments(smiles, protocol, metrics)
    scored = chunked_map(_scored_chunk, [(s, protocol) for s in smiles], n_jobs, 2500, progress, "validity")
    train = (
        canonical_set(train_smiles, n_jobs, progress)
        if train_smiles is not None and "novelty" in chosen
        else None
    )
    out = _basic_metrics(scored, train)
    valid = [s for s in scored if s is not None]
    if "fcd" in chosen and test_smiles is not None:
        out.update(_fcd_metrics(valid, test_smiles, test_scaffold_smiles, protocol, n_jobs, progress))
    if "nspdk" in chosen and test_smiles is not None:
        out["NSPDK/Test"] = _nspdk_metric(valid, test_smiles, n_jobs, progress)
    if "moses" in chosen and valid:
        out.update(_moses_group(valid, test_smiles, test_scaffold_smiles, n_jobs, progress))
    out["invalid_indices"] = [i for i, s in enumerate(scored) if s is None]
    return out
