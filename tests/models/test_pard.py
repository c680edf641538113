"""PARD: doubled-graph layout, block-causal leakage, the block sampler, overfitting and generating back."""

import networkx as nx
import pytest
import torch

from unigen.backbone.masks import dense_meta, dense_visibility
from unigen.chem import convert
from unigen.data.keys import ATOM_TYPES, BLOCK_ID, BONDS, NODE_MASK
from unigen.errors import UsageError
from unigen.models.pard import (
    BLOCK_DEGREE,
    BLOCK_DEGREES,
    BLOCK_SIZES,
    PARD,
    PARDConfig,
    PARDNetConfig,
    doubled_graph,
    target_logits,
)
from unigen.processes.discrete import CategoricalDiffusion
from unigen.samplers.block_ar import sample_blocks
from unigen.samplers.registry import get_sampler
from unigen.structures import Graph
from unigen.testing import FamilyContract, assert_no_future_leak, assert_permutation_equivariant

SMILES = ["CCO", "CC(=O)O", "C#N", "CN", "OCCO", "CC=O", "NC=O", "CCC"]
# No graph equals a proper prefix (first blocks) of another, so "stop" is unambiguous at each graph's end.
GRAPHS = [
    Graph(4, [[0, 1, 2], [1, 2, 3]]),  # path P4: blocks {1, 2}, {0, 3}
    Graph(3, [[0, 1], [1, 2]]),  # path P3: {1}, {0, 2}
    Graph(4, [[0, 0, 0], [1, 2, 3]]),  # star, 3 leaves
    Graph(3, [[0, 1, 0], [1, 2, 2]]),  # triangle: one block
    Graph(4, [[0, 0, 1, 1, 2], [1, 2, 2, 3, 3]]),  # diamond: {1, 2}, {0, 3}
    Graph(4, [[0, 1, 2, 3], [1, 2, 3, 0]]),  # 4-cycle: one block
    Graph(5, [[0, 1, 2, 3, 4], [1, 2, 3, 4, 0]]),  # 5-cycle: one block
    Graph(5, [[0, 0, 0, 0], [1, 2, 3, 4]]),  # star, 4 leaves
]
SMALL = {"denoiser": PARDNetConfig(32, 2, 4, 16), "block_net": PARDNetConfig(16, 1, 4, 8)}


def _model(records, kind="molecule", **options):
    cfg = PARDConfig(kind=kind, num_steps=10, **{**SMALL, **options})
    return PARD(cfg, PARD.fit_state(cfg, records))


def _molecules():
    return [convert.smiles_to_graph(s) for s in SMILES]


def _batch(model, records):
    return model.collate([model.encode(r) for r in records])


def _doubled(model, batch, t=4, seed=0):
    """The denoiser inputs (float64) of a batch at step t with fixed noise."""
    g = torch.Generator().manual_seed(seed)
    x0, e0 = batch[ATOM_TYPES], batch[BONDS]
    xt = model.node_process.sample_q(x0, t, generator=g)
    et = model.edge_process.sample_q(e0, t, generator=g, symmetric=True)
    inputs = doubled_graph(
        x0, xt, e0, et, batch[NODE_MASK], batch[BLOCK_ID], batch[BLOCK_DEGREE], model.classes
    )
    inputs = {k: v.double() if v.is_floating_point() else v for k, v in inputs.items()}
    return {**inputs, "time": torch.full((len(x0),), t / model.config.num_steps, dtype=torch.float64)}


