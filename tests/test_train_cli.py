"""``unigen train --family F --data FILE [--condition ...]`` and conditioned ``unigen generate``."""

from pathlib import Path

import pytest

from unigen import checkpoint
from unigen.cli import main
from unigen.pretrained import available

SMILES = [
    "CCO",
    "CC(=O)O",
    "c1ccccc1N",
    "CCCl",
    "OCC#N",
    "CCN(C)C",
    "CC(C)CO",
    "C1CCCCC1O",
    "C[NH3+]",
    "CC#N",
]
# the default recipe (pard/moses_cpu), shrunk to seconds
SMALL = [
    "model.num_steps=4",
    "model.denoiser={dim: 16, depth: 1, heads: 2, pair_dim: 8}",
    "model.block_net={dim: 16, depth: 1, heads: 2, pair_dim: 8}",
    "model.sampling.steps=4",
    "train.steps=3",
    "train.batch_size=4",
    "train.progress=false",
    "train.ckpt_every=3",
]


def _csv(tmp_path, rows, header="smiles,heat") -> Path:
    path = tmp_path / "mine.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _train(data, out, *extra):
    sets = [arg for item in [*SMALL, f"train.out_dir={out}"] for arg in ("--set", item)]
    return main(["train", "--family", "pard", "--data", str(data), *sets, *extra])


