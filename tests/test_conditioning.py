"""unigen.conditioning: property values, condition dropout, guidance, targets; PARD end to end."""

import copy

import pytest
import torch
from rdkit import Chem
from rdkit.Chem import QED, Crippen

from unigen import conditioning as cond
from unigen.chem.convert import smiles_to_graph
from unigen.errors import UsageError
from unigen.models.pard import PARD, PARDConfig, PARDNetConfig

SMILES = ["CCO", "CC(=O)O", "c1ccccc1N", "CCCl", "OCC#N", "CCN(C)C", "CC(C)CO", "C1CCCCC1O"]
SMALL = {"denoiser": PARDNetConfig(16, 1, 2, 8), "block_net": PARDNetConfig(16, 1, 2, 8), "num_steps": 4}


def _graphs(*smiles, **props):
    graphs = [smiles_to_graph(s) for s in smiles]
    for k, g in enumerate(graphs):
        g.meta["record"] = k + 1
        if props:
            g.meta["props"] = {name: values[k] for name, values in props.items()}
    return graphs


# -- property values ----------------------------------------------------------------------


def test_descriptors_are_rdkits_values():
    graph = _graphs("c1ccccc1O")[0]
    mol = Chem.MolFromSmiles("c1ccccc1O")
    assert cond.record_value(graph, "qed") == pytest.approx(QED.qed(mol))
    assert cond.record_value(graph, "logp") == pytest.approx(Crippen.MolLogP(mol))
    assert cond.record_value(graph, "mw") == pytest.approx(94.113, abs=1e-2)
    assert cond.record_value(graph, "tpsa") == pytest.approx(20.23, abs=1e-2)
    assert 1.0 <= cond.record_value(graph, "sa") <= 2.0  # phenol is easy to make


def test_a_file_column_wins_over_the_descriptor_and_is_matched_without_case():
    graph = _graphs("CCO", QED=["0.25"])[0]
    assert cond.record_value(graph, "qed") == 0.25


def test_a_missing_property_column_is_a_one_line_error_naming_the_record_and_columns():
    graphs = _graphs("CCO", "CCN", heat=["1.0", "2.0"])
    graphs[1].meta["props"] = {"other": "3"}
    with pytest.raises(UsageError) as err:
        cond.property_table(graphs, ["heat"], "mine.csv")
    message = str(err.value)
    assert message.startswith("mine.csv: record 2: no property 'heat'") and "'other'" in message
    assert "\n" not in message


def test_non_numeric_column_values_are_refused():
    with pytest.raises(UsageError, match="record 1: property 'heat' is 'hot', not a number"):
        cond.property_table(_graphs("CCO", heat=["hot"]), ["heat"], "mine.csv")


def test_fit_keeps_training_ranges_and_standardises():
    graphs = _graphs("CCO", "CCN", "CCC", y=["1", "2", "3"])
    state = cond.fit_conditions(["y"], graphs)
    assert state["names"] == ["y"] and state["low"] == [1.0] and state["high"] == [3.0]
    values = torch.stack([cond.standardised(g, state) for g in graphs])
    assert values.mean().abs() < 1e-6 and values.std(unbiased=False) == pytest.approx(1.0)
    assert cond.condition_dim(state) == 2 and cond.condition_dim(None) == 0


def test_names_are_parsed_and_repeats_refused():
    assert cond.parse_names("qed, logp") == ["qed", "logp"]
    with pytest.raises(UsageError, match="more than once"):
        cond.parse_names("qed,qed")
    with pytest.raises(UsageError):
        cond.parse_names("qed,")


# -- dropout, guidance, targets -------------------------------------------------------------


def test_condition_dropout_drops_whole_rows_and_single_properties():
    values = torch.ones(4000, 2)
    kept = cond.training_condition(values, 0.0)
    assert torch.equal(kept, torch.ones(4000, 4))
    dropped = cond.training_condition(values, 0.2)
    flags = dropped[:, 2:]
    assert torch.equal(dropped[:, :2], flags)  # a dropped value is 0 and says so
    unconditional = (flags == 0).all(1).float().mean()
    assert 0.2 < unconditional < 0.3  # rows (0.2) plus both properties alone (0.8 * 0.04)
    assert 0.1 < ((flags.sum(1) == 1).float().mean()) < 0.4  # some rows keep one property


