"""ZINC250k with a synthetic stand-in CSV (the real one is user-supplied): split readings."""

import json
import shutil

import pytest
from conftest import data_path, requires_data

from unigen.data import load_smiles
from unigen.errors import UnigenError

pytestmark = requires_data("zinc250k", "valid_idx_zinc250k.json")


def _zinc_dir(tmp_path, monkeypatch, rows: int):
    folder = tmp_path / "zinc250k"
    folder.mkdir()
    shutil.copyfile(data_path("zinc250k", "valid_idx_zinc250k.json"), folder / "valid_idx_zinc250k.json")
    monkeypatch.setenv("UNIGEN_DATA_DIR", str(tmp_path))
    lines = ["smiles,logP,qed,SAS"] + [
        f'"S{i}\n",0.1,0.5,2.0' for i in range(rows)
    ]  # chemical_vae quotes a newline
    (folder / "250k_rndm_zinc_drugs_clean_3.csv").write_text("\n".join(lines) + "\n")


def test_split_sizes_and_both_index_readings(tmp_path, monkeypatch):
    ids = json.loads(data_path("zinc250k", "valid_idx_zinc250k.json").read_text())
    _zinc_dir(tmp_path, monkeypatch, 249_455)
    gdss, moflow = load_smiles("zinc250k", "test"), load_smiles("zinc250k", "test", index="moflow")
    assert len(gdss) == len(moflow) == 24_887
    assert gdss[:3] == [f"S{v}" for v in ids[:3]]  # newline stripped, row = value
    assert moflow[:3] == [f"S{v - 1}" for v in ids[:3]]  # row = value - 1
    train = load_smiles("zinc250k", "train")
    assert len(train) == 224_568 and not set(train) & set(gdss)


def test_wrong_row_count_is_refused(tmp_path, monkeypatch):
    _zinc_dir(tmp_path, monkeypatch, 1000)
    with pytest.raises(UnigenError, match="expected 249455 rows .* found 1000"):
        load_smiles("zinc250k", "test")
