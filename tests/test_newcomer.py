"""Issue 15, a newcomer's first hour: each failure a new user met, pinned by a test.

Honest summaries, files that say what they hold (SDF properties, CIF formula and space group),
formats and kinds inferred from files, the same construction on both sides of a comparison,
pictures, streamed generation and Ctrl-C.
"""

import json
import re

import numpy as np
import pytest

from unigen.cli import main
from unigen.io import read, write
from unigen.pretrained import available
from unigen.structures import Crystal, Molecule3D

MOLECULE_MODEL = "gdss-qm9"
needs_model = pytest.mark.skipif(MOLECULE_MODEL not in available(), reason="molecule model not shipped")
SALTS = "CC(=O)[O-].[Na+]\nc1ccccc1O\nC[NH3+].[Cl-]\nCCO\nOC(=O)c1ccccc1.N\n"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def srtio3() -> Crystal:
    frac = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    return Crystal([38, 22, 8, 8, 8], frac, np.eye(3) * 3.905)


def collapsed() -> Crystal:
    """Two atoms 0.1 Å apart: structurally invalid."""
    return Crystal([38, 8], [[0, 0, 0], [0.02, 0, 0]], np.eye(3) * 5.0)


def methane() -> Molecule3D:
    h = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3) * 1.09
    return Molecule3D([6, 1, 1, 1, 1], np.vstack([[0, 0, 0], h]))


# ---------------------------------------------------------------------------------------
# Honest summaries and files that say what they hold


@needs_model
def test_generate_prints_and_writes_validity_without_correction_first(tmp_path, capsys):
    out, summary = tmp_path / "m.smi", tmp_path / "s.json"
    code, printed, err = run(
        capsys, "generate", "-n", "6", "--steps", "5", "-o", str(out), "--json", str(summary)
    )
    assert code == 0, err
    keys = list(json.loads(summary.read_text()))
    assert keys[:5] == ["generated", "validity_wo_correction", "validity", "uniqueness", "novelty"]
    lines = [line.strip() for line in printed.splitlines()]
    assert lines[2].startswith("validity_wo_correction") and "(raw samples, before valency" in lines[2]
    assert lines[3].startswith("validity ") and "(after valency correction)" in lines[3]


@needs_model
def test_generated_sdf_records_carry_smiles_index_and_validity_flags(tmp_path, capsys):
    out = tmp_path / "m.sdf"
    code, _, err = run(capsys, "generate", "-n", "5", "--steps", "5", "-o", str(out))
    assert code == 0, err
    records = read(out).records
    assert records
    for record in records:
        props = record.meta["props"]
        assert props["smiles"] == record.meta["smiles"]
        assert props["valid"] == "1" and props["valid_wo_correction"] in ("0", "1")
    assert [int(r.meta["props"]["index"]) for r in records] == sorted(
        {int(r.meta["props"]["index"]) for r in records}
    )


def test_sdf_writer_keeps_the_properties_a_record_was_read_with(tmp_path):
    from unigen.chem.convert import smiles_to_graph

    graph = smiles_to_graph("CCO")
    graph.meta.update(name="ethanol", props={"activity": "7.2"})
    write(tmp_path / "a.sdf", [graph])
    again = read(tmp_path / "a.sdf").records[0]
    assert again.meta["name"] == "ethanol"
    assert again.meta["props"] == {"smiles": "CCO", "index": "1", "activity": "7.2"}


def test_cif_blocks_carry_formula_and_space_group(tmp_path):
    path = tmp_path / "x.cif"
    write(path, [srtio3()])
    text = path.read_text()
    assert "# formula: SrTiO3" in text and "# space_group: Pm-3m" in text
    assert "# space_group_number: 221" in text
    assert read(path).records[0].num_atoms == 5  # the comments do not disturb readers


# ---------------------------------------------------------------------------------------
# Formats and kinds


