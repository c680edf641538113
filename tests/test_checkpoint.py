"""Checkpoints: safetensors + card, loaded without executing anything; clear errors otherwise."""

import shutil
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file

from unigen import checkpoint, pretrained
from unigen.checkpoint import file_sha256, latest_checkpoint
from unigen.cli import main
from unigen.config import load_recipe
from unigen.errors import UsageError
from unigen.models.registry import register_family
from unigen.models.toy import MaskedAtomModel
from unigen.training import train

TINY = Path(__file__).resolve().parents[1] / "recipes" / "tiny" / "toy.yaml"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    sets = [
        "train.steps=6",
        "train.ckpt_every=3",
        "train.progress=false",
        "shared.width=16",
        f"train.out_dir={out}",
    ]
    train(load_recipe(TINY, sets))
    return out


@pytest.fixture
def ckpt(run_dir, tmp_path):
    """A private copy of the final checkpoint that a test may damage."""
    return Path(shutil.copytree(run_dir / "checkpoints" / "step_00000006", tmp_path / "ckpt"))


def _error(path, **kwargs) -> str:
    with pytest.raises(UsageError) as info:
        checkpoint.load(path, **kwargs)
    assert info.value.exit_code == 2 and "\n" not in str(info.value)
    return str(info.value)


def _rewrite_card(ckpt, **changes) -> None:
    """Merge ``changes`` into the card (a mapping value updates that section)."""
    card = yaml.safe_load((ckpt / "card.yaml").read_text())
    for key, value in changes.items():
        card[key] = {**card[key], **value} if isinstance(value, dict) else value
    (ckpt / "card.yaml").write_text(yaml.safe_dump(card))


def test_card_describes_the_model_and_its_provenance(ckpt):
    card = yaml.safe_load((ckpt / "card.yaml").read_text())
    assert card["family"] == "toy" and card["steps"] == 6 and card["weights"] == "ema"
    assert card["model_args"]["d_model"] == 16
    assert card["state"]["atom_types"] == ["C", "N", "O", "F", "S", "Cl"]
    assert card["recipe"]["train"]["steps"] == 6
    assert card["dataset"]["records"] == 400 and card["dataset"]["path"].endswith("molecules.smi")
    assert set(card["metrics"]) >= {"loss", "accuracy", "lr", "grad_norm"}
    assert card["unigen_version"] and card["git_commit"] and card["parent"] is None


def test_checkpoint_files_are_readable_by_others_as_the_umask_allows(run_dir):
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    expected = 0o666 & ~mask  # safetensors alone would leave them 0600
    files = list((run_dir / "checkpoints" / "step_00000006").iterdir())
    assert {f.name for f in files} >= {"model.safetensors", "trainer.safetensors", "card.yaml"}
    assert {oct(f.stat().st_mode & 0o777) for f in files} == {oct(expected)}


def test_load_restores_the_weights_and_the_run_dir_means_its_latest_checkpoint(run_dir, ckpt):
    model = checkpoint.load(run_dir)
    assert model.card["steps"] == 6 and not model.training
    saved = load_file(ckpt / "model.safetensors")
    assert all(torch.equal(model.state_dict()[k], saved[k]) for k in saved)
    assert checkpoint.load(ckpt / "model.safetensors").card["steps"] == 6


