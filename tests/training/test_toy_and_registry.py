"""The ``toy`` family and the family registry."""

import numpy as np
import pytest
import torch

from unigen.chem.convert import smiles_to_graph
from unigen.cli import main
from unigen.errors import UsageError
from unigen.models.registry import FamilyModel, get_family, list_families, register_family
from unigen.models.toy import MaskedAtomModel, ToyConfig
from unigen.structures import Molecule3D
from unigen.testing import FamilyContract, assert_permutation_equivariant


def _model():
    torch.manual_seed(0)
    return MaskedAtomModel(
        ToyConfig(d_model=16, n_heads=2, n_layers=2, pair_dim=4), {"atom_types": ["C", "N", "O"]}
    )


def test_logits_are_permutation_equivariant():
    model = _model().eval()
    graph = smiles_to_graph("OCC(=O)NC")
    batch = model.collate([model.encode(graph)])
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    permuted = {
        "atom_types": batch["atom_types"][:, perm],
        "valence": batch["valence"][:, perm],
        "bonds": batch["bonds"][:, perm][:, :, perm],
        "node_mask": batch["node_mask"][:, perm],
    }
    with torch.no_grad():
        a = model.logits(**batch)
        b = model.logits(**permuted)
    assert torch.allclose(a[:, perm], b, atol=1e-5)


def test_padding_does_not_change_a_molecule_logits():
    model = _model().eval()
    small, large = model.encode(smiles_to_graph("CCO")), model.encode(smiles_to_graph("CC(=O)NCCO"))
    with torch.no_grad():
        alone = model.logits(**model.collate([small]))
        padded = model.logits(**model.collate([small, large]))
    assert torch.allclose(alone[0], padded[0, :3], atol=1e-5)


def test_encode_computes_bond_order_sums_and_refuses_what_it_cannot_represent():
    model = _model()
    example = model.encode(smiles_to_graph("OC=O"))  # O-C single, C=O double
    assert example["atom_types"].tolist() == [3, 1, 3]
    assert example["valence"].tolist() == [2, 6, 4]  # twice the bond-order sums 1, 3, 2
    with pytest.raises(ValueError, match="atom types F are not in the model's vocabulary"):
        model.encode(smiles_to_graph("CF"))
    with pytest.raises(ValueError, match="trains on molecular graphs"):
        model.encode(Molecule3D(np.array([6]), np.zeros((1, 3))))
    assert model.unknown_types([smiles_to_graph("FC(F)Cl")]) == {"Cl": 1, "F": 2}


def test_loss_hides_at_least_one_atom_per_molecule():
    model = _model()
    mask = torch.tensor([[True, True, False], [True, False, False]])
    hidden = MaskedAtomModel._choose_hidden(model, mask)
    assert hidden.any(dim=1).all() and not (hidden & ~mask).any()


def test_registry_lists_and_explains():
    assert "toy" in list_families()
    assert get_family("toy") is MaskedAtomModel
    with pytest.raises(UsageError, match=r"unknown model family 'tyo'; available: .*toy"):
        get_family("tyo")
    with pytest.raises(TypeError):
        register_family("bad")(type("Bad", (), {}))
    assert issubclass(MaskedAtomModel, FamilyModel)


def test_env_prints_versions_devices_and_data_dir(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("UNIGEN_DATA_DIR", str(tmp_path))
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    assert f"torch: {torch.__version__}" in out
    assert f"data_dir: {tmp_path} (exists)" in out
    assert "cuda: " in out and "torch-scatter: " in out
    assert main(["env", "--json"]) == 0
    import json

    report = json.loads(capsys.readouterr().out)
    assert report["libraries"]["torch"] == torch.__version__


class TestToyContract(FamilyContract):
    family = "toy"
    overfit_lr = 3e-3

    def records(self):
        return [smiles_to_graph(s) for s in ("CCO", "CC(=O)O", "C#N", "CN", "OCCO", "CC=O", "NC=O", "CCC")]

    def make_model(self):
        return _model()

    def check_symmetry(self, model, batch):
        inputs = {k: batch[k] for k in ("atom_types", "valence", "bonds", "node_mask")}
        axes = {"atom_types": 1, "valence": 1, "bonds": (1, 2), "node_mask": 1}
        assert_permutation_equivariant(model.logits, inputs, node_axes=axes, output_node_axes=1, atol=1e-5)