def test_txt_is_read_as_one_smiles_per_line_and_kind_is_inferred(tmp_path, capsys):
    path, out_json = tmp_path / "samples.txt", tmp_path / "s.json"
    path.write_text("CCO\nc1ccccc1\nC1CC\n")
    code, out, err = run(capsys, "score", str(path), "--no-progress", "-j", "1", "--json", str(out_json))
    payload = json.loads(out_json.read_text())
    assert code == 0, err
    assert payload["kind"] == "molecules" and payload["metrics"]["validity"] == pytest.approx(2 / 3)


def test_format_option_reads_a_file_whose_extension_says_nothing(tmp_path, capsys):
    path = tmp_path / "samples.dat"
    path.write_text("CCO\nCCN\n")
    code, _, err = run(capsys, "score", str(path), "--no-progress", "-j", "1")
    assert code == 2 and "pass --format" in err and err.count("\n") == 1
    code, out, err = run(capsys, "score", str(path), "--format", "smi", "--no-progress", "-j", "1")
    assert code == 0, err
    assert "molecules (gdss): 2 records" in out


def test_3d_sdf_is_scored_as_3d_and_2d_sdf_as_molecules(tmp_path, capsys):
    three_d, two_d = tmp_path / "ligand.sdf", tmp_path / "flat.sdf"
    write(three_d, [methane()])
    from unigen.chem.convert import smiles_to_graph

    write(two_d, [smiles_to_graph("CCO")])
    code, out, err = run(capsys, "score", str(three_d), "--no-progress", "-j", "1")
    assert code == 0, err
    assert out.startswith("molecules3d (edm): 1 records")
    assert re.search(r"^mol_stability +1\.0000$", out, re.M)
    code, out, err = run(capsys, "score", str(two_d), "--no-progress", "-j", "1")
    assert code == 0, err
    assert out.startswith("molecules (gdss): 1 records")
    code, _, err = run(capsys, "score", str(two_d), "--kind", "molecules3d", "--no-progress")
    assert code == 2 and "2D coordinates only" in err and err.count("\n") == 1


def test_cif_is_crystals_and_refused_as_molecules(tmp_path, capsys):
    path = tmp_path / "x.cif"
    write(path, [srtio3()])
    code, out, err = run(capsys, "score", str(path), "--no-progress", "-j", "1")
    assert code == 0, err
    assert out.startswith("crystals (cdvae): 1 records")
    code, out, err = run(capsys, "score", str(path), "--kind", "molecules", "--no-progress")
    assert code == 2 and not out
    assert f"{path}: record 1 is a Crystal (crystals), expected molecules" in err


def test_smiles_file_refused_as_crystals(tmp_path, capsys):
    path = tmp_path / "m.smi"
    path.write_text("CCO\n")
    code, _, err = run(capsys, "score", str(path), "--kind", "crystals", "--no-progress")
    assert code == 2 and "holds SMILES (molecules), not crystals" in err


def test_malformed_records_name_the_file_and_rdkits_reason(tmp_path, capsys):
    path, out_json = tmp_path / "gen.sdf", tmp_path / "s.json"
    from unigen.chem.convert import smiles_to_graph

    write(path, [smiles_to_graph("CCO")])
    text = path.read_text()
    bad = text.replace("  3  2  0", "  3  2  0").replace("O   0", "Xx  0")  # unknown element
    path.write_text(text + bad)
    code, _, err = run(capsys, "score", str(path), "--no-progress", "-j", "1", "--json", str(out_json))
    assert code == 0, err
    (malformed,) = json.loads(out_json.read_text())["malformed"]
    assert malformed["record"] == 2 and malformed["reason"].startswith(f"{path}: line")
    assert "RDKit cannot read this record" in malformed["reason"]


# ---------------------------------------------------------------------------------------
# The same construction on both sides