def test_loading_never_unpickles(ckpt, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("torch.load / pickle must not be used")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr("pickle.load", refuse)
    monkeypatch.setattr("pickle.loads", refuse)
    checkpoint.load(ckpt)


def test_truncated_weights_are_reported(ckpt):
    data = (ckpt / "model.safetensors").read_bytes()
    (ckpt / "model.safetensors").write_bytes(data[: len(data) // 2])
    assert f"checkpoint {ckpt} is corrupt or truncated" in _error(ckpt)


def test_corrupt_weights_are_reported_even_without_a_checksum(ckpt):
    (ckpt / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    assert "does not match the card's checksum" in _error(ckpt)
    with pytest.raises(
        UsageError, match="is corrupt or truncated: model.safetensors: Error while deserializing header"
    ):
        checkpoint.read_tensors(ckpt / "model.safetensors", expected_sha256=None)


def test_a_flipped_byte_inside_the_tensors_is_caught_by_the_checksum(ckpt):
    data = bytearray((ckpt / "model.safetensors").read_bytes())
    data[-5] ^= 0xFF
    (ckpt / "model.safetensors").write_bytes(bytes(data))
    assert "corrupt or truncated" in _error(ckpt)


def test_card_problems_are_reported(ckpt, tmp_path):
    assert "is neither an existing checkpoint path nor a shipped model" in _error(tmp_path / "nowhere")
    assert "is not a unigen checkpoint" in _error(tmp_path)
    card = (ckpt / "card.yaml").read_text()
    (ckpt / "card.yaml").write_text("family: [toy\n")
    assert "card.yaml is corrupt" in _error(ckpt)
    (ckpt / "card.yaml").write_text(card.replace("family: toy", "family: nosuch"))
    assert "unknown model family 'nosuch'" in _error(ckpt)
    (ckpt / "card.yaml").write_text(card.replace("d_model: 16", "d_model: 24"))
    message = _error(ckpt)
    assert "does not match a 'toy' model built from its card: shape mismatch" in message
    (ckpt / "card.yaml").write_text(card.replace("  d_model: 16\n", "  d_modle: 16\n", 1))
    assert "unknown key 'd_modle' in section 'model_args'" in _error(ckpt)


def test_an_existing_path_wins_over_a_shipped_name_of_the_same_spelling(ckpt, tmp_path, monkeypatch):
    shipped = pretrained.available()
    if not shipped:
        pytest.skip("no shipped model in this installation")
    name = shipped[0]
    assert checkpoint.resolve(name) == pretrained.ROOT / name
    monkeypatch.chdir(tmp_path)
    shutil.copytree(ckpt, tmp_path / name)
    assert checkpoint.resolve(name) == Path(name)
    assert checkpoint.load(name).card["family"] == "toy"


def test_an_unknown_model_name_lists_the_shipped_models():
    message = _error("no-such-model")
    assert "'no-such-model' is neither an existing checkpoint path nor a shipped model" in message
    assert message.endswith(
        f"shipped models: {', '.join(pretrained.available()) or 'none in this installation'}"
    )


@register_family("toy_twin")
class _Twin(MaskedAtomModel):
    """Another family with the same architecture, for the wrong-family checks."""


def test_a_checkpoint_of_another_family_is_refused(ckpt, capsys):
    assert "is a 'toy' model, expected a 'toy_twin' model" in _error(ckpt, family="toy_twin")
    code = main(
        [
            "train",
            str(TINY),
            "--set",
            "family=toy_twin",
            "--resume",
            str(ckpt),
            "--set",
            "train.progress=false",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "is a 'toy' model; the recipe trains 'toy_twin'" in err


def test_corrupt_checkpoints_fail_in_one_line_through_the_cli(ckpt, tmp_path, capsys):
    data = (ckpt / "model.safetensors").read_bytes()
    (ckpt / "model.safetensors").write_bytes(data[:100])
    smi = tmp_path / "mols.smi"
    smi.write_text("CCO\nCCN\n")
    assert main(["finetune", str(ckpt), "--data", str(smi)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: checkpoint") and "corrupt or truncated" in err and err.count("\n") == 1


def test_resume_needs_intact_trainer_state(run_dir, tmp_path, capsys):
    copy = Path(shutil.copytree(run_dir, tmp_path / "run"))
    last = copy / "checkpoints" / "step_00000006"
    data = (last / "trainer.safetensors").read_bytes()
    (last / "trainer.safetensors").write_bytes(data[: len(data) - 7])
    sets = ["--set", "shared.width=16", "--set", "train.steps=8", "--set", "train.progress=false"]
    assert main(["train", str(TINY), "--resume", str(last), *sets]) == 2  # the damaged one, by name
    assert "trainer.safetensors" in capsys.readouterr().err
    (last / "trainer.json").unlink()
    assert main(["train", str(TINY), "--resume", str(last), *sets]) == 2
    assert "has no trainer state to resume from" in capsys.readouterr().err


@pytest.mark.parametrize("damaged", ["trainer.safetensors", "model.safetensors", "card.yaml"])
def test_resuming_a_run_skips_a_damaged_latest_checkpoint(run_dir, tmp_path, capsys, damaged):
    copy = Path(shutil.copytree(run_dir, tmp_path / "run"))
    last = copy / "checkpoints" / "step_00000006"
    data = (last / damaged).read_bytes()
    (last / damaged).write_bytes(data[: len(data) // 2])  # a disk that lost the end of a write
    assert latest_checkpoint(copy) == copy / "checkpoints" / "step_00000003"
    assert f"skipping damaged checkpoint {last}" in capsys.readouterr().err
    sets = ["--set", "shared.width=16", "--set", "train.steps=6", "--set", "train.progress=false"]
    assert main(["train", str(TINY), "--resume", str(copy), *sets]) == 0
    resumed = load_file(last / "model.safetensors")
    straight = load_file(run_dir / "checkpoints" / "step_00000006" / "model.safetensors")
    assert all(torch.equal(resumed[k], straight[k]) for k in straight)


def test_nan_weights_are_refused_at_load(ckpt):
    weights = load_file(ckpt / "model.safetensors")
    name = next(k for k, v in weights.items() if v.is_floating_point())
    weights[name] = torch.full_like(weights[name], float("nan"))
    save_file(weights, ckpt / "model.safetensors")
    _rewrite_card(ckpt, weights_sha256=file_sha256(ckpt / "model.safetensors"))
    assert f"holds NaN or infinite values in {name}" in _error(ckpt)


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"state": {"node_counts": "many"}}, "state.node_counts must be a list of counts"),
        ({"state": {"node_counts": [0, 0, 0]}}, "not all zero"),
        ({"state": {"max_nodes": 100_000}}, "state.max_nodes is 100,000 nodes, over the limit of 5,000"),
        ({"state": {"max_nodes": -1}}, "state.max_nodes must be >= 0"),
        ({"state": {"num_train_hashes": 10**9}}, "claims 1,000,000,000 training hashes"),
        ({"state": {"num_train_hashes": "all"}}, "num_train_hashes must be a non-negative integer"),
        ({"state": {"scale": float("nan")}}, "state.scale must be a finite number"),
        ({"model_args": {"max_nodes": 10**5}}, "model_args.max_nodes is 100,000 nodes"),
    ],
)
def test_hostile_card_values_are_refused_before_building(ckpt, change, expected):
    _rewrite_card(ckpt, **change)
    assert expected in _error(ckpt)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("family: toy\nfamily: toy\n", "duplicate key 'family'"),
        ("a: &a [*a]\n", "alias refers to itself"),
        ("x: " + "[" * 5000 + "]" * 5000 + "\n", "levels of nesting, over the limit of 64"),
        (
            "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
            + "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi")),
            "billion laughs",
        ),
    ],
)
def test_hostile_card_yaml_is_refused(ckpt, text, expected):
    (ckpt / "card.yaml").write_text(text)
    message = _error(ckpt)
    assert "card.yaml is corrupt" in message and expected in message


def test_checkpoints_appear_atomically(tmp_path):
    model = MaskedAtomModel(
        MaskedAtomModel.Config(d_model=8, n_heads=2, n_layers=1, pair_dim=2), {"atom_types": ["C"]}
    )

    class Boom(dict):
        def items(self):
            raise RuntimeError("disk full")

    card = checkpoint.make_card(model, None, None, 0, {})
    with pytest.raises(RuntimeError):
        checkpoint.write_checkpoint(tmp_path / "step_1", model.state_dict(), card, Boom(), {})
    assert list(tmp_path.iterdir()) == []
