"""Bad files give one-line errors naming the file (and record); good records still get read."""

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

import unigen.io as uio
from unigen.chem.convert import smiles_to_graph
from unigen.errors import RecordError, UnigenError, UsageError
from unigen.structures import Crystal, MolGraph

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "fixtures"
TEXT_FIXTURES = [
    "with_bad_lines.smi",
    "molecules.csv",
    "mixed.sdf",
    "frames.extxyz",
    "bad_frames.xyz",
    "nacl_fm-3m.cif",
    "multi_block.cif",
    "partial_occupancy.cif",
    "POSCAR_Si",
    "graphs.json",
    "graphs.edgelist",
]


def _one_line(err) -> str:
    message = str(err)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_binary_file_is_one_error_naming_the_file_and_the_byte():
    with pytest.raises(UnigenError) as info:
        uio.read(FIXTURES / "binary_junk.smi")
    assert _one_line(info.value).endswith("binary_junk.smi: not a text file (binary content at byte 8)")


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda p: p.write_text(""), "file is empty"),
        (lambda p: p.write_text("\n  \n"), "file is empty"),
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a directory"),
    ],
)
def test_unusable_files_are_one_line_errors(tmp_path, make, expected):
    path = tmp_path / "input.xyz"
    make(path)
    with pytest.raises(UnigenError) as info:
        uio.read(path)
    assert str(path) in _one_line(info.value) and expected in str(info.value)


