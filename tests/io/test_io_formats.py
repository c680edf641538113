"""Per-format reading behaviour: SMILES files, XYZ frames, graph files, format detection."""

from pathlib import Path

import numpy as np
import pytest

import unigen.io as uio
from unigen.errors import UnigenError, UsageError
from unigen.structures import Crystal, Molecule3D

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "fixtures"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("a.smi", "smi"),
        ("a.SMILES", "smi"),
        ("a.csv.gz", "csv"),
        ("a.sdf", "sdf"),
        ("a.mol", "sdf"),
        ("a.xyz", "xyz"),
        ("a.extxyz", "extxyz"),
        ("a.cif", "cif"),
        ("a.cif.gz", "cif"),
        ("POSCAR", "poscar"),
        ("CONTCAR_relaxed", "poscar"),
        ("POSCAR.1", "poscar"),
        ("poscar_collection.cif", "cif"),
        ("Si.vasp", "poscar"),
        ("a.edgelist", "edgelist"),
        ("a.json", "json"),
    ],
)
def test_format_from_extension(name, expected):
    assert uio.format_from_path(name).name == expected


def test_format_override_wins_and_accepts_aliases(tmp_path):
    assert uio.format_from_path("mols.txt", "smiles").name == "smi"
    (tmp_path / "mols.txt").write_text("CCO\nc1ccccc1\n")
    assert [g.meta["smiles"] for g in uio.read(tmp_path / "mols.txt", format="smi")] == ["CCO", "c1ccccc1"]


# ----------------------------------------------------------------------------- SMILES


def test_smiles_file_with_two_bad_lines_reads_the_rest_and_names_the_lines():
    result = uio.read(FIXTURES / "with_bad_lines.smi")
    assert [g.meta["name"] for g in result.records] == ["ethanol", "benzene", "acetic_acid", "nitrogen"]
    assert [g.meta["line"] for g in result.records] == [2, 3, 7, 9]
    assert [e.record for e in result.errors] == [3, 5]
    assert str(result.errors[0]).endswith("with_bad_lines.smi: record 3: line 4: invalid SMILES 'C1CC'")
    assert "line 8" in str(result.errors[1]) and "C(C)(C)(C)(C)C" in str(result.errors[1])
    benzene = result.records[1]
    assert benzene.atomic_numbers.tolist() == [6] * 6 and sorted(
        benzene.bonds[0][benzene.bonds[0] > 0].tolist()
    ) == [1, 2]


def test_read_smiles_keeps_invalid_strings_for_scoring():
    raw = uio.read_smiles(FIXTURES / "with_bad_lines.smi")
    assert raw.records == ["CCO", "c1ccccc1", "C1CC", "CC(=O)O", "C(C)(C)(C)(C)C", "N#N"]
    assert raw.errors == []


def test_csv_smiles_column_found_case_insensitively_and_names_kept():
    raw = uio.read_smiles(FIXTURES / "molecules.csv")
    assert raw.records == ["CCO", "C[C@H](N)C(=O)O", "not_a_smiles", "c1ccncc1"]
    graphs = uio.read(FIXTURES / "molecules.csv")
    assert [g.meta["name"] for g in graphs.records] == ["m1", "m2", "m4"]
    (error,) = graphs.errors
    assert error.record == 3 and "line 4" in str(error)


def test_csv_named_column_and_missing_column(tmp_path):
    (tmp_path / "gen.csv").write_text("step,generated\n1,CC\n2,CN\n")
    assert uio.read_smiles(tmp_path / "gen.csv", column="generated").records == ["CC", "CN"]
    with pytest.raises(UsageError, match=r"no column named 'smiles'; columns are 'step', 'generated'"):
        uio.read_smiles(tmp_path / "gen.csv")
    with pytest.raises(UsageError, match=r"no column 'smi'"):
        uio.read(tmp_path / "gen.csv", column="smi")


def test_csv_row_missing_the_smiles_cell_is_a_record_error(tmp_path):
    (tmp_path / "short.csv").write_text("id,smiles\na,CC\nb\nc,CO\n")
    result = uio.read_smiles(tmp_path / "short.csv")
    assert result.records == ["CC", "CO"]
    assert result.errors[0].record == 2 and "line 3" in str(result.errors[0])


