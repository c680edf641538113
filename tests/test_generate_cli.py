"""``unigen generate``: outputs, summary, exit codes and messages on bad input."""

import json

import pytest

from unigen.cli import main
from unigen.pretrained import available

# `unigen generate -n 12 -o m.smi --seed 0` with the shipped gdss-qm9 before the family contract
# (commit 6f00e6e): the refactor must not change what the default model samples.
PINNED_SEED0_SMILES = [
    "CC1(C(=O)C=O)CCO1",
    "C=C(C=O)C=CC(C)=O",
    "CC1CC2C3C(CN23)O1",
    "CC1(C)CC2(C)CCC12",
    "OCCC1CC2OCC12",
    "CN=C1CCN1",
    "CC12CCC(O1)C2(C)O",
    "Nc1nc2c(o1)CCN2",
    "OCC1N2CC3NC31C2",
    "CCOC=NC=C1CN1",
    "CC1C(C=O)C2OC12C",
    "N#CC12CNC3C(N1)C32",
]

GRAPH_MODEL = "gdss-community-small"
MOLECULE_MODEL = "gdss-qm9"


@pytest.mark.skipif(GRAPH_MODEL not in available(), reason="graph model not shipped")
def test_generate_graphs_writes_json_and_summary(tmp_path, capsys):
    out, summary = tmp_path / "g.json", tmp_path / "s.json"
    assert (
        main(
            [
                "generate",
                "--model",
                GRAPH_MODEL,
                "-n",
                "3",
                "-o",
                str(out),
                "--steps",
                "5",
                "--json",
                str(summary),
            ]
        )
        == 0
    )
    assert len(json.loads(out.read_text())["graphs"]) == 3
    assert json.loads(summary.read_text())["generated"] == 3
    assert "wrote 3 structures" in capsys.readouterr().out


@pytest.mark.skipif(MOLECULE_MODEL not in available(), reason="molecule model not shipped")
def test_generate_molecules_sdf_with_validity_summary(tmp_path, capsys):
    out = tmp_path / "mols.sdf"
    assert main(["generate", "-n", "8", "-o", str(out), "--steps", "10", "--seed", "1"]) == 0
    text = out.read_text()
    assert text.count("$$$$") >= 1 and "V2000" in text
    printed = capsys.readouterr().out
    assert "validity_wo_correction" in printed and "novelty" in printed


@pytest.mark.skipif(MOLECULE_MODEL not in available(), reason="molecule model not shipped")
def test_sampling_options_reach_the_sampler(tmp_path):
    """scale_eps is a temperature: the same seed with another value gives other molecules."""
    runs = {}
    for scale in ("1.0", "0.3"):
        out = tmp_path / f"m{scale}.smi"
        args = [
            "-n",
            "16",
            "-o",
            str(out),
            "--set",
            "sampling.sampler=pc",
            "--steps",
            "20",
            "--set",
            f"sampling.scale_eps={scale}",
        ]
        assert main(["generate", *args]) == 0
        runs[scale] = out.read_text()
    assert runs["1.0"] != runs["0.3"]


@pytest.mark.skipif(MOLECULE_MODEL not in available(), reason="molecule model not shipped")
def test_shipped_model_samples_what_it_sampled_before_the_family_contract(tmp_path):
    out = tmp_path / "m.smi"
    assert main(["generate", "-n", "12", "-o", str(out), "--seed", "0"]) == 0
    assert out.read_text().split() == PINNED_SEED0_SMILES


