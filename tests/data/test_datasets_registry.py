"""Registry behaviour: names, options, splits, missing files, STATS parsing."""

import pytest

from unigen.data import dataset_info, list_datasets, load_dataset, load_smiles
from unigen.data.registry import parse_stats
from unigen.errors import UnigenError, UsageError

ISSUE_DATASETS = {
    "qm9",
    "qm9_3d",
    "moses",
    "zinc250k",
    "perov_5",
    "carbon_24",
    "mp_20",
    "community_small",
    "ego_small",
    "grid",
    "enzymes",
    "planar",
    "sbm",
    "tree",
}


def test_every_dataset_of_the_issue_is_registered():
    assert ISSUE_DATASETS <= set(list_datasets())


@pytest.mark.parametrize("name", sorted(ISSUE_DATASETS | {"comm20"}))
def test_every_dataset_has_a_stats_table_for_its_splits(name):
    info = dataset_info(name)
    named = [s for s in info["splits"] if s != "all"]
    assert set(named) <= set(info["stats"]), f"{name}: STATS lacks {set(named) - set(info['stats'])}"
    assert all(count > 0 for count in info["stats"].values())


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(UsageError) as err:
        load_dataset("qm10")
    assert "qm10" in str(err.value) and "qm9_3d" in str(err.value) and "planar" in str(err.value)


def test_unknown_option_and_bad_value_are_usage_errors():
    with pytest.raises(UsageError, match="valid: .*index"):
        load_dataset("qm9", "test", indx="gdss")
    with pytest.raises(UsageError, match="index='gds'"):
        load_dataset("qm9", "test", index="gds")
    with pytest.raises(UsageError, match="limit"):
        load_dataset("qm9", "test", limit=-1)


def test_unknown_split_lists_splits():
    with pytest.raises(UsageError, match="splits: train, test, all"):
        load_dataset("qm9", "valid")


def test_missing_file_is_one_line_error_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIGEN_DATA_DIR", str(tmp_path))
    with pytest.raises(UnigenError) as err:
        load_smiles("qm9", "test")
    message = str(err.value)
    assert "\n" not in message
    assert str(tmp_path / "qm9" / "qm9.csv") in message and "unigen data fetch qm9" in message


def test_missing_user_supplied_zinc_names_the_expected_path(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIGEN_DATA_DIR", str(tmp_path))
    with pytest.raises(UnigenError, match="zinc250k/250k_rndm_zinc_drugs_clean_3.csv"):
        load_dataset("zinc250k", "test")


def test_availability_reports_missing_files_per_split(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIGEN_DATA_DIR", str(tmp_path))
    (tmp_path / "qm9").mkdir()
    (tmp_path / "qm9" / "qm9.csv").write_text("smiles\nC\n")
    missing = dataset_info("qm9")["missing"]
    assert missing == {"train": ["qm9/valid_idx_qm9.json"], "test": ["qm9/valid_idx_qm9.json"], "all": []}


def test_structures_without_smiles_refuse_load_smiles():
    with pytest.raises(UsageError, match="not SMILES"):
        load_smiles("planar", "train")


def test_parse_stats_reads_split_rows_only():
    doc = """Intro.

    STATS:

        | split | structures | note |
        |-------|-----------:|------|
        | train | 1,234      | x    |
        | test  | 56         |      |
    """
    assert parse_stats(doc) == {"train": 1234, "test": 56}


def _cheap_count(name: str, split: str) -> int:
    """Size of a split without converting structures (SMILES, ids, CSV rows, graphs)."""
    import csv

    from unigen.data import get_dataset

    dataset = get_dataset(name)
    if dataset.kind == "molgraph":
        return len(load_smiles(name, split))
    if name == "qm9_3d":
        return len(dataset.split_ids(split))
    if dataset.kind == "crystal":
        (path,) = dataset.require(split, dataset.resolve_options({}))
        with open(path, newline="", encoding="utf-8") as handle:
            return sum(1 for _ in csv.DictReader(handle))
    return len(load_dataset(name, split))


@pytest.mark.parametrize("name", sorted(ISSUE_DATASETS | {"comm20"}))
def test_stats_tables_match_the_files_present(name):
    info = dataset_info(name)
    checked = 0
    for split, expected in info["stats"].items():
        if info["missing"].get(split, ["?"]):
            continue  # file not here (or a STATS row for another source)
        assert _cheap_count(name, split) == expected, f"{name}/{split}"
        checked += 1
    if checked == 0:
        pytest.skip(f"no file of {name} is present")
