"""Uni-3DAR family: the contract, causal leakage, the KV cache, ranking, leaf bounds, crystals."""

import numpy as np
import pytest
import torch
from conftest import requires_data

from unigen.data.keys import FINE, LEVEL, NODE_MASK, POS, TARGET_TOKENS, TOKENS, TREE
from unigen.errors import UsageError
from unigen.models.uni3dar import Uni3DAR, Uni3DARConfig
from unigen.structures import Crystal, Molecule3D
from unigen.testing import FamilyContract, assert_no_future_leak

NO_AUGMENTATION = {"rotation_prob": 0.0, "jitter": 0.0, "cell_shift": 0, "tree_dropout": 0.0,
                   "crystal_shift_prob": 0.0}  # fmt: skip
NO_DROPOUT = {"attn_dropout": 0.0, "drop_path": 0.0, "embed_dropout": 0.0, "head_dropout": 0.0}


def small_molecules(count: int = 8) -> list[Molecule3D]:
    """Molecules of 3..6 atoms (H, C, N, O) on a jittered 1.05 A lattice: never two in one cell."""
    rng = np.random.default_rng(0)
    out = []
    for k in range(count):
        n = 3 + k % 4
        sites = rng.choice(27, size=n, replace=False)
        grid = np.stack(np.unravel_index(sites, (3, 3, 3)), 1) * 1.05 + rng.normal(0, 0.05, (n, 3))
        out.append(Molecule3D(rng.choice([1, 6, 7, 8], size=n), grid))
    return out


def perovskites() -> list[Crystal]:
    frac = [[0.5, 0.5, 0.5], [0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]]
    cells = [(38, 22, 3.905), (56, 22, 4.0), (20, 22, 3.84), (19, 41, 4.02)]
    return [Crystal([a, b, 8, 8, 8], frac, np.eye(3) * length) for a, b, length in cells]


def tiny_model(records, **overrides) -> Uni3DAR:
    config = Uni3DARConfig(**({"dim": 32, "depth": 2, "heads": 2, "levels": 5} | overrides))
    return Uni3DAR(config, Uni3DAR.fit_state(config, records))


class TestUni3DARContract(FamilyContract):
    family = "uni3dar"
    sampling = {"tree_temperature": 1.0}
    overfit_steps = 60

    def records(self):
        return small_molecules()

    def make_model(self):
        torch.manual_seed(0)
        return tiny_model(self.records(), **NO_DROPOUT)

    def check_symmetry(self, model, batch):
        """Causal: a position's state reads no later token, bin or rotary position."""
        model = model.double()
        with torch.no_grad():  # zero-initialised residual outputs would make the check vacuous
            for block in model.backbone.blocks:
                block.attn.out.weight.normal_(0, 0.1)
                block.ffn.w2.weight.normal_(0, 0.1)
        inputs = {"tokens": batch[TOKENS], "fine": batch[FINE], "level": batch[LEVEL], "tree": batch[TREE],
                  "pos": batch[POS].double()}  # fmt: skip
        order = torch.arange(batch[TOKENS].shape[1]).expand_as(batch[TOKENS])
        assert_no_future_leak(model.hidden, inputs, node_axes={"tokens": 1, "fine": 1, "pos": 1}, order=order,
                              atol=1e-9)  # fmt: skip


class TestUni3DARLeafContextContract(TestUni3DARContract):
    """The same contract (causality included) with the leaf context on."""

    def make_model(self):
        torch.manual_seed(0)
        return tiny_model(self.records(), leaf_context=3, **NO_DROPOUT)


def _leaf_batch(model, records):
    model.eval()
    batch = model.collate([model.encode(r) for r in records])
    args = (batch[TOKENS], batch[LEVEL], batch[TREE], batch[POS].double(), batch[NODE_MASK])
    return batch, args


def test_the_leaf_context_is_zero_off_leaf_masks_and_blind_to_a_common_shift():
    torch.manual_seed(0)
    model = tiny_model(small_molecules(), leaf_context=3).double()
    batch, (ids, level, tree, pos, valid) = _leaf_batch(model, small_molecules(4))
    context = model.context(ids, level, tree, pos, valid, queries=ids.shape[1])
    leaf_masks = (level == 0) & (ids == 1)  # MASK
    assert context[~leaf_masks].abs().max() == 0
    assert context[leaf_masks].abs().sum(-1).gt(0).sum() >= leaf_masks.sum() - 4  # all but each first leaf
    shifted = model.context(ids, level, tree, pos + torch.tensor([0.3, -1.2, 2.0], dtype=pos.dtype), valid,
                            queries=ids.shape[1])  # fmt: skip
    assert torch.allclose(context, shifted, atol=1e-9)


