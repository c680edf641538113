"""3D molecule metrics, EDM protocol (Hoogeboom et al. 2022; re-implemented, not copied).

* Bonds are inferred from interatomic distances with EDM's bond-length tables and margins
  (``unigen.chem.bonds``). An atom is **stable** when the sum of its bond orders is an allowed
  valence; a molecule is stable when all its atoms are (``unigen.chem.validity.stability_3d``).
  Atom stability pools atoms over all molecules.
* **Validity**: an RDKit molecule built from the same bonds (``mol3d_to_rdkit(bonds="edm")``)
  that sanitises; its largest fragment is kept, as in EDM's ``BasicMolecularMetrics``. With
  ``protocol="geom"`` every inferred bond is made single before sanitising (EDM's
  ``limit_bonds_to_one`` for GEOM-Drugs); stability still uses the full bond orders.
* **Uniqueness** = distinct canonical SMILES / valid; **V x U** = validity x uniqueness;
  **novelty** (with training SMILES) = unique valid SMILES absent from the training set / unique.
  SMILES are canonical RDKit SMILES of the largest fragment with hydrogens removed, so they
  compare with dataset SMILES; EDM keeps explicit hydrogens in its strings, which gives the
  same partition into unique molecules.
* A malformed record (``None``) is unstable and invalid; it adds no atoms to atom stability.
"""

from __future__ import annotations

from functools import partial
from typing import Sequence

from unigen.chem.metrics import fraction, parallel_map
from unigen.structures import Molecule3D

PROTOCOLS = ("edm", "geom")


def evaluate_molecule3d(molecule: Molecule3D | None, protocol: str = "edm") -> dict:
    """Stability counts and the canonical SMILES (or the reason it is invalid) of one molecule.

    Returns ``{"stable": bool, "n_stable_atoms": int, "n_atoms": int, "smiles": str | None,
    "reason": str | None}``.
    """
    if molecule is None or molecule.num_atoms == 0:
        reason = "malformed record" if molecule is None else "no atoms"
        return {"stable": False, "n_stable_atoms": 0, "n_atoms": 0, "smiles": None, "reason": reason}
    from unigen.chem.validity import stability_3d

    try:
        stable, n_stable, n_atoms = stability_3d(molecule)
    except ValueError as err:  # an element outside the bond tables
        return {
            "stable": False,
            "n_stable_atoms": 0,
            "n_atoms": molecule.num_atoms,
            "smiles": None,
            "reason": str(err),
        }
    smiles, reason = edm_smiles(molecule, single_bonds_only=protocol == "geom")
    return {
        "stable": bool(stable),
        "n_stable_atoms": int(n_stable),
        "n_atoms": int(n_atoms),
        "smiles": smiles,
        "reason": reason,
    }


def edm_smiles(molecule: Molecule3D, single_bonds_only: bool = False) -> tuple[str | None, str | None]:
    """(canonical SMILES of the largest fragment, None) or (None, why it is invalid)."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")  # the reason is returned; RDKit's stderr lines would flood a 10k run

    from unigen.chem.convert import mol3d_to_rdkit

    try:
        mol = mol3d_to_rdkit(molecule, bonds="edm")
    except ValueError as err:
        return None, str(err)
    if single_bonds_only:
        for bond in mol.GetBonds():
            bond.SetBondType(Chem.BondType.SINGLE)
    try:
        Chem.SanitizeMol(mol)
    except Exception as err:  # RDKit raises several sanitisation error types
        return (
            None,
            f"RDKit sanitisation failed: {str(err).splitlines()[0] if str(err) else type(err).__name__}",
        )
    largest = max(Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=False), key=lambda m: m.GetNumAtoms())
    return _smiles_without_hs(largest), None


def _smiles_without_hs(mol) -> str:
    from rdkit import Chem

    try:
        mol = Chem.RemoveHs(mol)
    except Exception:  # RemoveHs can refuse unusual H environments; keep the explicit form
        pass
    return Chem.MolToSmiles(mol)


def score_molecules3d(
    molecules: Sequence[Molecule3D | None],
    protocol: str = "edm",
    train_smiles: Sequence[str] | None = None,
    n_jobs: int | None = None,
    progress: bool = False,
) -> dict:
    """EDM metrics of generated 3D molecules.

    Args:
        molecules: generated molecules with explicit hydrogens; ``None`` = malformed record.
        protocol: "edm" (QM9) or "geom" (GEOM-Drugs: validity with all-single bonds).
        train_smiles: training-set SMILES for novelty (optional).

    Returns:
        ``{"n", "atom_stability", "mol_stability", "validity", "uniqueness", "valid_x_unique",
        ["novelty"], "invalid_indices", "invalid": [{"index", "reason"}]}``.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown 3D protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    records = parallel_map(
        partial(evaluate_molecule3d, protocol=protocol),
        list(molecules),
        n_jobs,
        progress,
        desc="3D molecules",
    )
    result = _stability(records)
    result.update(_validity_uniqueness(records))
    if train_smiles is not None:
        result["novelty"] = novelty(records, train_smiles)
    return result


def _stability(records: Sequence[dict]) -> dict:
    return {
        "n": len(records),
        "atom_stability": fraction(
            sum(r["n_stable_atoms"] for r in records), sum(r["n_atoms"] for r in records)
        ),
        "mol_stability": fraction(sum(r["stable"] for r in records), len(records)),
    }


def _validity_uniqueness(records: Sequence[dict]) -> dict:
    valid = [r["smiles"] for r in records if r["smiles"] is not None]
    validity = fraction(len(valid), len(records))
    uniqueness = fraction(len(set(valid)), len(valid))
    invalid = [{"index": i, "reason": r["reason"]} for i, r in enumerate(records) if r["smiles"] is None]
    return {
        "validity": validity,
        "uniqueness": uniqueness,
        "valid_x_unique": validity * uniqueness,
        "invalid_indices": [item["index"] for item in invalid],
        "invalid": invalid,
    }


def novelty(records: Sequence[dict], train_smiles: Sequence[str]) -> float:
    """Unique valid SMILES not in the (canonicalised) training set / unique valid SMILES."""
    from unigen.chem.convert import canonical_smiles

    unique = {r["smiles"] for r in records if r["smiles"] is not None}
    train = {canonical_smiles(s) for s in train_smiles} - {None}
    return fraction(len(unique - train), len(unique))
