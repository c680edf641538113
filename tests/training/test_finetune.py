"""``unigen finetune`` on a user's own file: vocabulary policy, parent in the card, bad input."""

from pathlib import Path

import pytest
import torch
import yaml

from unigen import checkpoint
from unigen.cli import main
from unigen.config import load_recipe
from unigen.training import train

TINY = Path(__file__).resolve().parents[2] / "recipes" / "tiny" / "toy.yaml"


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    out = tmp_path_factory.mktemp("parent") / "run"
    sets = ["train.steps=6", "train.progress=false", "shared.width=16", f"train.out_dir={out}"]
    return train(load_recipe(TINY, sets))


def _smi(tmp_path, *smiles) -> Path:
    path = tmp_path / "mine.smi"
    path.write_text("\n".join(smiles) + "\n")
    return path


def _finetune(parent, data, *extra, out):
    return main(
        [
            "finetune",
            str(parent),
            "--data",
            str(data),
            "--set",
            "train.steps=4",
            "--set",
            "train.batch_size=2",
            "--set",
            "train.progress=false",
            "--set",
            f"train.out_dir={out}",
            *extra,
        ]
    )


def test_finetune_continues_from_the_parent_and_records_it(parent, tmp_path):
    data = _smi(tmp_path, "CCO", "CC(=O)O", "c1ccccc1N", "CCCl", "OCC#N")
    assert _finetune(parent, data, out=tmp_path / "ft") == 0
    child = checkpoint.load(tmp_path / "ft")
    assert child.card["parent"]["path"] == str(parent.resolve())
    assert child.card["parent"]["steps"] == 6
    assert child.card["dataset"]["path"] == str(data.resolve()) and child.card["dataset"]["records"] == 5
    assert child.card["recipe"]["train"]["steps"] == 4 and child.card["steps"] == 4
    assert child.card["model_args"] == checkpoint.load(parent).card["model_args"]


def test_unknown_atom_types_are_refused_with_a_list(parent, tmp_path, capsys):
    data = _smi(tmp_path, "CCBr", "CP(C)C", "CCO", "BrCBr")
    assert _finetune(parent, data, out=tmp_path / "ft") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "atom types the 'toy' model cannot represent: Br (3 atoms), P (1 atoms)" in err
    assert "--extend-vocab" in err
    assert not (tmp_path / "ft").exists()


def test_extend_vocab_adds_the_new_types_and_keeps_the_old_predictions(parent, tmp_path):
    data = _smi(tmp_path, "CCBr", "CP(C)C", "CCO", "BrCBr")
    assert (
        _finetune(
            parent,
            data,
            "--extend-vocab",
            "--set",
            "train.lr=0",
            "--set",
            "train.ema_decay=0",
            out=tmp_path / "ft",
        )
        == 0
    )
    old, new = checkpoint.load(parent), checkpoint.load(tmp_path / "ft")
    assert new.atom_types == old.atom_types + ["Br", "P"]
    batch = old.collate([old.encode(r) for r in _graphs("CCO", "c1ccccc1F")])
    with torch.no_grad():  # lr=0: the old types' logits are exactly those of the parent
        a = old.logits(batch["atom_types"], batch["valence"], batch["bonds"], batch["node_mask"])
        b = new.logits(batch["atom_types"], batch["valence"], batch["bonds"], batch["node_mask"])
    assert torch.allclose(a, b[..., : len(old.atom_types)], atol=1e-6)
    assert (b[..., len(old.atom_types) :] < a.max(-1, keepdim=True).values).all()


def _graphs(*smiles):
    from unigen.chem.convert import smiles_to_graph

    return [smiles_to_graph(s) for s in smiles]


def test_missing_data_is_an_error_and_bad_records_are_skipped_and_reported(parent, tmp_path, capsys):
    assert _finetune(parent, tmp_path / "absent.smi", out=tmp_path / "ft") == 2
    assert "data file" in capsys.readouterr().err
    data = _smi(tmp_path, "CCO", "C1CC", "CCN", "CCC")
    assert _finetune(parent, data, "--set", "train.progress=true", out=tmp_path / "ft") == 0
    err = capsys.readouterr().err
    assert "skipped 1 unreadable records (record 2: line 2: invalid SMILES 'C1CC')" in err
    card = checkpoint.load(tmp_path / "ft").card
    assert card["dataset"]["records"] == 3 and card["dataset"]["skipped_records"] == 1
    strict = ["--set", "data.skip_bad_records=false"]
    assert _finetune(parent, data, *strict, out=tmp_path / "ft2") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "record 2" in err and not (tmp_path / "ft2").exists()


