"""CDVAE crystal datasets: CIF parsing as CDVAE does it, subsets, missing split files."""

import numpy as np
import pytest
from conftest import data_path, requires_data

from unigen.data import load_dataset
from unigen.errors import UnigenError
from unigen.structures import Crystal


@requires_data("perov_5", "test.csv")
def test_perov5_test_rows_become_canonical_crystals():
    crystals = load_dataset("perov_5", "test", limit=8)
    assert len(crystals) == 8 and all(isinstance(c, Crystal) for c in crystals)
    assert all(c.num_atoms == 5 for c in crystals)
    first = crystals[0]
    assert first.meta["material_id"] == "3961" and first.meta["cif"].startswith("# generated using pymatgen")
    assert isinstance(first.meta["heat_ref"], float)
    # the lattice is rebuilt from its parameters: a along x, b in the xy plane
    assert (
        abs(first.lattice[0, 1]) < 1e-9
        and abs(first.lattice[0, 2]) < 1e-9
        and abs(first.lattice[1, 2]) < 1e-9
    )
    assert first.volume == pytest.approx(66.74168089, rel=1e-6)  # _cell_volume of that CIF


@requires_data("perov_5", "test.csv")
def test_niggli_reduction_keeps_composition_and_volume():
    reduced = load_dataset("perov_5", "test", limit=5)
    raw = load_dataset("perov_5", "test", limit=5, niggli=False)
    for a, b in zip(reduced, raw):
        assert sorted(a.atomic_numbers.tolist()) == sorted(b.atomic_numbers.tolist())
        assert a.volume == pytest.approx(b.volume, rel=1e-6)
        assert ((a.frac_coords >= 0) & (a.frac_coords < 1)).all()


@requires_data("mp_20", "subset_OPRYAN90", "val.csv")
def test_mp20_subset_is_opt_in_and_full_split_missing_names_the_file(tmp_path):
    val = load_dataset("mp_20", "val", subset="OPRYAN90")
    assert len(val) == 123 and all(1 <= c.num_atoms <= 20 for c in val)
    assert val[0].meta["material_id"].startswith("mp-")
    if not data_path("mp_20", "val.csv").exists():
        with pytest.raises(UnigenError, match=r"mp_20/val.csv .*subset='OPRYAN90'"):
            load_dataset("mp_20", "val")


@requires_data("carbon_24", "val.csv")
def test_carbon24_is_all_carbon():
    crystals = load_dataset("carbon_24", "val", limit=10)
    assert all(set(c.atomic_numbers.tolist()) == {6} and 6 <= c.num_atoms <= 24 for c in crystals)


def test_bad_cif_is_a_record_error_naming_file_and_row(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIGEN_DATA_DIR", str(tmp_path))
    (tmp_path / "carbon_24").mkdir()
    (tmp_path / "carbon_24" / "test.csv").write_text(
        ',material_id,cif,energy_per_atom\n0,x1,"data_broken\n_cell_length_a oops",1.0\n'
    )
    with pytest.raises(UnigenError, match=r"carbon_24/test.csv: record data row 0: unreadable CIF"):
        load_dataset("carbon_24", "test")


@pytest.mark.slow
@requires_data("perov_5", "test.csv")
def test_full_perov5_test_split_matches_stats():
    crystals = load_dataset("perov_5", "test")
    assert len(crystals) == 3785
    assert np.all([c.num_atoms == 5 for c in crystals])