def test_guidance_combines_conditional_and_unconditional():
    def forward(c):
        out = c.sum(-1, keepdim=True) * 2.0 + 1.0  # uncond (c = 0) gives 1
        return out, torch.tensor([float("-inf")]).expand_as(out)

    c = torch.tensor([[0.5, 1.0]])
    plain, _ = cond.guided(forward, c, 1.0)
    assert plain.item() == 4.0
    assert cond.guided(forward, c, 0.0)[0].item() == 1.0
    strong, never = cond.guided(forward, c, 3.0)
    assert strong.item() == 1.0 + 3.0 * 3.0
    assert torch.isneginf(never).all()  # -inf in both stays -inf, not NaN
    assert cond.guided(lambda c: "called once", None, 3.0) == "called once"


def test_targets_and_ranges_are_parsed():
    assert cond.parse_targets(["qed=0.8", "logp=2..3"]) == {"qed": (0.8, 0.8), "logp": (2.0, 3.0)}
    assert cond.parse_targets(["qed=0.8,logp=-1..1"]) == {"qed": (0.8, 0.8), "logp": (-1.0, 1.0)}
    assert cond.parse_range("15..25", "num_atoms", int) == (15, 25)
    for bad in (["qed"], ["qed=high"], ["logp=3..2"], ["qed=1", "qed=2"], ["=1"]):
        with pytest.raises(UsageError):
            cond.parse_targets(bad)
    with pytest.raises(UsageError, match="generates 1..9 atoms"):
        cond.size_range(12, 9)
    assert cond.size_range(0, 9) is None and cond.size_range("3..4", 9) == (3, 4)


def test_target_condition_draws_inside_ranges_and_marks_what_is_given(capsys):
    state = {
        "names": ["qed", "logp"],
        "low": [0.0, -2.0],
        "high": [1.0, 4.0],
        "mean": [0.5, 1.0],
        "std": [0.1, 2.0],
    }
    g = torch.Generator().manual_seed(0)
    vector = cond.target_condition(state, {"logp": (2.0, 3.0)}, 500, g)
    assert vector.shape == (500, 4)
    assert (vector[:, 0] == 0).all() and (vector[:, 2] == 0).all() and (vector[:, 3] == 1).all()
    logp = vector[:, 1] * 2.0 + 1.0
    assert logp.min() >= 2.0 - 1e-5 and logp.max() <= 3.0 + 1e-5 and logp.std() > 0.2
    assert capsys.readouterr().err == ""
    cond.target_condition(state, {"qed": 1.5}, 2, g)
    assert "outside the training range 0..1" in capsys.readouterr().err
    with pytest.raises(UsageError, match="conditioned on qed, logp; it cannot take mw"):
        cond.target_condition(state, {"mw": 300.0}, 2, g)


def test_sizes_follow_the_histogram_inside_the_range():
    g = torch.Generator().manual_seed(0)
    sizes = cond.draw_sizes([0, 0, 5, 0, 5, 1], 3, 5, 300, g)
    assert set(sizes.tolist()) == {4, 5}
    assert set(cond.draw_sizes([0, 1], 7, 8, 100, g).tolist()) == {7, 8}  # no mass: uniform


# -- PARD, conditioned ------------------------------------------------------------------


@pytest.fixture(scope="module")
def conditioned():
    config = PARDConfig(conditions=["qed", "logp"], **SMALL)
    return PARD(config, PARD.fit_state(config, _graphs(*SMILES)))


def test_a_conditioned_pard_stores_ranges_trains_and_round_trips(conditioned):
    state = conditioned.card_state()["conditions"]
    assert state["names"] == ["qed", "logp"] and state["low"][0] < state["high"][0]
    batch = conditioned.collate([conditioned.encode(r) for r in _graphs(*SMILES)])
    assert batch["cond"].shape == (8, 2)
    loss, _ = conditioned.loss(batch)
    loss.backward()
    assert conditioned.denoiser.cond_mlp[0].weight.grad.abs().sum() > 0
    assert conditioned.block_net.encoder.backbone.config.cond_dim == 4