@pytest.mark.skipif(MOLECULE_MODEL not in available(), reason="molecule model not shipped")
def test_steps_sizes_the_progress_bar_and_set_reaches_the_sampler(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("unigen.progress.INTERVAL_S", 0.0)  # piped: a plain line at every step
    out = tmp_path / "m.smi"
    args = [
        "-n",
        "4",
        "--batch-size",
        "2",
        "--steps",
        "3",
        "--set",
        "sampling.snr=0.1",
        "--set",
        "sampling.sampler=pc",
    ]
    assert main(["generate", *args, "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "sampling: 6/6 step (100 %)" in err and "/7 " not in err  # 2 batches x 3 steps


@pytest.mark.skipif(MOLECULE_MODEL not in available(), reason="molecule model not shipped")
def test_batches_are_seeded_independently_of_each_other(tmp_path):
    """Batch k has its own seed: the first batch of a longer run is the run of one batch."""
    one, two = tmp_path / "one.smi", tmp_path / "two.smi"
    assert (
        main(["generate", "-n", "3", "--batch-size", "3", "--steps", "5", "-o", str(one), "--seed", "4"]) == 0
    )
    assert (
        main(["generate", "-n", "6", "--batch-size", "3", "--steps", "5", "-o", str(two), "--seed", "4"]) == 0
    )
    assert two.read_text().split()[:3] == one.read_text().split()[:3]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--model", "no-such-model", "-n", "2"],
            "is neither an existing checkpoint path nor a shipped model; shipped models: ",
        ),
        (["--model", GRAPH_MODEL, "-n", "2", "--format-is-wrong"], "No such option"),
        (["--model", GRAPH_MODEL, "-n", "0"], "0 is not in the range"),
        (["--model", GRAPH_MODEL, "-n", "2", "--set", "sampling.scale_eps=-0.5"], "scale_eps must be >= 0"),
        (["--model", GRAPH_MODEL, "-n", "2", "--set", "sampling.snr=0"], "snr must be > 0"),
        (
            ["--model", GRAPH_MODEL, "-n", "2", "--set", "sampling.nope=1"],
            "unknown key 'nope' in section 'sampling'; valid keys: eps, guidance, kernel, num_atoms, sampler, scale_eps, snr, steps",
        ),
        (
            ["--model", GRAPH_MODEL, "-n", "2", "--set", "sampling.kernel=fast"],
            "kernel 'fast' is not one of auto, native, traced, compile",
        ),
        (
            ["--model", GRAPH_MODEL, "-n", "2", "--set", "sampling.sampler=leapfrog"],
            "sampler 'leapfrog' is not one of pc, euler, euler-langevin, s4",
        ),
        (["--model", GRAPH_MODEL, "-n", "2", "--set", "train.lr=1"], "generate takes sampling.KEY=VALUE"),
        (["--model", GRAPH_MODEL, "-n", "2", "--set", "sampling.snr"], "--set expects KEY=VALUE"),
        (
            ["--model", GRAPH_MODEL, "-n", "2", "--device", "bogus"],
            "device 'bogus' is not one of auto, cpu, cuda, cuda:N",
        ),
        (["--model", GRAPH_MODEL, "-n", "2", "--device", "meta"], "device 'meta' is not one of"),
        (["--model", GRAPH_MODEL, "-n", "2", "--seed", str(2**70)], "is not in the range"),
        (["--model", GRAPH_MODEL, "-n", "100000000"], "is not in the range"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    out = tmp_path / "out.json"
    assert main(["generate", *args, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


@pytest.mark.skipif(GRAPH_MODEL not in available(), reason="graph model not shipped")
def test_graph_model_refuses_molecule_output(tmp_path, capsys):
    out = tmp_path / "mols.sdf"
    assert main(["generate", "--model", GRAPH_MODEL, "-n", "2", "-o", str(out)]) == 2
    assert "generates Graph records: write them as edgelist, json, not 'sdf'" in capsys.readouterr().err
    assert not out.exists()


def test_a_family_that_cannot_generate_says_so(tmp_path, capsys):
    """A toy checkpoint (masked atom-type model) is refused in one line with exit code 2."""
    from unigen.checkpoint import write_checkpoint
    from unigen.chem.convert import smiles_to_graph
    from unigen.models.toy import MaskedAtomModel, ToyConfig

    config = ToyConfig(d_model=16, n_heads=2, n_layers=1, pair_dim=4)
    model = MaskedAtomModel(config, MaskedAtomModel.fit_state(config, [smiles_to_graph("CCO")]))
    from unigen.checkpoint import make_card

    directory = write_checkpoint(tmp_path / "toy", model.state_dict(), make_card(model, None, None, 0, {}))
    out = tmp_path / "m.smi"
    assert main(["generate", "--model", str(directory), "-n", "2", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "family 'toy' does not generate structures" in err and "gdss" in err and err.count("\n") == 1
    assert not out.exists()
