"""What ``unigen generate`` prints about freshly generated records, by record type.

``summarise(records, train_hashes)`` returns ``(records to write, summary dict)``; a streamed
run feeds :class:`Summary` batch by batch (``add`` -> records to write, ``result`` at the end):

- MolGraph: GDSS's post-processing (``validity.gdss_postprocess``: +1 charge rule, valency
  correction, largest fragment). ``validity_wo_correction`` comes first (denominator: all
  generated graphs), then ``validity`` after correction; uniqueness is over the valid
  molecules; novelty over the unique valid ones against ``train_hashes`` (the sorted
  :func:`smiles_hash` of the training SMILES a checkpoint carries), None without them.
  Written records carry ``meta["smiles"]``, ``meta["index"]`` (0-based sample number in the
  run, so dropped samples leave gaps) and the flags ``valid_wo_correction`` / ``valid``, which
  the SDF writer stores as properties.
- Graph: count and mean size. Molecule3D: EDM stability and validity. Crystal: CDVAE validity,
  with ``struct_valid`` / ``comp_valid`` / ``valid`` in each record's meta (CIF comments).

The dict's order is the order to read it in: validity *without* correction first.

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
    summary = Summary(train_hashes)
    written = summary.add(records)
    return written, summary.result()


class Summary:
    """The summary of a run built batch by batch: ``add`` returns a batch's records to write
    and keeps only what the rates need (SMILES set, flags, counts), so a streamed run holds
    one batch of records. Molecule3D keeps its records: the EDM rates are computed at the end.
    """

    def __init__(self, train_hashes=None):
        self.hashes = None if train_hashes is None else np.asarray(train_hashes, dtype=np.int64)
        self.kind, self.generated = None, 0
        self.valid_wo_correction, self.written, self.smiles = 0, 0, set()  # MolGraph
        self.nodes, self.kept, self.flags = 0, [], []  # Graph; Molecule3D; Crystal

    def add(self, records: list) -> list:
        if not records:
            return []
        self.kind = self.kind or type(records[0])
        if self.kind not in _ADDERS:
            raise TypeError(f"no summary for {self.kind.__name__} records")
        written = _ADDERS[self.kind](self, records)
        self.generated += len(records)
        return written

    def result(self) -> dict:
        if not self.generated:
            return {"generated": 0}
        return {"generated": self.generated, **_RESULTS[self.kind](self)}

    # MolGraph: GDSS post-processing, validity without correction counted first
    def _add_molecules(self, graphs: list) -> list:
        from rdkit import Chem, RDLogger

        from unigen.chem.convert import mol_to_graph
        from unigen.chem.validity import gdss_postprocess

        RDLogger.DisableLog("rdApp.*")  # invalid samples are counted, not printed one by one
        records = []
        for index, graph in enumerate(graphs, start=self.generated):
            ok, mol = gdss_postprocess(graph)
            self.valid_wo_correction += bool(ok)
            if mol is not None:
                record = mol_to_graph(mol)
                record.meta.update(
                    smiles=Chem.MolToSmiles(mol), index=index, valid_wo_correction=bool(ok), valid=True
                )
                records.append(record)
        self.written += len(records)
        self.smiles.update(r.meta["smiles"] for r in records)
        return records

    def _molecule_rates(self) -> dict:
        n, unique = self.generated, self.smiles
        novel = None
        if self.hashes is not None and len(self.hashes):
            novel = [s for s in unique if not contains(self.hashes, s)]
        return {
            "validity_wo_correction": self.valid_wo_correction / n,
            "validity": self.written / n,
            "uniqueness": len(unique) / max(self.written, 1),
            "novelty": None if novel is None else len(novel) / max(len(unique), 1),
        }

    def _add_graphs(self, graphs: list) -> list:
        self.nodes += sum(g.num_nodes for g in graphs)
        return graphs

    def _graph_rates(self) -> dict:
        return {"mean_nodes": self.nodes / self.generated}

    def _add_molecules3d(self, molecules: list) -> list:
        self.kept += molecules
        return molecules

    def _molecule3d_rates(self) -> dict:
        from unigen.chem.metrics.molecules3d import score_molecules3d

        scores = score_molecules3d(self.kept)
        return {k: scores[k] for k in ("atom_stability", "mol_stability", "validity", "uniqueness")}

    def _add_crystals(self, crystals: list) -> list:
        from unigen.chem.metrics.crystals import evaluate_crystals

        flags = evaluate_crystals(crystals, fingerprints=False)
        for crystal, flag in zip(crystals, flags):
            crystal.meta.update({k: bool(flag[k]) for k in ("struct_valid", "comp_valid", "valid")})
        self.flags += [
            {k: flag[k] for k in ("struct_valid", "comp_valid", "valid", "reason")} for flag in flags
        ]
        return crystals

    def _crystal_rates(self) -> dict:
        from unigen.chem.metrics.crystals import validity_summary

        scores = validity_summary(self.flags)
        return {k: scores[k] for k in ("struct_validity", "comp_validity", "validity")}


_ADDERS = {MolGraph: Summary._add_molecules, Graph: Summary._add_graphs,
           Molecule3D: Summary._add_molecules3d, Crystal: Summary._add_crystals}  # fmt: skip
_RESULTS = {MolGraph: Summary._molecule_rates, Graph: Summary._graph_rates,
            Molecule3D: Summary._molecule3d_rates, Crystal: Summary._crystal_rates}  # fmt: skip