def test_the_leaf_context_of_the_last_tokens_equals_the_full_sequence_rows():
    torch.manual_seed(0)
    model = tiny_model(small_molecules(), leaf_context=3).double()
    _, (ids, level, tree, pos, valid) = _leaf_batch(model, small_molecules(4))
    full = model.context(ids, level, tree, pos, valid, queries=ids.shape[1])
    assert torch.equal(model.context(ids, level, tree, pos, valid, queries=5), full[:, -5:])


@pytest.mark.parametrize("leaf_context", [0, 3])
def test_the_kv_cache_samples_exactly_the_tokens_of_rerunning_the_prefix(leaf_context):
    torch.manual_seed(0)
    model = tiny_model(small_molecules(), leaf_context=leaf_context, **NO_DROPOUT).double().eval()
    with torch.no_grad():  # random heads, so that the samples depend on the states
        for p in model.parameters():
            p.normal_(0, 0.2)
    raws = [model.sample(4, generator=torch.Generator().manual_seed(1), options=model.sampling_options(kv_cache=c))
            for c in (True, False)]  # fmt: skip
    for key in ("ids", "fine", "valid"):
        assert torch.equal(raws[0][key], raws[1][key]), key
    assert torch.allclose(raws[0]["logp"], raws[1]["logp"], atol=1e-9)


def test_leaf_counts_stay_within_max_atoms_and_a_composition_is_met_exactly():
    torch.manual_seed(0)
    model = tiny_model(small_molecules()).eval()
    opts = model.sampling_options(max_atoms=4, tree_temperature=1.0, atom_temperature=1.0)
    molecules = model.decode(model.sample(6, generator=torch.Generator().manual_seed(0), options=opts))
    assert all(1 <= m.num_atoms <= 4 for m in molecules)
    formula = [8, 6, 6, 1, 1, 1, 1]  # more atoms than max_atoms: a composition sets its own count
    raw = model.sample(
        3, generator=torch.Generator().manual_seed(0), options=opts, conditions={"composition": formula}
    )
    for molecule in model.decode(raw):
        assert sorted(molecule.atomic_numbers.tolist()) == sorted(formula)


def test_rank_ratio_keeps_the_most_likely_draws():
    torch.manual_seed(0)
    model = tiny_model(small_molecules(), **NO_DROPOUT).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2)
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    every = model.sample(8, generator=g(), options=model.sampling_options(atom_temperature=1.0))
    kept = model.sample(
        2, generator=g(), options=model.sampling_options(atom_temperature=1.0, rank_ratio=0.25)
    )
    assert torch.allclose(kept["logp"], every["logp"].sort(descending=True).values[:2])


def test_tree_node_dropout_removes_level_one_pairs_only():
    torch.manual_seed(0)
    model = tiny_model(small_molecules(), **(NO_AUGMENTATION | {"tree_dropout": 1.0})).train()
    examples = [model.encode(m) for m in small_molecules()]
    dropped = model.collate(examples)
    model.config.tree_dropout = 0.0
    full = model.collate(examples)
    count = lambda b, lv: int(((b[LEVEL] == lv) & b[NODE_MASK]).sum())  # noqa: E731
    assert count(dropped, 1) < count(full, 1)
    assert all(count(dropped, lv) == count(full, lv) for lv in (0, 2, 3, -1))
    assert int((dropped[TARGET_TOKENS] >= 0).sum()) < int((full[TARGET_TOKENS] >= 0).sum())


def test_a_molecule_too_large_for_the_box_is_a_one_line_error():
    model = tiny_model(small_molecules(), levels=4)  # 3.84 A box
    big = Molecule3D([6, 6], [[0, 0, 0], [4.0, 0, 0]])
    with pytest.raises(ValueError, match="use more levels") as err:
        model.encode(big)
    assert "\n" not in str(err.value)


def test_an_unknown_element_in_a_composition_is_a_usage_error_naming_it():
    model = tiny_model(small_molecules())
    with pytest.raises(UsageError, match="without element\\(s\\) U"):
        model.sample(1, generator=torch.Generator(), options=model.sampling_options(),
                     conditions={"composition": [92, 8]})  # fmt: skip


def test_crystals_sample_eight_corners_and_their_composition():
    torch.manual_seed(0)
    model = tiny_model(perovskites(), levels=6).eval()
    assert model.record_type is Crystal
    loss, _ = model.loss(model.collate([model.encode(c) for c in perovskites()]))
    assert torch.isfinite(loss)
    raw = model.sample(3, generator=torch.Generator().manual_seed(0), options=model.sampling_options(),
                       conditions={"composition": [38, 22, 8, 8, 8]})  # fmt: skip
    crystals = model.decode(raw)  # a random model's corners may span no volume: those are left out
    for crystal in crystals:
        assert sorted(crystal.atomic_numbers.tolist()) == [8, 8, 8, 22, 38]


