"""GDSS: permutation-equivariant score networks, decoding, training signal, overfitting."""

import numpy as np
import pytest
import torch

from unigen.chem import convert
from unigen.chem.summary import contains, smiles_hash
from unigen.errors import UsageError
from unigen.models.gdss import (
    GDSS,
    GDSSConfig,
    GDSSSampling,
    ScoreNetConfig,
    ScoreNetwork,
    SDEConfig,
    decode_graphs,
    decode_molecules,
)
from unigen.structures import Graph
from unigen.testing import FamilyContract, assert_permutation_equivariant

SMILES = ["CCO", "CC(=O)O", "C#N", "CN", "OCCO", "CC=O", "NC=O", "CCC"]


def _inputs(b=3, n=6, f=4, dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(b, n, f, generator=g, dtype=dtype)
    a = torch.randn(b, n, n, generator=g, dtype=dtype).triu(1)
    mask = torch.ones(b, n, dtype=dtype)
    mask[0, 4:] = 0
    return {
        "x": x,
        "adj": a + a.transpose(1, 2),
        "node_mask": mask,
        "t": torch.rand(b, generator=g, dtype=dtype),
    }


@pytest.mark.parametrize("readout", ["node", "pair"])
def test_score_networks_are_permutation_equivariant(readout):
    net = ScoreNetwork(
        ScoreNetConfig(dim=16, depth=2, heads=2, pair_dim=8, adj_powers=3), 4, readout, True
    ).double()
    axes = {"x": 1, "adj": (1, 2), "node_mask": 1}
    err = assert_permutation_equivariant(
        net, _inputs(), node_axes=axes, output_node_axes=1 if readout == "node" else (1, 2)
    )
    assert err < 1e-6


def test_adjacency_score_symmetric_and_masked():
    net = ScoreNetwork(ScoreNetConfig(dim=16, depth=1, heads=2, pair_dim=8), 4, "pair", True).double()
    inputs = _inputs()
    out = net(**inputs)
    assert torch.allclose(out, out.transpose(1, 2))
    assert torch.all(out.diagonal(dim1=1, dim2=2) == 0)
    assert torch.all(out[0, 4:] == 0) and torch.all(out[0, :, 4:] == 0)


def _model(kind="molecule", records=None, steps=50):
    cfg = GDSSConfig(
        kind=kind,
        sde_x=SDEConfig("VE", sigma_min=0.1, sigma_max=1.0, num_scales=steps),
        sde_adj=SDEConfig("VE", sigma_min=0.1, sigma_max=1.0, num_scales=steps),
        net_x=ScoreNetConfig(dim=16, depth=1, heads=2, pair_dim=8),
        net_adj=ScoreNetConfig(dim=16, depth=2, heads=2, pair_dim=8),
        sampling=GDSSSampling(steps=steps),
    )
    return GDSS(cfg, GDSS.fit_state(cfg, records))


def test_encode_decode_roundtrip_molecules():
    records = [convert.smiles_to_graph(s) for s in SMILES]
    model = _model(records=records)
    batch = model.collate([model.encode(r) for r in records])
    assert batch["x"].shape == (8, 4, 3) and batch["adj"].shape == (8, 4, 4)
    decoded = decode_molecules(batch["x"], batch["adj"], batch["node_mask"], model.state["atom_types"])
    assert [convert.graph_to_smiles(g) for g in decoded] == [convert.canonical_smiles(s) for s in SMILES]


def test_decode_thresholds_follow_gdss():
    adj = torch.tensor([[[0.0, 0.49, 1.49], [0.49, 0.0, 2.6], [1.49, 2.6, 0.0]]])
    x = torch.tensor([[[0.9, 0.1], [0.2, 0.7], [0.3, 0.2]]])  # third node: nothing above 0.5 -> virtual
    (graph,) = decode_molecules(x, adj, torch.ones(1, 3), [6, 8])
    assert graph.atomic_numbers.tolist() == [6, 8]
    assert graph.bonds.tolist() == [[0, 0], [0, 0]]
    (full,) = decode_molecules(torch.tensor([[[0.9, 0.1]] * 3]), adj, torch.ones(1, 3), [6, 8])
    assert full.bonds[0, 2] == 1 and full.bonds[1, 2] == 3 and full.bonds[0, 1] == 0


def test_decode_graphs_drops_isolated_nodes():
    a = torch.zeros(1, 4, 4)
    a[0, 0, 1] = a[0, 1, 0] = 0.8
    a[0, 2, 3] = a[0, 3, 2] = 0.3
    (graph,) = decode_graphs(a, torch.ones(1, 4))
    assert graph.num_nodes == 2 and graph.edge_index.tolist() == [[0], [1]]


def test_graph_kind_degree_features():
    path = Graph(4, [[0, 1, 2], [1, 2, 3]])
    model = _model("graph", [path])
    example = model.encode(path)
    assert example["x"].argmax(-1).tolist() == [1, 2, 2, 1]
    assert model.num_features == 3


def test_unknown_atom_type_refused():
    model = _model(records=[convert.smiles_to_graph(s) for s in SMILES])
    with pytest.raises(ValueError, match=r"atomic numbers \[9\]"):
        model.encode(convert.smiles_to_graph("CF"))
    assert model.unknown_types([convert.smiles_to_graph("CF")]) == {"F": 1}


def test_novelty_hashes():
    model = _model(records=[convert.smiles_to_graph(s) for s in SMILES])
    assert model.train_hashes.numel() == len(SMILES) and model.card_state()["num_train_hashes"] == len(SMILES)
    assert "train_hashes" not in model.card_state()
    assert contains(model.train_hashes.numpy(), convert.canonical_smiles("OCC"))
    assert not contains(model.train_hashes.numpy(), "c1ccccc1")
    assert smiles_hash("CCO") == smiles_hash("CCO") != smiles_hash("OCC")


def _sample(model, n, seed=None, **options):
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    raw = model.sample(n, generator=generator, options=model.sampling_options(**options))
    return raw["x"], raw["adj"], raw["node_mask"]


def test_sampling_shapes_masks_and_every_sampler():
    model = _model(records=[convert.smiles_to_graph(s) for s in SMILES], steps=5)
    x1, a1, m1 = _sample(model, 6, seed=3)
    assert x1.shape == (6, 4, 3) and torch.allclose(a1, a1.transpose(1, 2))
    assert set(m1.sum(1).tolist()) <= {2.0, 3.0, 4.0}
    assert torch.all(x1 * (1 - m1).unsqueeze(-1) == 0)
    for sampler in ("s4", "euler", "euler-langevin"):
        x, adj, _ = _sample(model, 2, sampler=sampler)
        assert torch.isfinite(x).all() and torch.allclose(adj, adj.transpose(1, 2))
    with pytest.raises(UsageError, match="sampler 'leapfrog' is not one of pc, euler, euler-langevin, s4"):
        model.sampling_options(sampler="leapfrog")


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("snr", 0, "snr must be > 0"),
        ("scale_eps", -1, "scale_eps must be >= 0"),
        ("steps", -2, "steps must be >= 0"),
        ("eps", 1.5, r"eps must lie in \(0, 1\)"),
    ],
)
def test_sampling_options_out_of_range(key, value, message):
    with pytest.raises(UsageError, match=message):
        _model(records=[convert.smiles_to_graph(s) for s in SMILES]).sampling_options(**{key: value})


