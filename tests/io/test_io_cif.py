"""CIF reading: symmetry expansion, partial occupancy policies, one bad block among good ones."""

import csv
from pathlib import Path

import numpy as np
import pytest
from conftest import data_path, requires_data

import unigen.io as uio
from unigen.errors import UnigenError, UsageError

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "fixtures"


def _site_set(crystal, z):
    return {tuple(np.round(f, 4) % 1.0) for f in crystal.frac_coords[crystal.atomic_numbers == z]}


def test_nacl_from_the_space_group_symbol_expands_to_the_8_atom_conventional_cell():
    result = uio.read(FIXTURES / "nacl_fm-3m.cif")
    # the data_ line inside the semicolon text field did not start a second block
    assert result.errors == [] and len(result) == 1
    nacl = result.records[0]
    assert nacl.meta["name"] == "NaCl_rocksalt"
    assert sorted(nacl.atomic_numbers.tolist()) == [11] * 4 + [17] * 4
    assert _site_set(nacl, 11) == {(0, 0, 0), (0, 0.5, 0.5), (0.5, 0, 0.5), (0.5, 0.5, 0)}
    assert _site_set(nacl, 17) == {(0.5, 0.5, 0.5), (0.5, 0, 0), (0, 0.5, 0), (0, 0, 0.5)}
    np.testing.assert_allclose(nacl.volume, 5.6402**3, rtol=1e-9)


def test_rutile_listed_symmetry_operations_give_the_hand_computed_sites():
    rutile = uio.read(FIXTURES / "rutile_symops.cif").records[0]
    x = 0.3049
    assert _site_set(rutile, 22) == {(0, 0, 0), (0.5, 0.5, 0.5)}
    expected_o = {(x, x, 0), (1 - x, 1 - x, 0), (0.5 - x, 0.5 + x, 0.5), (0.5 + x, 0.5 - x, 0.5)}
    assert _site_set(rutile, 8) == {tuple(np.round(p, 4)) for p in expected_o}
    np.testing.assert_allclose(np.linalg.norm(rutile.lattice, axis=1), [4.594, 4.594, 2.959], rtol=1e-9)


def test_multi_block_file_reports_the_broken_block_and_reads_the_others():
    result = uio.read(FIXTURES / "multi_block.cif")
    assert [c.meta["name"] for c in result.records] == ["CsCl", "Cu_fcc"]
    assert [c.num_atoms for c in result.records] == [2, 4]
    assert [c.meta["record"] for c in result.records] == [1, 3]
    (error,) = result.errors
    assert error.record == 2
    message = str(error)
    assert "multi_block.cif" in message and "data_broken_no_cell" in message and "_cell_length_a" in message
    assert "\n" not in message


def test_partial_occupancy_is_a_per_record_error_by_default():
    result = uio.read(FIXTURES / "partial_occupancy.cif")
    assert result.records == []
    assert [e.record for e in result.errors] == [1, 2]
    assert "partially occupied" in str(result.errors[0]) and "Fe:0.75" in str(result.errors[0])
    assert "occupancy='majority'" in str(result.errors[0])


def test_majority_policy_keeps_the_majority_species_and_rejects_a_mostly_empty_site():
    result = uio.read(FIXTURES / "partial_occupancy.cif", occupancy="majority")
    (feo,) = result.records
    assert sorted(feo.atomic_numbers.tolist()) == [8, 26]
    assert feo.meta["disorder_resolved"] == 1
    (error,) = result.errors
    assert error.record == 2 and "no majority species" in str(error) and "Li:0.3" in str(error)


def test_majority_policy_refuses_a_tie(tmp_path):
    text = (FIXTURES / "partial_occupancy.cif").read_text().replace("0.75", "0.5").replace("0.25", "0.5")
    (tmp_path / "tie.cif").write_text(text)
    errors = uio.read(tmp_path / "tie.cif", occupancy="majority").errors
    assert errors[0].record == 1 and "no majority species" in str(errors[0])


def test_unknown_occupancy_policy_is_a_usage_error():
    with pytest.raises(UsageError, match="occupancy must be one of error, majority"):
        uio.read(FIXTURES / "nacl_fm-3m.cif", occupancy="average")


def test_truncated_cif_reports_only_the_cut_block(tmp_path):
    text = (FIXTURES / "multi_block.cif").read_text()
    cut = text[: text.index("_cell_length_b   3.615")]
    (tmp_path / "cut.cif").write_text(cut)
    result = uio.read(tmp_path / "cut.cif")
    assert [c.meta["name"] for c in result.records] == ["CsCl"]
    assert [e.record for e in result.errors] == [2, 3]
    assert "_cell_length_b" in str(result.errors[1])


def test_a_file_without_data_blocks_is_one_clear_error(tmp_path):
    (tmp_path / "notcif.cif").write_text("just some words\n")
    with pytest.raises(UnigenError, match="notcif.cif: no data_ block"):
        uio.read(tmp_path / "notcif.cif")


@requires_data("mp_20", "subset_OPRYAN90", "test.csv")
@pytest.mark.filterwarnings("ignore::UserWarning")  # pymatgen's notes while building the reference
def test_materials_project_cifs_read_like_pymatgen(tmp_path):
    from pymatgen.core import Structure

    rows = list(csv.DictReader(open(data_path("mp_20", "subset_OPRYAN90", "test.csv"))))[:40]
    (tmp_path / "mp.cif").write_text("\n".join(row["cif"] for row in rows))
    result = uio.read(tmp_path / "mp.cif")
    assert result.errors == [] and len(result) == len(rows)
    for row, crystal in zip(rows, result.records):
        reference = Structure.from_str(row["cif"], fmt="cif")
        assert sorted(reference.atomic_numbers) == sorted(crystal.atomic_numbers.tolist())
        np.testing.assert_allclose(crystal.volume, reference.volume, rtol=1e-6)


def test_occupancy_slightly_above_one_is_an_error_unless_tolerated(tmp_path):
    text = (FIXTURES / "partial_occupancy.cif").read_text().replace("0.5 0.5 0.5 1.0", "0.5 0.5 0.5 1.02")
    (tmp_path / "over.cif").write_text(text)
    errors = uio.read(tmp_path / "over.cif", occupancy="majority").errors
    assert [e.record for e in errors] == [1, 2] and "Occupancy 1.02 exceeded tolerance" in str(errors[0])
    assert "occupancy_tolerance" in str(errors[0])
    result = uio.read(tmp_path / "over.cif", occupancy="majority", occupancy_tolerance=1.05)
    assert sorted(result.records[0].atomic_numbers.tolist()) == [8, 26]