_OVERFITTED = {}


def overfitted(records, max_steps: int, target_loss: float = 0.05) -> Uni3DAR:
    """A small model trained without augmentation until it reproduces ``records`` (cached): until
    its loss is below ``target_loss``, at most ``max_steps``. A fixed step count was fragile: the
    250 steps that passed on the earlier development CPU left the loss at 0.81 and no sample
    matching on the next one (2026-12-06), where 400 steps reach 0.037 and 16 of 16 match."""
    if "model" not in _OVERFITTED:
        torch.manual_seed(0)
        model = tiny_model(
            records, dim=64, depth=2, heads=4, levels=6, **NO_AUGMENTATION, **NO_DROPOUT
        ).train()
        batch = model.collate([model.encode(r) for r in records])
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        for _ in range(max_steps):
            loss = model.loss(batch)[0]
            if loss.item() < target_loss:
                break
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        _OVERFITTED["model"] = model.eval()
    return _OVERFITTED["model"]


@requires_data("qm9", "qm9_3d_qm9pack_core.csv.gz")
def test_overfitting_eight_qm9_molecules_generates_them_back():
    from unigen.data import load_dataset

    records = list(load_dataset("qm9_3d", "train", limit=8))
    model = overfitted(records, max_steps=1000)
    truth = [model.tokenizer.encode(r) for r in records]
    # occupancy at temperature 0.5: the root patterns of 8 molecules are a genuine mixture, and a
    # hotter draw mixes two molecules' trees more often (measured: 15 of 16 at 0.5, 10 of 16 at 0.9)
    options = model.sampling_options(tree_temperature=0.5)
    raw = model.sample(16, generator=torch.Generator().manual_seed(0), options=options)
    matched = []
    for ids, fine, valid in zip(raw["ids"].numpy(), raw["fine"].numpy(), raw["valid"].numpy()):
        same = [np.array_equal(t.ids, ids[valid]) and np.array_equal(t.fine, fine[valid]) for t in truth]
        matched.append(same.index(True) if any(same) else None)
    found = sum(m is not None for m in matched)
    assert found >= 14, f"{found} of 16 samples are training molecules, token for token"
    assert len(set(matched) - {None}) >= 4, f"only {set(matched)} of the training molecules generated"
    assert len(model.decode(raw)) == 16


REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


def _train(recipe: str, out, *overrides) -> str:
    from unigen.config import load_recipe
    from unigen.training.run import train

    recipe = load_recipe(REPO / recipe, [f"train.out_dir={out}", "train.progress=false", *overrides])
    return str(train(recipe))


def _cli(args, capsys):
    from unigen.cli import main

    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@requires_data("qm9", "qm9_3d_qm9pack_core.csv.gz")
def test_generate_writes_sdf_and_xyz_with_the_edm_summary(tmp_path, capsys):
    model = _train("recipes/tiny/uni3dar.yaml", tmp_path / "run", "train.steps=10", "data.limit=32")
    for name in ("out.sdf", "out.xyz"):
        out = tmp_path / name
        code, stdout, err = _cli(["generate", "--model", model, "-n", "4", "-o", str(out),
                                  "--set", "sampling.rank_ratio=0.5"], capsys)  # fmt: skip
        assert code == 0, err
        assert "wrote 4 structures" in stdout and "atom_stability" in stdout and "mol_stability" in stdout
        from unigen.io import read

        result = read(out)  # an SDF reads back as molecular graphs: an untrained sample may not sanitise
        assert len(result.records) + len(result.errors) == 4
    code, _, err = _cli(["predict-structure", "SrTiO3", "--model", model], capsys)
    assert code == 2 and "needs a crystal model" in err and "Traceback" not in err


@requires_data("perov_5", "val.csv")
def test_predict_structure_with_a_uni3dar_crystal_model_keeps_the_composition(tmp_path, capsys):
    model = _train("recipes/uni3dar/perov5_cpu.yaml", tmp_path / "run", "train.steps=5", "data.extra=[]",
                   "data.limit=64", "model.dim=32", "model.depth=2", "model.heads=2", "model.ffn_hidden=64")  # fmt: skip
    out = tmp_path / "csp.cif"
    code, stdout, err = _cli(
        ["predict-structure", "SrTiO3", "--model", model, "-n", "2", "-o", str(out)], capsys
    )
    assert code == 0, err
    from unigen.io import read

    crystals = read(out).records
    assert crystals and all(sorted(c.atomic_numbers.tolist()) == [8, 8, 8, 22, 38] for c in crystals)