def test_steps_override_reaches_the_sampler_and_progress():
    model = _model(records=[convert.smiles_to_graph(s) for s in SMILES], steps=50)
    seen = []
    options = model.sampling_options(steps=7)
    assert model.num_sampling_steps(options) == 7 and model.num_sampling_steps(model.sampling_options()) == 50
    model.sample(2, generator=None, options=options, progress=seen.append)
    assert seen == list(range(7)) and model.sde_x.N == 50


def test_sde_config_names_its_schedule():
    assert (
        SDEConfig("VE").build().sigma_max == 1.0 and SDEConfig("VP", beta_max=20.0).build().beta_max == 20.0
    )
    with pytest.raises(
        ValueError, match="beta_max, beta_min do not apply to a VE SDE; it takes sigma_min and sigma_max"
    ):
        SDEConfig("VE", beta_min=0.1, beta_max=1.0)
    with pytest.raises(ValueError, match="0 < sigma_min < sigma_max"):
        SDEConfig("VE", sigma_min=2.0, sigma_max=1.0)


def test_old_cards_and_weights_are_upgraded():
    """Checkpoints written before the sigma_* names and the backbone's condition input still load."""
    args = GDSS.upgrade_model_args(
        {
            "sde_x": {"kind": "VE", "beta_min": 0.2, "beta_max": 2.0},
            "sde_adj": {"kind": "VP", "beta_min": 0.1},
        }
    )
    assert args["sde_x"] == {"kind": "VE", "sigma_min": 0.2, "sigma_max": 2.0} and args["sde_adj"] == {
        "kind": "VP",
        "beta_min": 0.1,
    }
    model = _model(records=[convert.smiles_to_graph(s) for s in SMILES])
    new = model.state_dict()
    old = {k: v for k, v in new.items() if "cond_" not in k and ".head." not in k}
    for net in ("net_x", "net_adj"):
        for embed, cond in (("node_embed", "cond_embed"), ("pair_embed", "cond_pair_embed")):
            old[f"{net}.backbone.{embed}.weight"] = torch.cat(
                [new[f"{net}.backbone.{embed}.weight"], new[f"{net}.backbone.{cond}.weight"]], 1
            )
        for k in [k for k in new if k.startswith(f"{net}.head.mlp.")]:
            old[k.replace(".head.mlp.", ".head.")] = new[k]
    upgraded = GDSS.upgrade_weights(old)
    assert upgraded.keys() == new.keys() and all(torch.equal(upgraded[k], new[k]) for k in new)
    assert GDSS.upgrade_weights(new).keys() == new.keys()


