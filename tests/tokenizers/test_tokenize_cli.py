"""``unigen tokenize``: tokens, --stats, --check, --level and one-line errors."""

import re

from unigen.cli import main

METHANE = """5
methane
C -0.0126981359 1.0858041578 0.0080009958
H 0.002150416 -0.0060313176 0.0019761204
H 1.0117308433 1.4637511618 0.0002765748
H -0.540815069 1.4475266138 -0.8766437152
H -0.5238136345 1.4379326443 0.9063972942
3
water
O 0 0 0
H 0.757 0.586 0
H -0.757 0.586 0
"""

PEROVSKITE_CIF = """data_SrTiO3
_cell_length_a 3.905
_cell_length_b 3.905
_cell_length_c 3.905
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
loop_
 _symmetry_equiv_pos_as_xyz
 'x, y, z'
loop_
 _atom_site_type_symbol
 _atom_site_label
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
 Sr Sr0 0.0 0.0 0.0 1
 Ti Ti1 0.5 0.5 0.5 1
 O O2 0.5 0.5 0.0 1
 O O3 0.5 0.0 0.5 1
 O O4 0.0 0.5 0.5 1
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_prints_tokens_level_by_level(tmp_path, capsys):
    assert main(["tokenize", write(tmp_path, "m.xyz", METHANE)]) == 0
    out = capsys.readouterr().out
    assert "# record 1: CH4, 5 atoms, 32 tokens (levels 6)" in out and "# record 2: H2O, 3 atoms" in out
    first = out.splitlines()[2].split()
    assert first[:4] == ["0", "0", "6", "[TREE_206]"]  # the root, at level 6
    assert re.search(r"\s0\s+H\s+\d+ \d+ \d+", out) and "[END]" in out


def test_stats_counts_tokens(tmp_path, capsys):
    assert main(["tokenize", write(tmp_path, "m.xyz", METHANE), "--stats"]) == 0
    lines = capsys.readouterr().out.splitlines()
    methane = lines[1].split()
    assert methane[:4] == ["1", "CH4", "5", "32"]
    tokens, tree, uncompressed = int(methane[3]), int(methane[4]), int(methane[5])
    assert uncompressed == tokens - tree + 8 * tree + 1 and int(methane[6]) == 2 * tokens
    assert lines[-1].split()[0] == "max"


def test_check_reports_round_trip_errors(tmp_path, capsys):
    assert main(["tokenize", write(tmp_path, "m.xyz", METHANE), "--check"]) == 0
    out = capsys.readouterr().out
    errors = [float(line.split()[4]) for line in out.splitlines()[1:3]]
    assert all(0 < e <= 0.005 for e in errors)
    assert f"largest coordinate error {max(errors):.5f} Å (record 1" in out


def test_check_on_a_crystal(tmp_path, capsys):
    assert main(["tokenize", write(tmp_path, "srtio3.cif", PEROVSKITE_CIF), "--check"]) == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[1] == "O3SrTi" and float(row[4]) <= 0.005 and float(row[5]) <= 1e-3 and row[-1] == "yes"


def test_level_too_small_is_a_one_line_error(tmp_path, capsys):
    assert main(["tokenize", write(tmp_path, "m.xyz", METHANE), "--level", "2"]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("error: ") and "m.xyz: record 1: structure reaches" in err and "use more levels" in err
    )
    assert err.count("\n") == 1


def test_bad_files_are_one_line_errors(tmp_path, capsys):
    assert main(["tokenize", str(tmp_path / "missing.xyz")]) == 1
    assert capsys.readouterr().err.startswith("error: ")
    assert main(["tokenize", write(tmp_path, "bad.xyz", "2\ncomment\nC 0 0 0\n")]) == 1
    assert capsys.readouterr().err.startswith("error: ")
    assert main(["tokenize", write(tmp_path, "mols.smi", "CCO\n")]) == 1
    err = capsys.readouterr().err
    assert "record 1 is a MolGraph; tokenize needs 3D" in err and err.count("\n") == 1
