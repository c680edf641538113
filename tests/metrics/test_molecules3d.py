"""EDM 3D metrics on hand-built molecules: stability, validity, uniqueness, V x U, novelty."""

import numpy as np
import pytest

from unigen.chem.metrics.molecules3d import evaluate_molecule3d, score_molecules3d
from unigen.structures import Molecule3D

TETRAHEDRON = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)


def methane(ch=1.09, stretched_ch=None) -> Molecule3D:
    h = TETRAHEDRON * ch
    if stretched_ch is not None:
        h[0] = TETRAHEDRON[0] * stretched_ch
    return Molecule3D([6, 1, 1, 1, 1], np.vstack([[0, 0, 0], h]))


def water() -> Molecule3D:
    x, y = 0.96 * np.sin(np.deg2rad(104.5) / 2), 0.96 * np.cos(np.deg2rad(104.5) / 2)
    return Molecule3D([8, 1, 1], [[0, 0, 0], [x, y, 0], [-x, y, 0]])


def pentavalent_carbon() -> Molecule3D:
    h = np.vstack([TETRAHEDRON, [[0, 0, 1.0]]]) * 1.09  # five H within bonding distance
    return Molecule3D([6] + [1] * 5, np.vstack([[0, 0, 0], h]))


def ethylene() -> Molecule3D:
    c = [[0, 0, 0], [1.33, 0, 0]]
    h = [[-0.56, 0.94, 0], [-0.56, -0.94, 0], [1.89, 0.94, 0], [1.89, -0.94, 0]]
    return Molecule3D([6, 6, 1, 1, 1, 1], c + h)


def test_methane_with_correct_geometry_is_stable_and_valid():
    record = evaluate_molecule3d(methane())
    assert record["stable"] and record["n_stable_atoms"] == record["n_atoms"] == 5
    assert record["smiles"] == "C"


def test_stretched_bond_breaks_stability_of_both_atoms():
    record = evaluate_molecule3d(methane(stretched_ch=1.6))  # beyond 109 + 10 pm: no C-H bond
    assert not record["stable"]
    assert record["n_stable_atoms"] == 3  # the C (valence 3) and the lone H (valence 0) fail
    # EDM validity keeps the largest fragment, which RDKit completes with an implicit H
    assert record["smiles"] == "C"


def test_overvalent_carbon_is_invalid_with_a_reason():
    record = evaluate_molecule3d(pentavalent_carbon())
    assert record["smiles"] is None and "sanitisation" in record["reason"]


def test_validity_uniqueness_and_v_x_u_arithmetic():
    molecules = [methane(), methane(1.1), water(), pentavalent_carbon(), None]
    result = score_molecules3d(molecules, train_smiles=["C", "CC"], n_jobs=1)
    assert result["validity"] == pytest.approx(3 / 5)
    assert result["uniqueness"] == pytest.approx(2 / 3)  # C, C, O
    assert result["valid_x_unique"] == pytest.approx(3 / 5 * 2 / 3)
    assert result["novelty"] == pytest.approx(1 / 2)  # O is new, C is in the training set
    assert result["invalid_indices"] == [3, 4]
    assert result["invalid"][1]["reason"] == "malformed record"


def test_stability_pools_atoms_over_molecules():
    result = score_molecules3d([methane(), methane(stretched_ch=1.6), water(), None], n_jobs=1)
    assert result["atom_stability"] == pytest.approx((5 + 3 + 3) / (5 + 5 + 3))
    assert result["mol_stability"] == pytest.approx(2 / 4)


def test_geom_protocol_builds_single_bonds_only():
    assert evaluate_molecule3d(ethylene(), protocol="edm")["smiles"] == "C=C"
    assert evaluate_molecule3d(ethylene(), protocol="geom")["smiles"] == "CC"


def test_empty_and_unknown_element_molecules_are_invalid_not_errors():
    empty = Molecule3D(np.zeros(0, int), np.zeros((0, 3)))
    uranium = Molecule3D([92, 8], [[0, 0, 0], [1.8, 0, 0]])  # outside EDM's bond tables
    result = score_molecules3d([empty, uranium], n_jobs=1)
    assert result["validity"] == 0.0 and result["mol_stability"] == 0.0
    assert result["invalid"][0]["reason"] == "no atoms"


def test_unknown_protocol_is_rejected():
    with pytest.raises(ValueError, match="unknown 3D protocol"):
        score_molecules3d([methane()], protocol="gdss")