def test_a_file_scored_against_itself_has_novelty_zero(tmp_path, capsys):
    path, out_json = tmp_path / "nci.smi", tmp_path / "s.json"
    path.write_text(SALTS)
    code, _, err = run(capsys, "score", str(path), "--train", str(path), "--no-progress", "-j", "1",
                       "--json", str(out_json))  # fmt: skip
    assert code == 0, err
    assert json.loads(out_json.read_text())["metrics"]["novelty"] == 0.0


def test_csp_of_a_file_against_itself_explains_an_invalid_truth(tmp_path, capsys):
    path, out_json = tmp_path / "x.cif", tmp_path / "s.json"
    write(path, [srtio3(), collapsed()])
    code, out, err = run(capsys, "score", "--csp", str(path), "--truth", str(path), "--no-progress",
                         "-j", "1", "--json", str(out_json))  # fmt: skip
    metrics = json.loads(out_json.read_text())["metrics"]
    assert code == 0, err
    assert metrics["match_rate"] == 0.5 and metrics["match_rate_valid_truth"] == 1.0
    assert "1 true structures fail the validity check themselves" in out


# ---------------------------------------------------------------------------------------
# Pictures


def png_size(path):
    from PIL import Image

    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    with Image.open(path) as image:
        return image.size


@needs_model
def test_generate_png_and_draw_sdf_write_a_molecule_grid(tmp_path, capsys):
    sdf, grid, again = tmp_path / "m.sdf", tmp_path / "grid.png", tmp_path / "again.png"
    code, out, err = run(capsys, "generate", "-n", "7", "--steps", "5", "-o", str(sdf), "--png", str(grid))
    assert code == 0, err
    assert "drew" in out
    width, height = png_size(grid)
    assert width >= 5 * 260 and height >= 2 * 220  # 5 per row, 2 rows
    code, out, err = run(capsys, "draw", str(sdf), "-o", str(again))
    assert code == 0, err
    assert f"to {again}" in out and png_size(again) == (width, height)


def test_draw_cells_3d_molecules_and_graphs(tmp_path, capsys):
    import networkx as nx

    from unigen.chem.convert import networkx_to_graph

    files = {"x.cif": [srtio3(), srtio3()], "m.xyz": [methane()],
             "g.json": [networkx_to_graph(nx.cycle_graph(5))]}  # fmt: skip
    for name, records in files.items():
        write(tmp_path / name, records)
        out = tmp_path / f"{name}.png"
        code, text, err = run(capsys, "draw", str(tmp_path / name), "-o", str(out))
        assert code == 0, err
        assert f"drew {len(records)} of {len(records)}" in text
        assert png_size(out)[0] > 100


def test_crystal_panel_is_titled_with_formula_and_space_group():
    from unigen.chem.convert import crystal_to_ase
    from unigen.draw import _atoms_title

    assert _atoms_title(srtio3(), crystal_to_ase(srtio3())) == "SrTiO3  Pm-3m"


def test_a_drawn_cell_repeats_boundary_atoms_on_the_far_faces():
    from collections import Counter

    from unigen.chem.convert import crystal_to_ase
    from unigen.draw import _with_boundary_images

    drawn = _with_boundary_images(crystal_to_ase(srtio3()))
    # Sr at a corner: 8 corners; Ti at the centre: 1; each face-centred O: 2 faces
    assert Counter(drawn.get_chemical_symbols()) == {"Sr": 8, "Ti": 1, "O": 6}
    assert drawn.get_scaled_positions(wrap=False).max() == pytest.approx(1.0)