def test_the_condition_changes_the_denoisers_prediction(conditioned):
    batch = conditioned.collate([conditioned.encode(r) for r in _graphs(*SMILES)])
    cond_a = cond.with_flags(batch["cond"], torch.ones_like(batch["cond"], dtype=torch.bool))
    torch.manual_seed(0)
    a = conditioned.diffusion_loss(batch, cond_a)[0]
    torch.manual_seed(0)
    b = conditioned.diffusion_loss(batch, torch.zeros_like(cond_a))[0]
    assert not torch.allclose(a, b)


def test_conditioned_sampling_takes_targets_and_guidance(conditioned):
    options = conditioned.sampling_options(guidance=2.0)
    g = torch.Generator().manual_seed(0)
    raw = conditioned.sample(4, generator=g, options=options, conditions={"qed": 0.4, "logp": (0.0, 1.0)})
    assert len(conditioned.decode(raw)) == 4
    with pytest.raises(UsageError, match="cannot take mw"):
        conditioned.sample(2, generator=g, options=options, conditions={"mw": 100.0})


def test_an_unconditioned_pard_refuses_conditions():
    config = PARDConfig(**SMALL)
    model = PARD(config, PARD.fit_state(config, _graphs(*SMILES)))
    with pytest.raises(UsageError, match="unconditional; it cannot take conditions"):
        model.sample(
            2, generator=torch.Generator(), options=model.sampling_options(), conditions={"qed": 0.5}
        )


def test_num_atoms_gives_exactly_that_many_heavy_atoms(conditioned):
    g = torch.Generator().manual_seed(1)
    for wanted in (3, 7):
        options = conditioned.sampling_options(num_atoms=wanted)
        graphs = conditioned.decode(conditioned.sample(12, generator=g, options=options))
        assert [x.num_atoms for x in graphs] == [wanted] * 12
    ranged = conditioned.decode(
        conditioned.sample(20, generator=g, options=conditioned.sampling_options(num_atoms="4..6"))
    )
    assert {x.num_atoms for x in ranged} <= {4, 5, 6}
    with pytest.raises(UsageError, match="generates 1..7 atoms"):
        conditioned.sample(2, generator=g, options=conditioned.sampling_options(num_atoms=12))
    with pytest.raises(UsageError):
        conditioned.sampling_options(num_atoms="many")


def test_gdss_num_atoms_fixes_the_node_mask():
    from unigen.models.gdss import GDSS, GDSSConfig, ScoreNetConfig

    small = ScoreNetConfig(dim=8, depth=1, heads=2, pair_dim=4)
    config = GDSSConfig(net_x=small, net_adj=small)
    model = GDSS(config, GDSS.fit_state(config, _graphs(*SMILES)))
    g = torch.Generator().manual_seed(0)
    assert (model.sample_node_mask(20, g, num_atoms=5).sum(1) == 5).all()
    assert set(model.sample_node_mask(40, g, num_atoms="2..3").sum(1).long().tolist()) <= {2, 3}
    with pytest.raises(UsageError, match="generates 1..7 atoms"):
        model.sampling_options(num_atoms=8) and model.sample_node_mask(2, g, num_atoms=8)


# -- GDSS, conditioned: the same mechanism through the score networks' condition input ----------


def _trained(model, records, steps: int):
    """``model`` after ``steps`` Adam steps on one batch of ``records`` (eval mode), and the batch."""
    batch = model.collate([model.encode(r) for r in records])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        loss, _ = model.loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval(), batch


def _gdss(conditions=("p",), steps=0, **kwargs):
    """A tiny GDSS on 16 three-atom chains: all carbon with p = 0, all oxygen with p = 1."""
    from unigen.models.gdss import GDSS, GDSSConfig, ScoreNetConfig

    records = _graphs(*["CCC", "OOO"] * 8, p=[0.0, 1.0] * 8)
    small = ScoreNetConfig(dim=16, depth=2, heads=2, pair_dim=8)
    config = GDSSConfig(net_x=small, net_adj=small, conditions=list(conditions), **kwargs)
    torch.manual_seed(0)
    model = GDSS(config, GDSS.fit_state(config, records))
    return _trained(model, records, steps)