def check_pard_symmetry(model, batch):
    """Denoiser: permutation equivariant on the doubled graph, and no target reads what PARD's mask
    hides (later blocks, its own real copy). Block net: equivariant, and node i sees blocks <= b_i only."""
    model = model.double()
    inputs = _doubled(model, batch)
    axes = {"nodes": 1, "pairs": (1, 2), "node_mask": 1, "block_id": 1, "is_target": 1, "block_degree": 1}
    out_axes = {0: 1, 1: (1, 2)}
    assert_permutation_equivariant(
        model.denoiser, inputs, node_axes=axes, output_node_axes=out_axes, atol=1e-9
    )
    visible = dense_visibility(
        "block_causal", dense_meta(inputs["node_mask"], inputs["block_id"], inputs["is_target"])
    )
    leak_axes = {"nodes": 1, "pairs": (1, 2), "block_degree": 1}
    generator = torch.Generator().manual_seed(0)
    assert_no_future_leak(
        model.denoiser,
        inputs,
        node_axes=leak_axes,
        output_node_axes=out_axes,
        visible=visible,
        n_trials=8,
        atol=1e-9,
        generator=generator,
    )
    n = batch[NODE_MASK].shape[1]
    clean = {k: inputs[k][:, :n, :n] if k == "pairs" else inputs[k][:, :n] for k in axes if k != "is_target"}
    net = model.block_net.node_states
    assert_permutation_equivariant(
        net, clean, node_axes={k: axes[k] for k in clean}, output_node_axes=1, atol=1e-9
    )
    assert_no_future_leak(
        net, clean, node_axes=leak_axes, output_node_axes=1, order=batch[BLOCK_ID], atol=1e-9
    )


class TestPARDMoleculeContract(FamilyContract):
    family = "pard"
    sampling = {"steps": 3}

    def records(self):
        return _molecules()

    def make_model(self):
        torch.manual_seed(0)
        return _model(self.records())

    def check_symmetry(self, model, batch):
        check_pard_symmetry(model, batch)


class TestPARDGraphContract(TestPARDMoleculeContract):
    def records(self):
        return list(GRAPHS)

    def make_model(self):
        torch.manual_seed(0)
        return _model(self.records(), "graph")


# -- encoding and the doubled graph --------------------------------------------------------


def test_encode_sorts_nodes_by_block_and_decodes_back():
    model = _model(_molecules())
    batch = _batch(model, _molecules())
    ids = batch[BLOCK_ID].masked_fill(~batch[NODE_MASK], 10**6)
    assert bool((ids[:, 1:] >= ids[:, :-1]).all())
    decoded = model.decode({k: batch[k] for k in (ATOM_TYPES, BONDS, NODE_MASK)})
    assert [convert.graph_to_smiles(g) for g in decoded] == [convert.canonical_smiles(s) for s in SMILES]
    ethanol = model.encode(convert.smiles_to_graph("CCO"))  # the middle carbon is the core
    assert ethanol[BLOCK_SIZES].tolist() == [1, 2] and ethanol[BLOCK_DEGREES].tolist() == [0, 1]
    assert ethanol[BLOCK_DEGREE].tolist() == [0, 1, 1]


def test_doubled_graph_holds_clean_copies_then_noisy_targets():
    model = _model(list(GRAPHS), "graph")
    batch = _batch(model, [GRAPHS[0]])  # P4: block ids [0, 0, 1, 1]
    x0, e0 = batch[ATOM_TYPES], batch[BONDS]
    xt, et = torch.ones_like(x0), 1 - e0 - torch.eye(4, dtype=torch.long)  # "noise": the complement graph
    d = doubled_graph(x0, xt, e0, et, batch[NODE_MASK], batch[BLOCK_ID], batch[BLOCK_DEGREE], model.classes)
    pairs = d["pairs"][0].argmax(-1) * (d["pairs"][0].sum(-1) > 0)
    present = d["pairs"][0].sum(-1) > 0
    assert (
        d["nodes"][0, :4].argmax(-1).tolist() == [0] * 4 and d["nodes"][0, 4:].argmax(-1).tolist() == [1] * 4
    )
    assert torch.equal(pairs[:4, :4], e0[0])  # real copies: the clean graph
    assert torch.equal(
        pairs[4:, :2], et[0, :, :2] * torch.tensor([[0], [0], [1], [1]])
    )  # block 1 targets -> block 0
    assert not present[4:, 2:4].any() and not present[4:6, :2].any()  # no later or same-block real copies
    assert torch.equal(
        present[4:, 4:], torch.block_diag(torch.ones(2, 2), torch.ones(2, 2)).bool() & ~torch.eye(4).bool()
    )
    assert torch.equal(pairs, pairs.T)
    assert d["is_target"][0].tolist() == [False] * 4 + [True] * 4