def test_finetune_takes_model_and_steps_options(parent, tmp_path):
    data = _smi(tmp_path, "CCO", "CC(=O)O", "c1ccccc1N", "CCCl")
    sets = ["--set", "train.batch_size=2", "--set", "train.progress=false"]
    code = main(
        [
            "finetune",
            "--model",
            str(parent),
            "--data",
            str(data),
            "--steps",
            "3",
            "--out",
            str(tmp_path / "ft"),
            *sets,
        ]
    )
    assert code == 0 and checkpoint.load(tmp_path / "ft").card["steps"] == 3
    assert main(["finetune", str(parent), "--model", str(parent), "--data", str(data)]) == 2


def test_structures_the_family_cannot_train_on_are_refused(parent, tmp_path, capsys):
    xyz = tmp_path / "water.xyz"
    xyz.write_text("3\nwater\nO 0.0 0.0 0.0\nH 0.96 0.0 0.0\nH -0.24 0.93 0.0\n" * 2)
    assert _finetune(parent, xyz, out=tmp_path / "ft") == 2
    err = capsys.readouterr().err
    assert "family 'toy' trains on MolGraph records, found 2 Molecule3D" in err


def test_the_finetune_card_round_trips_to_a_resumable_run(parent, tmp_path):
    data = _smi(tmp_path, "CCO", "CC(=O)O", "c1ccccc1N", "CCCl")
    assert _finetune(parent, data, out=tmp_path / "ft") == 0
    recipe = yaml.safe_load((tmp_path / "ft" / "recipe.yaml").read_text())
    assert recipe["data"]["path"] == str(data.resolve()) and recipe["train"]["steps"] == 4
    extra = ["--set", "train.steps=6", "--resume", str(tmp_path / "ft")]
    assert _finetune(parent, data, *extra, out=tmp_path / "ft") == 0
    assert checkpoint.load(tmp_path / "ft").card["steps"] == 6


def test_finetune_reads_sdf_files(parent, tmp_path):
    from rdkit import Chem

    sdf = tmp_path / "mine.sdf"
    writer = Chem.SDWriter(str(sdf))
    for smiles in ("CCO", "CC(=O)N", "c1ccncc1", "OCCF"):
        writer.write(Chem.MolFromSmiles(smiles))
    writer.close()
    assert _finetune(parent, sdf, out=tmp_path / "ft") == 0
    assert checkpoint.load(tmp_path / "ft").card["dataset"]["records"] == 4