# ----------------------------------------------------------------------------- XYZ


def test_bad_xyz_frames_are_reported_and_good_frames_read():
    result = uio.read(FIXTURES / "bad_frames.xyz")
    assert [m.meta["comment"] for m in result.records] == [
        "frame 1: water, fine",
        "frame 4: hydrogen molecule, fine",
    ]
    assert [m.meta["record"] for m in result.records] == [1, 4]
    messages = [str(e) for e in result.errors]
    assert messages[0].endswith("record 2: line 9: non-numeric coordinate in '0.000000 0.75x200 -0.469200'")
    assert "record 3: line 16: frame declares 4 atoms" in messages[1]
    assert messages[2].endswith("record 5: line 23: file ends after 2 of 5 atom lines (truncated frame)")
    np.testing.assert_allclose(result.records[1].positions[1], [0, 0, 0.74])


def test_frame_with_more_atom_lines_than_its_count_is_an_error(tmp_path):
    (tmp_path / "more.xyz").write_text("1\n\nH 0 0 0\nH 0 0 0.74\n1\nnext\nHe 0 0 0\n")
    result = uio.read(tmp_path / "more.xyz")
    assert [m.atomic_numbers.tolist() for m in result.records] == [[2]]
    assert "record 1: line 4: frame declares 1 atoms but more atom lines follow" in str(result.errors[0])


def test_xyz_species_by_symbol_any_case_or_atomic_number_and_unknown_element(tmp_path):
    (tmp_path / "z.xyz").write_text("3\n\nCL 0 0 0\n6 1 0 0\nc 2 0 0\n1\n\nQq 0 0 0\n")
    result = uio.read(tmp_path / "z.xyz")
    assert result.records[0].atomic_numbers.tolist() == [17, 6, 6]
    assert "line 8: unknown element 'Qq'" in str(result.errors[0])