def test_a_conditioned_gdss_stores_ranges_and_reloads_from_its_card():
    from unigen.models.gdss import GDSS

    model, batch = _gdss()
    state = model.card_state()["conditions"]
    assert state["names"] == ["p"] and (state["low"], state["high"]) == ([0.0], [1.0])
    assert batch["cond"].shape == (16, 1)
    assert model.net_x.backbone.config.cond_dim == 1 + 2  # t, then the value and its "given" flag
    again = GDSS(model.config, model.card_state())
    again.load_state_dict(model.state_dict())  # same shapes from the card alone


def test_the_property_condition_steers_gdss_samples():
    """Trained 200 steps, the property alone decides the atom type: p = 1 gives oxygen, p = 0 carbon
    (measured: shares 1.0 / 0.0 at 300 steps, 0.99 / 0.0 at 120)."""
    model, _ = _gdss(steps=200)

    def oxygen_share(target, guidance):
        options = model.sampling_options(sampler="s4", steps=50, guidance=guidance)
        raw = model.sample(
            32, generator=torch.Generator().manual_seed(0), options=options, conditions={"p": target}
        )
        atoms = [int(z) for m in model.decode(raw) for z in m.atomic_numbers]
        return sum(z == 8 for z in atoms) / len(atoms)

    for guidance in (1.0, 2.0):
        assert oxygen_share(1.0, guidance) >= 0.9
        assert oxygen_share(0.0, guidance) <= 0.1
    with pytest.raises(UsageError, match="cannot take qed"):
        model.sample(
            2, generator=torch.Generator(), options=model.sampling_options(), conditions={"qed": 0.5}
        )


def test_an_unconditioned_gdss_still_refuses_conditions():
    model, _ = _gdss(conditions=())
    assert model.net_x.backbone.config.cond_dim == 1
    with pytest.raises(UsageError, match="unconditional; it cannot take conditions"):
        model.sample(2, generator=torch.Generator(), options=model.sampling_options(), conditions={"p": 1.0})


# -- UniGenX, conditioned: crystals on a dataset's numeric column (Perov-5's heat_ref) ----------


def test_a_datasets_numeric_column_is_a_property_and_bookkeeping_is_not():
    from tests.models.test_unigenx import perovskite

    crystal = perovskite(38, 22, 3.905)
    crystal.meta.update(heat_ref=1.25, material_id=7, record=3, formula="SrTiO3")
    assert cond.record_value(crystal, "heat_ref") == 1.25
    with pytest.raises(ValueError, match=r"columns: 'heat_ref'\)"):
        cond.record_value(crystal, "record")


def _alternating_p(low, high) -> list:
    """16 records: copies of ``low`` with property p = 0 and of ``high`` with p = 1, alternating."""
    records = [copy.deepcopy(r) for r in [low, high] * 8]
    for k, record in enumerate(records):
        record.meta["p"] = float(k % 2)
    return records


def _unigenx(steps=0, conditions=("p",)):
    """A tiny UniGenX on 16 cubic perovskites: SrTiO3 with p = 0, KNbO3 with p = 1."""
    from tests.models.test_unigenx import perovskite, tiny_model

    records = _alternating_p(perovskite(38, 22, 3.905), perovskite(19, 41, 4.02))
    torch.manual_seed(0)
    model = tiny_model(records, conditions=list(conditions))
    return _trained(model, records, steps)


@pytest.mark.parametrize("build", ["_unigenx", "_uni3dar"])
def test_conditioned_autoregressive_families_store_ranges_and_reload_from_their_cards(build):
    model, batch = globals()[build]()
    assert model.card_state()["conditions"]["names"] == ["p"] and batch["cond"].shape == (16, 1)
    assert model.backbone.config.cond_dim == 2
    again = type(model)(model.config, model.card_state())
    again.load_state_dict(model.state_dict())