def test_record_properties_on_hand_computed_cases():
    import networkx as nx
    from rdkit.Chem import QED, Crippen, MolFromSmiles

    from unigen.chem.convert import networkx_to_graph
    from unigen.draw import record_properties

    mols = record_properties(["CCO", "C1CC", "c1ccccc1"])  # the ring that does not close is skipped
    assert mols["heavy atoms"] == [3, 6]
    assert mols["QED"][0] == pytest.approx(QED.qed(MolFromSmiles("CCO")))
    assert mols["logP"][1] == pytest.approx(Crippen.MolLogP(MolFromSmiles("c1ccccc1")))
    assert mols["MW"][0] == pytest.approx(46.069, abs=1e-2)
    cells = record_properties([srtio3()])
    assert cells["atoms per cell"] == [5] and cells["elements per cell"] == [3]
    assert cells["volume per atom (Å³)"][0] == pytest.approx(3.905**3 / 5)
    assert cells["density (g/cm³)"][0] == pytest.approx(5.117, abs=2e-3)  # SrTiO3: 5.12 g/cm³
    graphs = record_properties([networkx_to_graph(nx.complete_graph(3)), networkx_to_graph(nx.path_graph(3))])
    assert graphs["nodes"] == [3, 3] and graphs["degree"] == [2, 2, 2, 1, 2, 1]
    assert graphs["clustering"] == [1, 1, 1, 0, 0, 0]


def test_score_hist_plots_properties_against_the_reference(tmp_path, capsys):
    path, train, out = tmp_path / "m.smi", tmp_path / "train.smi", tmp_path / "hist.png"
    path.write_text("CCO\nc1ccccc1\nCCN\n")
    train.write_text("CCC\nCCCl\nc1ccncc1\nCC(=O)O\n")
    code, text, err = run(capsys, "score", str(path), "--train", str(train), "--hist", str(out),
                          "--no-progress", "-j", "1")  # fmt: skip
    assert code == 0, err
    assert "plotted QED, logP, MW, heavy atoms against" in text
    assert png_size(out)[0] > 400
    code, _, err = run(capsys, "score", str(path), "--hist", str(tmp_path / "none.png"), "-j", "1")
    assert code == 2 and "give --test or --train" in err and not (tmp_path / "none.png").exists()


def test_draw_refuses_a_name_that_is_not_png(tmp_path, capsys):
    path = tmp_path / "m.smi"
    path.write_text("CCO\n")
    code, _, err = run(capsys, "draw", str(path), "-o", str(tmp_path / "grid.jpg"))
    assert code == 2 and "name the file *.png" in err and not (tmp_path / "grid.jpg").exists()


def test_score_png_draws_the_scored_file(tmp_path, capsys):
    path, out = tmp_path / "m.txt", tmp_path / "m.png"
    path.write_text("CCO\nc1ccccc1\n")
    code, _, err = run(capsys, "score", str(path), "--png", str(out), "--no-progress", "-j", "1")
    assert code == 0, err
    assert png_size(out)[0] > 0


# ---------------------------------------------------------------------------------------
# Long jobs: streaming, Ctrl-C, progress


@needs_model
def test_generate_streams_batches_into_a_temporary_file(tmp_path, capsys, monkeypatch):
    """While batch 2 is sampled, batch 1 is already in the temporary file and no output exists."""
    from unigen.generation import GenerationStream

    out, seen = tmp_path / "m.smi", {}
    original = GenerationStream._sample

    def spy(self, k, size, bar):
        if k == 1:
            temporary = [p for p in tmp_path.iterdir() if p.name.startswith(".m.smi.")]
            seen["output"], seen["temporary"] = out.exists(), temporary
        return original(self, k, size, bar)

    monkeypatch.setattr(GenerationStream, "_sample", spy)
    code, _, err = run(capsys, "generate", "-n", "6", "--batch-size", "3", "--steps", "5", "-o", str(out))
    assert code == 0, err
    assert seen["output"] is False and len(seen["temporary"]) == 1
    assert len(out.read_text().split()) >= 4  # both batches (a few invalid samples may drop)