def _train(model, records, steps, lr=5e-3):
    batch = model.collate([model.encode(r) for r in records])
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss, _ = model.loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_loss_decreases():
    torch.manual_seed(0)
    records = [convert.smiles_to_graph(s) for s in SMILES]
    model = _model(records=records)
    losses = _train(model, records, 120)
    assert np.mean(losses[-20:]) < 0.7 * np.mean(losses[:20])


def test_tiny_model_overfits_and_generates_training_graphs():
    torch.manual_seed(0)
    records = [convert.smiles_to_graph(s) for s in SMILES]
    model = _model(records=records, steps=100)
    _train(model, records, 1500)
    raw = model.sample(32, generator=torch.Generator().manual_seed(0), options=model.sampling_options())
    generated = []
    for g in model.decode(raw):
        try:
            generated.append(convert.graph_to_smiles(g))
        except ValueError:
            generated.append(None)
    train = {convert.canonical_smiles(s) for s in SMILES}
    assert sum(s in train for s in generated) >= 16


class TestGDSSContract(FamilyContract):
    family = "gdss"
    sampling = {"steps": 5}
    overfit_steps = 120

    def records(self):
        return [convert.smiles_to_graph(s) for s in SMILES]

    def make_model(self):
        torch.manual_seed(0)
        return _model(records=self.records())

    def check_symmetry(self, model, batch):
        """Both score networks are permutation equivariant on a real (padded) batch."""
        model = model.double()
        inputs = {
            "x": batch["x"].double(),
            "adj": batch["adj"].double(),
            "node_mask": batch["node_mask"].double(),
            "t": torch.full((len(batch["x"]),), 0.3, dtype=torch.float64),
        }
        axes = {"x": 1, "adj": (1, 2), "node_mask": 1}
        assert_permutation_equivariant(model.net_x, inputs, node_axes=axes, output_node_axes=1)
        assert_permutation_equivariant(model.net_adj, inputs, node_axes=axes, output_node_axes=(1, 2))


class TestGDSSGraphContract(TestGDSSContract):
    def records(self):
        return [
            Graph(4, [[0, 1, 2], [1, 2, 3]]),
            Graph(3, [[0, 1], [1, 2]]),
            Graph(4, [[0, 0, 0], [1, 2, 3]]),
            Graph(3, [[0, 1, 0], [1, 2, 2]]),
            Graph(2, [[0], [1]]),
            Graph(4, [[0, 1, 2, 3], [1, 2, 3, 0]]),
            Graph(3, [[0], [1]]),
            Graph(4, [[0, 2], [1, 3]]),
        ]

    def make_model(self):
        torch.manual_seed(0)
        return _model("graph", self.records())