def test_broken_gzip_is_one_error(tmp_path):
    data = gzip.compress(b"CCO\nc1ccccc1\n" * 50)
    (tmp_path / "cut.smi.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(UnigenError, match=r"cut\.smi\.gz: not a valid gzip file"):
        uio.read(tmp_path / "cut.smi.gz")


def test_latin1_text_is_read_not_rejected(tmp_path):
    text = (
        (FIXTURES / "nacl_fm-3m.cif")
        .read_text()
        .replace("Rock salt.", "Rock salt, Universit\xe4t M\xfcnchen.")
    )
    (tmp_path / "latin1.cif").write_bytes(text.encode("latin-1"))
    assert len(uio.read(tmp_path / "latin1.cif")) == 1


def test_unknown_extension_lists_valid_formats(tmp_path):
    with pytest.raises(UsageError) as info:
        uio.read(tmp_path / "mols.pdbqt")
    assert "'.pdbqt'" in str(info.value) and "smi, csv, sdf, xyz, extxyz, cif, poscar, edgelist, json" in str(
        info.value
    )
    with pytest.raises(UsageError, match="unknown format 'pdb'"):
        uio.read(tmp_path / "mols.smi", format="pdb")


def test_unknown_option_lists_the_valid_ones():
    with pytest.raises(
        UsageError,
        match="unknown option colour for format cif; valid options: occupancy, occupancy_tolerance, primitive",
    ):
        uio.read(FIXTURES / "nacl_fm-3m.cif", colour="red")


def test_strict_mode_raises_the_first_bad_record():
    with pytest.raises(RecordError) as info:
        uio.read(FIXTURES / "with_bad_lines.smi", strict=True)
    assert info.value.record == 3 and "line 4" in str(info.value)


def test_raise_if_empty_summarises_the_errors(tmp_path):
    result = uio.read(FIXTURES / "partial_occupancy.cif")
    with pytest.raises(
        UnigenError,
        match=r"no readable records: .*partial_occupancy.cif: record 1: .*\(and 1 more bad records\)",
    ):
        result.raise_if_empty()
    assert (
        uio.read(FIXTURES / "multi_block.cif")
        .raise_if_empty()
        .summary()
        .endswith("read 2 records, skipped 1 bad records")
    )


def test_truncated_sdf_keeps_the_complete_records(tmp_path):
    text = (FIXTURES / "mixed.sdf").read_text()
    (tmp_path / "cut.sdf").write_text(text[: text.rindex("M  END") - 40])
    result = uio.read(tmp_path / "cut.sdf")
    assert [m.meta["name"] for m in result.records] == ["ethanol", "phenol"]
    assert [e.record for e in result.errors] == [2, 4]
    assert "no 'M  END' line" in str(result.errors[-1])


def test_bad_sdf_record_names_rdkit_reason():
    (error,) = uio.read(FIXTURES / "mixed.sdf").errors
    assert _one_line(error).startswith(
        str(FIXTURES / "mixed.sdf") + ": record 2: line 27: RDKit cannot read this record: Explicit valence"
    )


def test_unknown_sdf_kind_is_a_usage_error():
    with pytest.raises(UsageError, match="kind must be one of molgraph, molecule3d"):
        uio.read(FIXTURES / "mixed.sdf", kind="crystal")


def test_poscar_that_pymatgen_cannot_read_is_one_record_error(tmp_path):
    lines = (FIXTURES / "POSCAR_Si").read_text().splitlines()
    (tmp_path / "POSCAR").write_text("\n".join(lines[:10]) + "\n")  # 8 atoms declared, 2 listed
    result = uio.read(tmp_path / "POSCAR")
    assert result.records == [] and result.errors[0].record == 1
    assert "not a readable POSCAR" in _one_line(result.errors[0])


@pytest.mark.parametrize("name", TEXT_FIXTURES)
def test_truncated_and_corrupted_fixtures_never_raise_anything_but_unigen_errors(tmp_path, name):
    """Cut every fixture at several points and flip bytes: a result or a UnigenError, no crash."""
    data = (FIXTURES / name).read_bytes()
    rng = np.random.default_rng(0)
    variants = [data[:cut] for cut in np.linspace(1, len(data) - 1, 9).astype(int)]
    for _ in range(4):
        corrupted = bytearray(data)
        for at in rng.integers(0, len(data), 6):
            corrupted[at] = int(rng.choice(list(b"0123456789 .-_x;#\n'\"")))
        variants.append(bytes(corrupted))
    for k, variant in enumerate(variants):
        (tmp_path / str(k)).mkdir()
        path = tmp_path / str(k) / name  # keep the name: it decides the format
        path.write_bytes(variant)
        try:
            result = uio.read(path)
        except UnigenError as err:
            assert str(path) in _one_line(err)
            continue
        assert all(isinstance(e, RecordError) and str(path) in _one_line(e) for e in result.errors)


# ----------------------------------------------------------------------------- writing


def _crystal():
    return Crystal([11, 17], [[0, 0, 0], [0.5, 0.5, 0.5]], np.eye(3) * 4.0)


def test_a_writer_failing_midway_leaves_no_file(tmp_path):
    pentavalent = MolGraph(
        [6, 6, 6, 6, 6, 6],
        np.pad(np.ones((1, 5), np.int8), ((0, 5), (1, 0)))
        + np.pad(np.ones((1, 5), np.int8), ((0, 5), (1, 0))).T,
    )
    path = tmp_path / "out.smi"
    with pytest.raises(RecordError, match=r"out\.smi: record 3: cannot write as SMILES"):
        uio.write(path, ["CCO", smiles_to_graph("c1ccccc1"), pentavalent, "CC"])
    assert not path.exists()
    assert os.listdir(tmp_path) == []  # no temporary file left behind


def test_a_writer_failing_midway_keeps_the_old_file(tmp_path):
    path = tmp_path / "out.sdf"
    uio.write(path, [smiles_to_graph("CCO")])
    before = path.read_bytes()
    bad = MolGraph([6, 6], [[0, 4], [4, 0]])  # an aromatic bond outside a ring cannot be sanitised
    with pytest.raises(RecordError, match="record 2"):
        uio.write(path, [smiles_to_graph("CCN"), bad])
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["out.sdf"]


def test_writing_the_wrong_structure_kind_is_a_usage_error_before_writing(tmp_path):
    with pytest.raises(UsageError, match=r"format cif writes Crystal; record 2 is a MolGraph"):
        uio.write(tmp_path / "x.cif", [_crystal(), smiles_to_graph("C")])
    assert not (tmp_path / "x.cif").exists()


def test_poscar_writer_refuses_several_structures(tmp_path):
    with pytest.raises(UsageError, match="POSCAR holds one structure, got 2"):
        uio.write(tmp_path / "POSCAR", [_crystal(), _crystal()])


def test_smiles_writer_refuses_strings_that_would_not_read_back(tmp_path):
    with pytest.raises(RecordError, match=r"record 2: not writable as one SMILES token: 'C C'"):
        uio.write(tmp_path / "x.smi", ["CC", "C C"])


@pytest.mark.parametrize("target", ["blocker/out.smi", "a_directory"])
def test_operating_system_write_failures_are_one_line_errors(tmp_path, target):
    (tmp_path / "blocker").write_text("a file where a directory is needed")
    (tmp_path / "a_directory").mkdir()
    path = tmp_path / target
    with pytest.raises(UnigenError, match="cannot write file") as info:
        uio.write(path, ["CCO"], format="smi")
    assert str(path) in _one_line(info.value)


@pytest.mark.parametrize("name", TEXT_FIXTURES)
def test_records_and_errors_number_every_record_once_in_file_order(name):
    """Callers (scoring) rebuild the file's record sequence from meta["record"] and error.record."""
    result = uio.read(FIXTURES / name, **({"occupancy": "majority"} if name.endswith(".cif") else {}))
    numbers = [r.meta["record"] for r in result.records]
    assert numbers == sorted(numbers)
    assert sorted(numbers + [e.record for e in result.errors]) == list(
        range(1, len(numbers) + len(result.errors) + 1)
    )


def test_sdf_bond_mode_is_checked_and_rdkit_bond_failures_name_the_record(tmp_path):
    from unigen.structures import Molecule3D

    with pytest.raises(UsageError, match="bonds must be one of edm, rdkit, none"):
        uio.write(tmp_path / "m.sdf", [Molecule3D([6], [[0, 0, 0]])], bonds="guess")
    radical = Molecule3D([6, 1, 1, 1], [[0, 0, 0], [1.09, 0, 0], [-0.54, 0.94, 0], [-0.54, -0.94, 0]])
    with pytest.raises(RecordError) as info:  # RDKit cannot give a neutral CH3 valid bond orders
        uio.write(tmp_path / "m.sdf", [Molecule3D([8], [[0, 0, 0]]), radical], bonds="rdkit")
    assert info.value.record == 2 and "cannot infer bonds (rdkit)" in _one_line(info.value)
    assert not (tmp_path / "m.sdf").exists()
