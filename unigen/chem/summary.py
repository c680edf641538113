"""What ``unigen generate`` prints about freshly generated records, by record type.

``summarise(records, train_hashes)`` returns ``(records to write, summary dict)``:

- MolGraph: GDSS's post-processing (``validity.gdss_postprocess``: +1 charge rule, valency
  correction, largest fragment). ``validity_wo_correction`` comes first (denominator: all
  generated graphs), then ``validity`` after correction; uniqueness is over the valid
  molecules; novelty over the unique valid ones against ``train_hashes`` (the sorted
  :func:`smiles_hash` of the training SMILES a checkpoint carries), None without them.
  Written records carry ``meta["smiles"]``.
- Graph: count and mean size. Molecule3D: EDM stability and validity. Crystal: CDVAE validity.

Training-set hashes (:func:`training_hashes`) let novelty be computed offline from a checkpoint.
"""

from __future__ import annotations

import hashlib

import numpy as np

from unigen.structures import Crystal, Graph, Molecule3D, MolGraph


def smiles_hash(smiles: str) -> int:
    """A stable signed 64-bit hash of a canonical SMILES."""
    return int.from_bytes(hashlib.blake2b(smiles.encode(), digest_size=8).digest(), "little", signed=True)


def training_hashes(records) -> list[int]:
    """Sorted unique hashes of the canonical SMILES of the (valid) training molecules."""
    from unigen.chem.convert import graph_to_smiles

    hashes = set()
    for record in records:
        try:
            hashes.add(smiles_hash(graph_to_smiles(record)))
        except ValueError:
            continue
    return sorted(hashes)


def contains(sorted_hashes: np.ndarray, smiles: str) -> bool:
    """Whether a canonical SMILES is in a sorted hash array."""
    h = np.int64(smiles_hash(smiles))
    i = int(np.searchsorted(sorted_hashes, h))
    return i < len(sorted_hashes) and sorted_hashes[i] == h


def summarise(records: list, train_hashes=None) -> tuple[list, dict]:
    """(records to write, summary) for generated records of one type (see the module docstring)."""
    if not records:
        return [], {"generated": 0}
    kind = type(records[0])
    if kind is MolGraph:
        return _molecules(records, train_hashes)
    if kind is Graph:
        return records, {
            "generated": len(records),
            "mean_nodes": sum(g.num_nodes for g in records) / len(records),
        }
    if kind is Molecule3D:
        from unigen.chem.metrics.molecules3d import score_molecules3d

        scores = score_molecules3d(records)
        return records, {
            "generated": len(records),
            **{k: scores[k] for k in ("atom_stability", "mol_stability", "validity", "uniqueness")},
        }
    if kind is Crystal:
        from unigen.chem.metrics.crystals import evaluate_crystals, validity_summary

        scores = validity_summary(evaluate_crystals(records, fingerprints=False))
        return records, {
            "generated": len(records),
            **{k: scores[k] for k in ("struct_validity", "comp_validity", "validity")},
        }
    raise TypeError(f"no summary for {kind.__name__} records")


def _molecules(graphs: list[MolGraph], train_hashes) -> tuple[list, dict]:
    from rdkit import Chem, RDLogger

    from unigen.chem.convert import mol_to_graph
    from unigen.chem.validity import gdss_postprocess

    RDLogger.DisableLog("rdApp.*")  # invalid samples are counted, not printed one by one
    valid_wo_correction, records = 0, []
    for graph in graphs:
        ok, mol = gdss_postprocess(graph)
        valid_wo_correction += bool(ok)
        if mol is not None:
            record = mol_to_graph(mol)
            record.meta["smiles"] = Chem.MolToSmiles(mol)
            records.append(record)
    unique = {r.meta["smiles"] for r in records}
    hashes = None if train_hashes is None else np.asarray(train_hashes, dtype=np.int64)
    novel = None if hashes is None or not len(hashes) else [s for s in unique if not contains(hashes, s)]
    summary = {
        "generated": len(graphs),
        "validity_wo_correction": valid_wo_correction / len(graphs),
        "validity": len(records) / len(graphs),
        "uniqueness": len(unique) / max(len(records), 1),
        "novelty": None if novel is None else len(novel) / max(len(unique), 1),
    }
    return records, summary