@pytest.fixture(scope="module")
def conditioned(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("conditioned")
    data = _csv(tmp, [f"{s},{k * 0.5}" for k, s in enumerate(SMILES)] + ["C1CC,1.0"])
    assert _train(data, tmp / "run", "--condition", "qed,heat") == 0
    return tmp / "run"


def test_train_family_data_condition_stores_the_conditions_and_the_report(conditioned, capsys):
    model = checkpoint.load(conditioned)
    state = model.state["conditions"]
    assert state["names"] == ["qed", "heat"]
    assert state["low"][1] == 0.0 and state["high"][1] == 4.5  # the CSV column's training range
    dataset = model.card["dataset"]
    assert dataset["records"] == 10 and dataset["skipped_records"] == 1  # C1CC does not parse
    assert dataset["charged_atoms"] == 1 and dataset["aromatic_bonds"] == 6
    assert model.card["recipe"]["model"]["conditions"] == ["qed", "heat"]


def test_unreadable_records_are_skipped_and_reported(tmp_path, capsys):
    data = _csv(tmp_path, ["CCO,1", "C1CC,2", "CCN,3", "XYZ,4", "CCC,5", "CCCO,6", "CCCN,7"])
    assert _train(data, tmp_path / "run", "--set", "train.progress=true") == 0  # the report comes with it
    err = capsys.readouterr().err
    assert "skipped 2 unreadable records (record 2: line 3:" in err and "record 4: line 5:" in err
    assert "5 records to train on; 0 charged atoms, 0 aromatic bonds" in err


def test_generate_at_a_target_with_guidance_and_a_size(conditioned, tmp_path, capsys):
    out = tmp_path / "samples.smi"
    args = ["generate", "--model", str(conditioned), "-n", "6", "-o", str(out), "--batch-size", "3"]
    code = main(
        [*args, "--condition", "qed=0.45", "--condition", "heat=1..2", "--guidance", "2", "--num-atoms", "5"]
    )
    assert code == 0 and out.exists()
    assert len(out.read_text().split()) >= 1


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--condition", "mw=300"], "conditioned on qed, heat; it cannot take mw"),
        (["--condition", "qed"], "expected NAME=VALUE"),
        (["--num-atoms", "many"], "num_atoms: expected a number or LOW..HIGH"),
        (["--num-atoms", "500"], "this model generates 1..7 atoms"),
    ],
)
def test_bad_targets_are_one_line_errors_and_write_nothing(conditioned, tmp_path, capsys, extra, message):
    out = tmp_path / "samples.smi"
    assert main(["generate", "--model", str(conditioned), "-n", "2", "-o", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_a_condition_on_a_model_trained_without_one_is_refused(tmp_path, capsys):
    data = _csv(tmp_path, [f"{s},1" for s in SMILES])
    assert _train(data, tmp_path / "run") == 0
    capsys.readouterr()
    out = tmp_path / "samples.smi"
    assert (
        main(
            [
                "generate",
                "--model",
                str(tmp_path / "run"),
                "-n",
                "2",
                "-o",
                str(out),
                "--condition",
                "qed=0.5",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "unconditional; it cannot take conditions ['qed']" in err and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize(
    "rows, extra, message",
    [
        (None, [], "mine.smi"),  # an empty file
        (
            ["C1CC", "XYZ"],
            [],
            "holds no records to train on (2 unreadable: record 1: line 1:",
        ),  # no valid one
        (["CCO", "CCN"], ["--condition", "heat"], "record 1: no property 'heat'"),  # no such column
    ],
)
def test_bad_training_input_is_a_one_line_error_exit_2_and_writes_nothing(
    tmp_path, capsys, rows, extra, message
):
    data = tmp_path / "mine.smi"
    data.write_text("" if rows is None else "\n".join(rows) + "\n")
    assert _train(data, tmp_path / "run", *extra) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("error: ") and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_only_conditionable_families_take_condition(tmp_path, capsys):
    data = _csv(tmp_path, ["CCO,1"])
    assert main(["train", "--family", "toy", "--data", str(data), "--condition", "qed"]) == 2
    expected = "family 'toy' cannot be conditioned; families that can: gdss, pard, uni3dar, unigenx"
    assert expected in capsys.readouterr().err


def test_a_file_the_family_cannot_train_on_names_the_families_that_can(tmp_path, capsys):
    xyz = tmp_path / "water.xyz"
    xyz.write_text("3\nwater\nO 0.0 0.0 0.0\nH 0.96 0.0 0.0\nH -0.24 0.93 0.0\n")
    assert main(["train", "--family", "pard", "--data", str(xyz)]) == 2
    assert "holds Molecule3D records; family 'pard' has no default recipe" in capsys.readouterr().err


def test_recipe_and_family_are_exclusive_and_one_is_needed(capsys):
    assert main(["train", "tiny/pard", "--family", "pard"]) == 2
    assert main(["train"]) == 2
    assert "--family F --data FILE" in capsys.readouterr().err


def test_finetune_without_a_model_says_what_to_pass(tmp_path, capsys, monkeypatch):
    import unigen.pretrained

    shipped = unigen.pretrained.available()
    monkeypatch.setattr(unigen.pretrained, "available", lambda: [n for n in shipped if n != "pard-moses"])
    data = _csv(tmp_path, ["CCO,1"])
    assert main(["finetune", "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert "pard-moses has not shipped yet; pass --model" in err and "gdss-qm9" in err


@pytest.mark.skipif("pard-moses" not in available(), reason="pard-moses not shipped")
def test_finetune_without_a_model_starts_from_the_drug_like_base():
    from unigen.commands.finetune import _start

    assert _start(None, None) == "pard-moses"
    assert _start(None, "pard-qm9") == "pard-qm9"


def test_gdss_trains_with_a_condition_and_generates_at_a_target(tmp_path, capsys):
    """The same --condition / --guidance path as PARD's, through GDSS's score networks."""
    data = _csv(tmp_path, [f"{s},{k * 0.5}" for k, s in enumerate(SMILES)])
    tiny = [
        "model.net_x={dim: 8, depth: 1, heads: 2, pair_dim: 4}",
        "model.net_adj={dim: 8, depth: 1, heads: 2, pair_dim: 4}",
        "train.steps=3",
        "train.batch_size=4",
        "train.progress=false",
        "train.ckpt_every=3",
        f"train.out_dir={tmp_path / 'run'}",
    ]
    sets = [arg for item in tiny for arg in ("--set", item)]
    assert main(["train", "--family", "gdss", "--data", str(data), "--condition", "heat", *sets]) == 0
    model = checkpoint.load(tmp_path / "run")
    assert model.family == "gdss" and model.state["conditions"]["names"] == ["heat"]
    out = tmp_path / "samples.smi"
    args = ["generate", "--model", str(tmp_path / "run"), "-n", "4", "-o", str(out), "--steps", "5"]
    assert main([*args, "--condition", "heat=1..2", "--guidance", "2"]) == 0 and out.exists()
    assert main([*args, "--condition", "qed=0.5"]) == 2
    assert "conditioned on heat; it cannot take qed" in capsys.readouterr().err