def test_target_logits_take_each_pair_from_the_block_that_generates_it():
    block = torch.tensor([[0, 1, 1]])  # doubled graph: real copies 0, 1, 2; target copies 3, 4, 5
    code = torch.arange(36.0).view(1, 6, 6, 1)  # logit of doubled pair (a, b) = 6 a + b
    nodes, pairs = target_logits(torch.arange(6.0).view(1, 6, 1), code, block)
    source = pairs[0, ..., 0].long().tolist()
    assert source[1][0] == source[0][1] == 6 * 4 + 0  # {0, 1}: target copy of node 1 against real node 0
    assert source[2][0] == 6 * 5 + 0 and source[1][2] == 6 * 4 + 5  # {1, 2}: two target copies of block 1
    assert nodes[0, :, 0].tolist() == [3.0, 4.0, 5.0]


def _noiseless_doubled(model, batch):
    """Denoiser inputs (float64) whose "noisy" copies hold the clean types: no randomness at all."""
    x0, e0 = batch[ATOM_TYPES], batch[BONDS]
    inputs = doubled_graph(
        x0, x0, e0, e0, batch[NODE_MASK], batch[BLOCK_ID], batch[BLOCK_DEGREE], model.classes
    )
    inputs = {k: v.double() if v.is_floating_point() else v for k, v in inputs.items()}
    return {**inputs, "time": torch.full((len(x0),), 0.5, dtype=torch.float64)}


def test_padding_with_larger_graphs_changes_no_logit():
    torch.manual_seed(0)
    model = _model(_molecules()).double().eval()
    ethanol, acid = _molecules()[0], convert.smiles_to_graph("CC(=O)O")
    alone = _noiseless_doubled(model, _batch(model, [ethanol]))
    mixed = _noiseless_doubled(model, _batch(model, [ethanol, acid]))
    with torch.no_grad():
        a_nodes, a_pairs = model.denoiser(**alone)
        m_nodes, m_pairs = model.denoiser(**mixed)
    keep = torch.tensor([0, 1, 2, 4, 5, 6])  # ethanol (3 atoms) padded to 4: real 0-2, targets 4-6
    assert torch.allclose(a_nodes[0], m_nodes[0, keep], atol=1e-10)
    assert torch.allclose(a_pairs[0], m_pairs[0][keep][:, keep], atol=1e-10)
    assert torch.all(m_nodes[0, [3, 7]] == 0) and torch.all(m_pairs[0, 3] == 0)  # padding: zero logits
    assert not torch.allclose(m_nodes[1, :4], m_nodes[0, :4])  # the other graph is really different


# -- the block sampler (with a scripted model) ---------------------------------------------


class ScriptedModel:
    """Next-block sizes per row from a script; the denoiser always prefers class 1 (node and edge)."""

    def __init__(self, script, classes=(3, 3)):
        self.script, self.classes, self.denoise_calls = script, classes, 0
        self.denoised_rows = []  # batch size of each denoise call

    def size_logits(self, graph):
        logits = torch.full((len(self.script), 6), -30.0)
        for row, sizes in enumerate(self.script):
            logits[row, sizes[min(graph.num_blocks, len(sizes) - 1)]] = 30.0
        return logits

    def degree_logits(self, graph, sizes):
        return torch.nn.functional.one_hot(sizes.clamp(max=3), 4).float() * 30.0

    def denoise(self, graph, time):
        self.denoise_calls += 1
        b, n = graph.node_types.shape
        self.denoised_rows.append(b)
        nodes = torch.full((b, n, self.classes[0]), -30.0)
        pairs = torch.full((b, n, n, self.classes[1]), -30.0)
        nodes[..., 1] = pairs[..., 1] = 30.0
        return nodes, pairs

    def rows(self, index):
        return self


def _run(script, max_nodes=8, max_blocks=5, steps=4, progress=None):
    model = ScriptedModel(script)
    procs = [CategoricalDiffusion(3, steps, final_exclude=(2,)) for _ in range(2)]
    graph = sample_blocks(
        model,
        *procs,
        len(script),
        max_nodes,
        max_blocks,
        generator=torch.Generator().manual_seed(0),
        progress=progress,
    )
    return model, graph