def test_train_with_a_missing_data_file_is_a_usage_error(tmp_path, capsys):
    assert main(["train", str(TINY), "--set", f"data.path={tmp_path / 'gone.smi'}"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: data file {tmp_path / 'gone.smi'} does not exist\n"


# -- PARD: new atom types and larger molecules -------------------------------------------

PARD_TINY = Path(__file__).resolve().parents[2] / "recipes" / "tiny" / "pard.yaml"
DRUGLIKE = [
    "CCSc1ccc(Cl)cc1",
    "Brc1ccccc1C(=O)[O-]",
    "C[NH3+]",
    "CC(C)(C)c1ccc(S(N)(=O)=O)cc1",
    "OCCBr",
    "ClCCCl",
]


@pytest.fixture(scope="module")
def pard_parent(tmp_path_factory):
    out = tmp_path_factory.mktemp("pard") / "run"
    data = tmp_path_factory.mktemp("pard_data") / "small.smi"
    data.write_text("\n".join(["CCO", "CC(=O)O", "CCN", "OCCO", "CC=O", "NC=O", "CCC", "COC"]) + "\n")
    sets = [
        "train.steps=2", "train.batch_size=4", "train.progress=false", f"train.out_dir={out}", f"data.path={data}",
        "model.denoiser={dim: 16, depth: 1, heads: 2, pair_dim: 8}", "model.block_net={dim: 16, depth: 1, heads: 2, pair_dim: 8}",
    ]  # fmt: skip
    return train(load_recipe(PARD_TINY, sets))


def test_pard_extends_its_vocabulary_and_grows_to_larger_molecules(pard_parent, tmp_path, capsys):
    from unigen.models.pard import doubled_graph

    data = _smi(tmp_path, *DRUGLIKE)
    extra = [
        "--extend-vocab",
        "--set",
        "train.lr=0",
        "--set",
        "train.ema_decay=0",
        "--set",
        "train.progress=true",
    ]
    assert _finetune(pard_parent, data, *extra, out=tmp_path / "ft") == 0
    assert "6 records to train on; 2 charged atoms, 18 aromatic bonds" in capsys.readouterr().err
    old, new = checkpoint.load(pard_parent), checkpoint.load(tmp_path / "ft")
    added = [16, 17, 35]  # S, Cl, Br
    assert new.state["atom_types"] == old.state["atom_types"] + added
    assert new.max_nodes == 14 > old.max_nodes and new.state["node_counts"][14] == 1
    assert new.state["max_block_size"] >= old.state["max_block_size"]
    new.encode(_graphs("CC(C)(C)c1ccc(S(N)(=O)=O)cc1")[0])  # larger than the parent's tables: fits now
    # lr = 0: on molecules of the old types, the old classes' logits are the parent's
    batch = old.collate([old.encode(r) for r in _graphs("CCO", "CC(=O)N")])
    x0, e0, mask, block = (batch[k] for k in ("atom_types", "bonds", "node_mask", "block_id"))
    with torch.no_grad():
        a = old.denoiser(
            **doubled_graph(x0, x0, e0, e0, mask, block, batch["block_degree"], old.classes),
            time=torch.full((2,), 0.5),
        )
        b = new.denoiser(
            **doubled_graph(x0, x0, e0, e0, mask, block, batch["block_degree"], new.classes),
            time=torch.full((2,), 0.5),
        )
    k = len(old.state["atom_types"])
    assert torch.allclose(a[0][..., :k], b[0][..., :k], atol=1e-5)
    assert torch.allclose(a[0][..., -1], b[0][..., -1], atol=1e-5)  # the virtual class moved to the end
    assert torch.allclose(a[1], b[1], atol=1e-5)
    options = new.sampling_options(num_atoms=12)
    graphs = new.decode(new.sample(3, generator=torch.Generator().manual_seed(0), options=options))
    assert [g.num_atoms for g in graphs] == [12, 12, 12]


def test_gdss_refits_its_sizes_on_larger_molecules():
    from unigen.models.gdss import GDSS, GDSSConfig, ScoreNetConfig

    small = ScoreNetConfig(dim=8, depth=1, heads=2, pair_dim=4)
    config = GDSSConfig(net_x=small, net_adj=small)
    model = GDSS(config, GDSS.fit_state(config, _graphs("CCO", "CCN")))
    model.refit_sizes(_graphs("CCCCCO", "CCCCCCO", "CCO"))
    assert model.max_nodes == 7 and model.state["node_counts"] == [0, 0, 0, 1, 0, 0, 1, 1]
    model.encode(_graphs("CCCCCCO")[0])  # fits now
    mask = model.sample_node_mask(50, torch.Generator().manual_seed(0))
    assert set(mask.sum(1).long().tolist()) <= {3, 6, 7}


def test_pard_refit_on_smaller_molecules_keeps_its_tables_and_samples():
    """A base trained on larger graphs (the drug-like pard-moses) fine-tuned on smaller ones: the
    refitted histograms keep the grown tables' lengths (zero counts above the new sizes), so the
    first-block and later-block size logits still line up (they raised a shape error before)."""
    from unigen.models.pard import PARD, PARDConfig, PARDNetConfig

    net = PARDNetConfig(16, 1, 2, 8)
    config = PARDConfig(denoiser=net, block_net=net, num_steps=3)
    model = PARD(config, PARD.fit_state(config, _graphs("CCCCCCCCCO", "CC(C)(C)C(C)(C)C", "c1ccccc1CCO")))
    sizes = len(model.state["first_block_counts"])
    model.refit_sizes(_graphs("CCO", "CCN", "CO"))
    assert len(model.state["first_block_counts"]) == sizes == model.first_size_logits.shape[0]
    assert len(model.state["node_counts"]) == model.max_nodes + 1 == 11
    graphs = model.decode(
        model.eval().sample(4, generator=torch.Generator().manual_seed(0), options=model.sampling_options())
    )
    assert len(graphs) == 4