@needs_model
def test_ctrl_c_during_generate_exits_130_and_leaves_no_file(tmp_path, capsys, monkeypatch):
    from unigen.generation import GenerationStream

    original = GenerationStream._sample

    def interrupted(self, k, size, bar):
        if k == 1:
            raise KeyboardInterrupt
        return original(self, k, size, bar)

    monkeypatch.setattr(GenerationStream, "_sample", interrupted)
    out = tmp_path / "m.sdf"
    code, _, err = run(capsys, "generate", "-n", "6", "--batch-size", "3", "--steps", "5", "-o", str(out))
    assert code == 130 and "interrupted" in err
    assert list(tmp_path.iterdir()) == []  # neither the output nor a temporary file


def test_piped_progress_prints_a_plain_line_per_interval(monkeypatch):
    import io

    from unigen.progress import LineProgress

    clock = iter([0.0, 3.0, 11.0, 12.0, 25.0, 26.0])
    monkeypatch.setattr("unigen.progress.time.monotonic", lambda: next(clock))
    stream = io.StringIO()
    bar = LineProgress(4, "sampling", "step", interval=10.0, stream=stream)  # start: t=0
    for _ in range(4):
        bar.update(1)  # t = 3, 11 (line), 12, 25 (line)
    bar.close()  # t = 26: the closing line
    lines = stream.getvalue().splitlines()
    assert lines == [
        "sampling: 2/4 step (50 %), 11 s, ~11 s left",
        "sampling: 4/4 step (100 %), 25 s",
        "sampling: 4/4 step (100 %), 26 s",
    ]


def test_a_job_longer_than_its_estimated_total_grows_the_total(monkeypatch):
    import io

    from unigen.progress import LineProgress

    clock = iter([0.0, 11.0, 12.0, 13.0, 14.0])
    monkeypatch.setattr("unigen.progress.time.monotonic", lambda: next(clock))
    stream = io.StringIO()
    bar = LineProgress(2, "sampling", "step", interval=10.0, stream=stream)  # an estimate of 2
    for _ in range(3):
        bar.update(1)  # t = 11 (line), 12, 13
    bar.close()
    assert stream.getvalue().splitlines()[-1] == "sampling: 3/3 step (100 %), 14 s"


def test_a_short_piped_job_prints_no_progress():
    import io

    from unigen.progress import LineProgress

    stream = io.StringIO()
    bar = LineProgress(3, "scoring", interval=10.0, stream=stream)
    bar.update(3)
    bar.close()
    assert stream.getvalue() == ""


# ---------------------------------------------------------------------------------------
# Recipes inside the package, outputs in the current directory


def test_recipes_resolve_by_name_and_by_checkout_path_from_anywhere(tmp_path, monkeypatch, capsys):
    from unigen.recipes import ROOT, find

    monkeypatch.chdir(tmp_path)  # outside the checkout
    assert find("tiny/gdss") == find("recipes/tiny/gdss.yaml") == ROOT / "tiny" / "gdss.yaml"
    assert (ROOT / "tiny" / "molecules.smi").is_file()  # the data the tiny recipes name
    code, out, _ = run(capsys, "recipes", "list")
    assert code == 0 and any(line.startswith("tiny/gdss ") for line in out.splitlines())
    code, _, err = run(capsys, "train", "tiny/nope")
    assert code == 2 and "see `unigen recipes list`" in err


def test_tiny_gdss_recipe_comment_names_the_data_it_uses():
    from unigen.recipes import find

    text = find("tiny/gdss").read_text()
    assert "molecules.smi" in text.splitlines()[0] and "QM9" not in text.splitlines()[0]


def test_finetune_writes_under_the_current_directory_not_next_to_the_parent(tmp_path):
    from unigen.training.run import _finetune_out_dir

    assert _finetune_out_dir(tmp_path / "run" / "checkpoints" / "step_00000006") == "runs/run-finetune"
    assert _finetune_out_dir(tmp_path / "site-packages" / "unigen" / "pretrained" / "gdss-qm9") == (
        "runs/gdss-qm9-finetune"
    )