def test_sampler_stops_when_the_size_head_says_zero():
    ticks = []
    model, graph = _run([[2, 0]], progress=ticks.append)
    assert graph.real[0].tolist() == [True, True] + [False] * 6
    assert model.denoise_calls == 4 and graph.num_blocks == 1  # one block of 4 steps, then stop
    assert ticks == list(range(5 * 4))  # the unused blocks' ticks are reported at the end
    assert get_sampler("block_ar", "block_ar").function is sample_blocks


def test_sampler_denoises_only_the_graphs_still_growing():
    model, graph = _run([[2, 0], [1, 3, 0], [3, 1, 1, 0]], steps=4)
    # block 0: all three graphs grow; block 1: the last two; block 2: the last one
    assert model.denoised_rows == [3] * 4 + [2] * 4 + [1] * 4
    assert graph.count().tolist() == [2, 4, 5]
    assert graph.node_types[graph.real].eq(1).all()  # every denoised node was written back


def test_sampler_batches_graphs_of_different_sizes():
    model, graph = _run([[2, 0], [1, 3, 0], [3, 1, 1, 0]])
    assert graph.count().tolist() == [2, 4, 5] and graph.num_blocks == 3
    assert graph.block_id[1, :4].tolist() == [0, 1, 1, 1] and graph.block_id[2, :5].tolist() == [
        0,
        0,
        0,
        1,
        2,
    ]
    assert graph.block_degree[2, :5].tolist() == [3, 3, 3, 1, 1]
    real = graph.real.unsqueeze(2) & graph.real.unsqueeze(1) & ~torch.eye(8, dtype=torch.bool)
    assert torch.equal(graph.edge_types, graph.edge_types.transpose(1, 2))
    assert torch.equal(graph.edge_types == 1, real)  # every generated pair, and only those
    assert torch.equal(graph.node_types == 1, graph.real)
    assert not graph.target.any() and model.denoise_calls == 3 * 4


def test_sampler_never_exceeds_max_nodes_or_max_blocks():
    _, graph = _run([[3, 3, 3, 3, 3, 3], [1, 1, 1, 1, 1, 1]], max_nodes=7, max_blocks=4)
    assert graph.count().tolist()[0] <= 7 and graph.count().tolist()[1] == 4
    assert int(graph.block_id.max()) <= 3


# -- the family: options, training, generating back ------------------------------------------


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("steps", -1, r"steps must be in 0..1000"),
        ("max_blocks", -2, r"max_blocks must be in 0..1000"),
        ("sampler", "ddpm", "sampler 'ddpm' is not one of block_ar"),
    ],
)
def test_sampling_options_out_of_range(key, value, message):
    with pytest.raises(UsageError, match=message):
        _model(_molecules()).sampling_options(**{key: value})


def test_progress_ticks_match_num_sampling_steps():
    model = _model(_molecules()).eval()
    options = model.sampling_options(steps=2, max_blocks=3)
    seen = []
    model.sample(2, generator=torch.Generator().manual_seed(0), options=options, progress=seen.append)
    assert model.num_sampling_steps(options) == 6 and seen == list(range(6))
    assert model.num_sampling_steps(model.sampling_options()) == (model.state["max_blocks"] + 3) * 10


def test_a_batch_sampled_in_chunks_reports_one_run_of_ticks_and_keeps_sizes():
    model = _model(_molecules()).eval()
    options = model.sampling_options(steps=2, max_blocks=3, chunk=2, num_atoms=2)
    seen = []
    raw = model.sample(5, generator=torch.Generator().manual_seed(0), options=options, progress=seen.append)
    assert len(seen) == model.num_sampling_steps(options) == 6  # 3 chunks, thinned to one run
    assert raw[NODE_MASK].shape[0] == 5 and raw[NODE_MASK].sum(1).tolist() == [2] * 5
    with pytest.raises(UsageError, match="chunk must be >= 0"):
        model.sampling_options(chunk=-1)


