"""MOSES: split sizes from the fast SMILES path; lazy conversion by default."""

import pytest
from conftest import requires_data

from unigen.data import load_dataset, load_smiles
from unigen.errors import RecordError


@requires_data("moses", "test.csv.gz")
def test_test_split_size_and_lazy_graphs():
    smiles = load_smiles("moses", "test")
    assert len(smiles) == 176_074
    graphs = load_dataset("moses", "test")
    assert len(graphs) == 176_074  # lazy: nothing converted yet
    assert graphs[5].meta["smiles"] == smiles[5] and graphs[5].meta["row"] == 5


@requires_data("moses", "test_scaffolds.csv.gz")
def test_scaffold_split_size():
    assert len(load_smiles("moses", "test_scaffolds")) == 176_225


@requires_data("moses", "test.csv.gz")
def test_eager_conversion_with_limit():
    graphs = load_dataset("moses", "test", lazy=False, limit=10)
    assert [g.meta["smiles"] for g in graphs] == load_smiles("moses", "test", limit=10)


def test_lazy_bad_smiles_is_a_record_error(tmp_path, monkeypatch):
    import gzip

    monkeypatch.setenv("UNIGEN_DATA_DIR", str(tmp_path))
    (tmp_path / "moses").mkdir()
    with gzip.open(tmp_path / "moses" / "test.csv.gz", "wt") as handle:
        handle.write("SMILES\nCCO\nC1CC\n")
    graphs = load_dataset("moses", "test")
    assert graphs[0].num_atoms == 3
    with pytest.raises(RecordError, match=r"test.csv.gz: record data row 1: invalid SMILES 'C1CC'"):
        graphs[1]


@pytest.mark.slow
@requires_data("moses", "train.csv.gz")
def test_train_split_size():
    assert len(load_smiles("moses", "train")) == 1_584_663