def test_extxyz_columns_lattice_and_info_match_ase():
    from ase.io import read as ase_read

    ours = uio.read(FIXTURES / "frames.extxyz").records
    theirs = ase_read(FIXTURES / "frames.extxyz", index=":")
    assert [type(s) for s in ours] == [Molecule3D, Crystal, Molecule3D]
    for mine, atoms in zip(ours, theirs):
        np.testing.assert_array_equal(mine.atomic_numbers, atoms.get_atomic_numbers())
        positions = mine.cart_coords if isinstance(mine, Crystal) else mine.positions
        np.testing.assert_allclose(positions, atoms.get_positions(), atol=1e-12)
    np.testing.assert_allclose(ours[1].lattice, theirs[1].cell.array)
    np.testing.assert_allclose(ours[1].frac_coords, [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert ours[0].meta["info"] == {"energy": -14.2} and ours[0].meta["name"] == "water"


def test_extxyz_non_orthogonal_lattice_rows_are_the_lattice_vectors(tmp_path):
    (tmp_path / "tri.extxyz").write_text(
        '1\nLattice="3 0 0 1 3 0 0.5 0.5 4" Properties=species:S:1:pos:R:3\nSi 2.25 1.75 2.0\n'
    )
    crystal = uio.read(tmp_path / "tri.extxyz").records[0]
    np.testing.assert_allclose(crystal.lattice, [[3, 0, 0], [1, 3, 0], [0.5, 0.5, 4]])
    np.testing.assert_allclose(crystal.frac_coords @ crystal.lattice, [[2.25, 1.75, 2.0]])


def test_partially_periodic_frame_is_reported(tmp_path):
    (tmp_path / "slab.extxyz").write_text('1\nLattice="3 0 0 0 3 0 0 0 9" pbc="T T F"\nC 0 0 0\n')
    assert "partially periodic" in str(uio.read(tmp_path / "slab.extxyz").errors[0])


# ----------------------------------------------------------------------------- graphs


def test_graph_json_reports_bad_graphs_by_index():
    result = uio.read(FIXTURES / "graphs.json")
    assert [g.meta.get("name") for g in result.records] == ["path4", "triangle", None]
    assert [g.num_edges for g in result.records] == [3, 3, 0]
    assert result.records[2].num_nodes == 5
    assert [str(e).split(": ", 1)[1] for e in result.errors] == [
        "record 2: graph 1: edge refers to node 5 but num_nodes is 3",
        "record 4: graph 3: edges must be a list of [i, j] pairs of non-negative integers",
    ]


def test_invalid_json_names_line_and_column(tmp_path):
    (tmp_path / "g.json").write_text('{"graphs": [\n{"num_nodes": 2, "edges": [[0, 1]}\n]}')
    with pytest.raises(UnigenError, match=r"g\.json: not valid JSON \(line 2, column"):
        uio.read(tmp_path / "g.json")


def test_edgelist_blocks_comments_node_counts_and_networkx_data_column():
    result = uio.read(FIXTURES / "graphs.edgelist")
    cycle, with_isolated = result.records
    assert cycle.num_nodes == 4 and cycle.edge_index.T.tolist() == [[0, 1], [0, 3], [1, 2], [2, 3]]
    assert with_isolated.num_nodes == 4 and with_isolated.num_edges == 2
    assert [e.record for e in result.errors] == [2] and "line 9" in str(result.errors[0])


# ----------------------------------------------------------------------------- line endings, V3000


@pytest.mark.parametrize(
    "name",
    [
        "with_bad_lines.smi",
        "molecules.csv",
        "mixed.sdf",
        "bad_frames.xyz",
        "multi_block.cif",
        "POSCAR_Si",
        "graphs.edgelist",
    ],
)
def test_windows_line_endings_read_like_unix_ones(tmp_path, name):
    unix = uio.read(FIXTURES / name)
    (tmp_path / name).write_bytes((FIXTURES / name).read_bytes().replace(b"\n", b"\r\n"))
    windows = uio.read(tmp_path / name)
    assert len(windows) == len(unix) and [e.record for e in windows.errors] == [e.record for e in unix.errors]
    for a, b in zip(unix.records, windows.records):
        np.testing.assert_array_equal(getattr(a, "atomic_numbers", None), getattr(b, "atomic_numbers", None))


def test_v3000_molblocks_are_read(tmp_path):
    from rdkit import Chem

    blocks = [Chem.MolToV3KMolBlock(Chem.MolFromSmiles(s)) + "$$$$\n" for s in ["CC(=O)[O-]", "c1ccncc1"]]
    (tmp_path / "v3k.sdf").write_text("".join(blocks))
    result = uio.read(tmp_path / "v3k.sdf")
    assert result.errors == [] and [g.meta["smiles"] for g in result.records] == ["CC(=O)[O-]", "c1ccncc1"]


@pytest.mark.parametrize(
    "edges", ["[[0, 1], [2]]", '"01"', "[[0, 1.5]]", "[[true, false]]", "[[0, -1]]", '{"0": 1}']
)
def test_malformed_json_edge_lists_are_record_errors(tmp_path, edges):
    (tmp_path / "g.json").write_text(
        '{"graphs": [{"num_nodes": 3, "edges": %s}, {"num_nodes": 2, "edges": [[0, 1]]}]}' % edges
    )
    result = uio.read(tmp_path / "g.json")
    assert [g.num_edges for g in result.records] == [1]
    assert str(result.errors[0]).endswith(
        "record 1: graph 0: edges must be a list of [i, j] pairs of non-negative integers"
    )


def test_xyz_garbage_before_the_first_frame_is_one_error_and_the_frame_is_read(tmp_path):
    (tmp_path / "g.xyz").write_text(
        "generated by some tool\n1\nHe atom\nHe 0 0 0\n2\n\nH 0 0 0\nH 0 0 0.74\n"
    )
    result = uio.read(tmp_path / "g.xyz")
    assert [m.num_atoms for m in result.records] == [1, 2]
    assert str(result.errors[0]).endswith(
        "record 1: line 1: expected the atom count of a frame, got 'generated by some tool'"
    )


def test_unicode_digits_are_not_counts_or_node_ids(tmp_path):
    (tmp_path / "u.xyz").write_text("\u00b2\n\nH 0 0 0\n1\n\nH 0 0 0\n")
    assert len(uio.read(tmp_path / "u.xyz")) == 1
    (tmp_path / "u.edgelist").write_text("0 \u00b9\n\n0 1\n")
    result = uio.read(tmp_path / "u.edgelist")
    assert len(result) == 1 and "node id must be a non-negative integer" in str(result.errors[0])