def test_the_property_condition_steers_unigenx_compositions():
    """Trained 150 steps, the property alone decides the composition: p = 1 gives KNbO3, p = 0
    SrTiO3, with and without guidance (the doubled conditional / unconditional batch)."""
    model, _ = _unigenx(steps=150)

    def potassium_share(target, guidance):
        options = model.sampling_options(steps=5, guidance=guidance)
        raw = model.sample(
            16, generator=torch.Generator().manual_seed(0), options=options, conditions={"p": target}
        )
        assert raw["cond"].shape == (16, 2)
        crystals = model.decode(raw)
        assert model.candidate_nll(raw, steps=3).shape == (16,)  # ranked at the sampled condition
        return sum(19 in c.atomic_numbers.tolist() for c in crystals) / len(crystals)

    for guidance in (1.0, 2.0):
        assert potassium_share(1.0, guidance) >= 0.9
        assert potassium_share(0.0, guidance) <= 0.1
    # a composition (CSP) and a property together; the composition is kept
    raw = model.sample(2, generator=torch.Generator(), options=model.sampling_options(steps=3),
                       conditions={"composition": [38, 22, 8, 8, 8], "p": 0.0})  # fmt: skip
    assert all(sorted(c.atomic_numbers.tolist()) == [8, 8, 8, 22, 38] for c in model.decode(raw))
    with pytest.raises(UsageError, match="cannot take heat"):
        model.sample(2, generator=torch.Generator(), options=model.sampling_options(), conditions={"heat": 1})


def test_an_unconditioned_unigenx_refuses_properties_but_takes_compositions():
    model, _ = _unigenx(conditions=())
    options = model.sampling_options(steps=2)
    with pytest.raises(UsageError, match="unconditional; it cannot take conditions"):
        model.sample(2, generator=torch.Generator(), options=options, conditions={"p": 1.0})
    raw = model.sample(
        1, generator=torch.Generator(), options=options, conditions={"composition": [38, 22, 8, 8, 8]}
    )
    assert "cond" not in raw


# -- Uni-3DAR, conditioned: the same mechanism over octree tokens --------------------------------


def _uni3dar(steps=0, conditions=("p",)):
    """A tiny Uni-3DAR on 16 bent three-atom molecules: carbon with p = 0, oxygen with p = 1."""
    import numpy as np

    from tests.models.test_uni3dar import NO_DROPOUT, tiny_model
    from unigen.structures import Molecule3D

    bent = np.array([[0.0, 0.0, 0.0], [1.3, 0.0, 0.0], [1.9, 1.1, 0.0]])
    records = _alternating_p(Molecule3D([6, 6, 6], bent), Molecule3D([8, 8, 8], bent))
    torch.manual_seed(0)
    model = tiny_model(records, conditions=list(conditions), rotation_prob=0.0, **NO_DROPOUT)
    return _trained(model, records, steps)


def test_the_property_condition_steers_uni3dar_atom_types():
    """Trained 150 steps, the property alone decides the atom type: p = 1 gives oxygen, p = 0
    carbon, with and without guidance (the doubled conditional / unconditional batch)."""
    model, _ = _uni3dar(steps=150)

    def oxygen_share(target, guidance):
        options = model.sampling_options(guidance=guidance)
        raw = model.sample(
            16, generator=torch.Generator().manual_seed(0), options=options, conditions={"p": target}
        )
        atoms = [int(z) for m in model.decode(raw) if m is not None for z in m.atomic_numbers]
        return sum(z == 8 for z in atoms) / max(len(atoms), 1)

    for guidance in (1.0, 2.0):
        assert oxygen_share(1.0, guidance) >= 0.9
        assert oxygen_share(0.0, guidance) <= 0.1
    with pytest.raises(UsageError, match="cannot take heat"):
        model.sample(2, generator=torch.Generator(), options=model.sampling_options(), conditions={"heat": 1})


def test_an_unconditioned_uni3dar_refuses_properties():
    model, _ = _uni3dar(conditions=())
    with pytest.raises(UsageError, match="unconditional; it cannot take conditions"):
        model.sample(2, generator=torch.Generator(), options=model.sampling_options(), conditions={"p": 1.0})
