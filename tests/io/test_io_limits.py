"""Size limits (unigen.limits): a record over a limit is skipped as a RecordError, a file over
one is a one-line UsageError; hostile values are refused before RDKit or pymatgen see them."""

import gzip

import pytest

import unigen.io as uio
from unigen import limits
from unigen.errors import UsageError


def _reasons(path) -> list[str]:
    return [error.reason for error in uio.read(path).errors]


def test_limits_come_from_the_environment(monkeypatch):
    assert limits.limit("atoms") == 1_000
    monkeypatch.setenv("UNIGEN_MAX_ATOMS", "20_000")
    assert limits.limit("atoms") == 20_000
    monkeypatch.setenv("UNIGEN_MAX_ATOMS", "-3")
    with pytest.raises(UsageError, match="UNIGEN_MAX_ATOMS must be a positive integer"):
        limits.limit("atoms")


def test_huge_smiles_are_skipped_before_rdkit_parses_them(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIGEN_MAX_RECORD_BYTES", "30000")
    path = tmp_path / "big.smi"
    path.write_text("CCO\n" + "C" * 20_000 + "\n" + "C" * 40_000 + "\nCCN\n")  # 20,000 atoms: RDKit SIGSEGV
    result = uio.read(path)
    assert [r.meta["record"] for r in result.records] == [1, 4]
    assert "20,000 atoms, over the limit of 1,000 (set UNIGEN_MAX_ATOMS" in result.errors[0].reason
    assert "40,000 characters, over the limit of 30,000" in result.errors[1].reason
    assert len(uio.read_smiles(path).records) == 2  # scoring sees the same gate


def test_a_csv_field_over_the_size_limit_skips_its_row(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIGEN_MAX_RECORD_BYTES", "1000")
    path = tmp_path / "big.csv"
    path.write_text("smiles,name\nCCO,a\n" + "C" * 5000 + ",b\nCCN,c\n")
    result = uio.read(path)
    assert [r.meta["name"] for r in result.records] == ["a", "c"]
    assert "a field of 1,001 characters or more" in result.errors[0].reason


def test_a_gzip_bomb_stops_at_the_decompressed_size_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIGEN_MAX_FILE_BYTES", str(1 << 20))
    path = tmp_path / "bomb.smi.gz"
    path.write_bytes(gzip.compress(b"CCO\n" * (1 << 22)))  # 16 MiB inflated
    with pytest.raises(UsageError, match=r"1,048,577 bytes or more after decompression, over the limit"):
        uio.read(path)


def test_xyz_frames_over_the_limits_are_skipped(tmp_path):
    path = tmp_path / "h.xyz"
    path.write_text(
        '1\nLattice="1 0 0 0 1 0 0 0 1" pbc="T F"\nH 0 0 0\n'
        '1\nLattice="1e9 0 0 0 1 0 0 0 1"\nH 0 0 0\n'
        "100000\n\nH 0 0 0\n"
        '1\nLattice="2 0 0 0 2 0 0 0 2"\nH 0 0 0\n'
    )
    result = uio.read(path)
    assert len(result.records) == 1 and result.records[0].meta["record"] == 4
    reasons = [e.reason for e in result.errors]
    assert "pbc must be one or three of T / F" in reasons[0]
    assert "Lattice vector of 1,000,000,000 Angstrom, over the limit of 1,000" in reasons[1]
    assert "frame declares 100,000 atoms, over the limit" in reasons[2]


def _cif(body: str, a: float = 5.64, group: str = "F m -3 m") -> str:
    cell = "".join(f"_cell_length_{x} {a}\n" for x in "abc")
    angles = "".join(f"_cell_angle_{x} 90\n" for x in ("alpha", "beta", "gamma"))
    head = f"data_x\n{cell}{angles}_symmetry_space_group_name_H-M '{group}'\n"
    sites = "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n"
    return head + sites + "_atom_site_fract_z\n_atom_site_occupancy\n" + body


@pytest.mark.parametrize(
    "text, expected",
    [
        (_cif("Na1 Na 0 0 0 1\nCl1 Cl 0.5 0.5 0.5 -1\n"), "occupancy '-1'; it must be a number >= 0"),
        (_cif("Na1 Na 0 0 0 1\nCl1 Cl 0.5 0.5 0.5 nan\n"), "occupancy 'nan'"),
        (_cif("Na1 Na 0 0 0 1\n", a=-5.64), "_cell_length_a must be a length in (0, 1,000]"),
        (_cif("Na1 Na 0 0 0 1\n", a=1e9), "got '1000000000.0'"),
        (_cif("".join(f"C{i} C 0.{i:04d} 0.1 0.1 1\n" for i in range(30))), "30 atom sites x 192 symmetry"),
        (
            _cif("".join(f"C{i} C 0.{i:04d} 0.1 0.1 1\n" for i in range(1500)), a=100, group="P 1"),
            "1,500 atoms",
        ),
    ],
)
def test_cif_blocks_with_hostile_values_are_refused_before_pymatgen(tmp_path, text, expected):
    path = tmp_path / "x.cif"
    path.write_text(text)
    assert expected in _reasons(path)[0]


def test_nacl_with_full_occupancy_still_reads(tmp_path):
    path = tmp_path / "nacl.cif"
    path.write_text(_cif("Na1 Na 0 0 0 1\nCl1 Cl 0.5 0.5 0.5 1\n"))
    assert uio.read(path).records[0].num_atoms == 8


@pytest.mark.parametrize(
    "counts, expected",
    [
        ("1", "line 6 names 2 species but line 7 gives 1 atom counts"),
        ("1 x", "atom counts must be"),
        ("1 5000", "5,001 atoms"),
    ],
)
def test_poscar_species_and_counts_must_agree(tmp_path, counts, expected):
    path = tmp_path / "POSCAR"
    path.write_text(f"NaCl\n1.0\n5.6 0 0\n0 5.6 0\n0 0 5.6\nNa Cl\n{counts}\nDirect\n0 0 0\n0.5 0.5 0.5\n")
    assert expected in _reasons(path)[0]


def test_graph_files_with_huge_node_counts_or_deep_json_fail_cleanly(tmp_path):
    edges = tmp_path / "g.edgelist"
    edges.write_text("0 1\n1 1000000\n\n0 1\n")
    assert "graph of 1,000,001 nodes, over the limit of 5,000" in _reasons(edges)[0]
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(UsageError, match="JSON nested too deeply"):
        uio.read(deep)