def test_state_marginals_hashes_and_unknown_atoms():
    model = _model(_molecules(), noise="marginal")
    node_m, edge_m = model.state["node_marginal"], model.state["edge_marginal"]
    assert node_m[-1] == 0 and edge_m[-1] == 0 and abs(sum(node_m) - 1) < 1e-9
    assert torch.allclose(model.node_process.limit(), torch.tensor(node_m, dtype=torch.float64))
    assert model.train_hashes.numel() == len(SMILES) and "train_hashes" not in model.card_state()
    with pytest.raises(ValueError, match=r"atomic numbers \[9\]"):
        model.encode(convert.smiles_to_graph("CF"))
    assert model.unknown_types([convert.smiles_to_graph("CF")]) == {"F": 1}


@pytest.fixture(scope="module")
def trained_graph_model():
    """The small graph model overfitted on GRAPHS (about 14 s on one core)."""
    torch.manual_seed(0)
    model = _model(GRAPHS, "graph", block_net=PARDNetConfig(32, 2, 4, 8))
    batch = _batch(model, GRAPHS)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(600):
        loss, parts = model.loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(parts)
    return model.eval(), losses


def test_overfitted_model_generates_the_training_graphs(trained_graph_model):
    model, losses = trained_graph_model
    first, last = losses[0], {k: sum(p[k] for p in losses[-50:]) / 50 for k in losses[0]}
    assert last["loss_edges"] < 0.2 * first["loss_edges"] and last["loss_blocks"] < 0.2 * first["loss_blocks"]
    raw = model.sample(32, generator=torch.Generator().manual_seed(0), options=model.sampling_options())
    train = [convert.graph_to_networkx(g) for g in GRAPHS]
    hits = sum(
        any(nx.is_isomorphic(convert.graph_to_networkx(g), h) for h in train) for g in model.decode(raw)
    )
    assert hits >= 26, f"only {hits} of 32 samples are training graphs"
    assert model.path_agreement(raw) >= 0.6  # PARD's diagnostic: generated graphs re-decompose as generated
    chunked = model.sample(
        32, generator=torch.Generator().manual_seed(1), options=model.sampling_options(chunk=6)
    )
    hits = sum(
        any(nx.is_isomorphic(convert.graph_to_networkx(g), h) for h in train) for g in model.decode(chunked)
    )
    assert hits >= 26, f"chunks of 6: only {hits} of 32 samples are training graphs"


def test_size_head_stops_exactly_after_the_last_block(trained_graph_model):
    model, _ = trained_graph_model
    batch = _batch(model, GRAPHS)
    sizes = batch[BLOCK_SIZES]
    with torch.no_grad():
        r = model.block_states(batch)
        predicted = model.block_net.size_logits(r).argmax(-1)
    last = (sizes > 0).sum(1) - 1
    rows = torch.arange(len(sizes))
    assert predicted[rows, last].tolist() == [0] * len(GRAPHS)  # stop after each whole graph
    earlier = (torch.arange(sizes.shape[1]) < last.unsqueeze(1)) & (sizes > 0)
    assert bool((predicted[earlier] > 0).all())  # and never on a proper prefix


def test_tiny_recipe_trains_saves_loads_and_generates(tmp_path):
    """recipes/tiny/pard.yaml through the real engine for a few steps, then the checkpoint generates."""
    from pathlib import Path

    from unigen.checkpoint import load
    from unigen.config import load_recipe
    from unigen.generation import generate
    from unigen.training.run import train

    recipe = load_recipe(
        Path(__file__).resolve().parents[2] / "recipes/tiny/pard.yaml",
        [f"train.out_dir={tmp_path / 'run'}", "train.steps=3", "train.progress=false"],
    )
    model = load(train(recipe), family="pard")
    assert model.train_hashes.numel() > 300  # novelty hashes travel with the weights
    result = generate(model, 4, seed=0, steps=2)
    assert result.summary["generated"] == 4 and 0 <= result.summary["validity"] <= 1
    assert all(r.num_atoms >= 1 for r in result.records)
