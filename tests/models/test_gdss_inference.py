"""GDSS's fused sampling-time score networks (issue 16) against the backbone modules, and their C
kernel (unigen.models.gdss_native) against the fused torch path, with its fallback when no C compiler
can build it."""

import pytest
import torch

from unigen.chem import convert
from unigen.errors import UnigenError
from unigen.models import gdss_inference, gdss_native
from unigen.models.gdss import GDSS, GDSSConfig, GDSSSampling, ScoreNetConfig, SDEConfig
from unigen.models.gdss_inference import ChunkedScores, FusedScores, resolve_kernel, supports
from unigen.structures import Graph

SMILES = ["CCO", "CC(=O)O", "C#N", "CN", "OCCO", "CC=O", "NC=O", "CCC"]


def _model(kind="molecule", sde_x="VE", dtype=torch.float64):
    if kind == "molecule":
        records = [convert.smiles_to_graph(s) for s in SMILES]
    else:
        records = [Graph.from_adjacency(torch.ones(n, n).triu(1).bool().numpy() | 0) for n in (3, 4, 5)]
    x_sde = SDEConfig("VP", beta_min=0.1, beta_max=1.0) if sde_x == "VP" else SDEConfig("VE")
    cfg = GDSSConfig(
        kind=kind,
        sde_x=x_sde,
        net_x=ScoreNetConfig(dim=16, depth=2, heads=2, pair_dim=8, adj_powers=3),
        net_adj=ScoreNetConfig(dim=16, depth=3, heads=4, pair_dim=6, adj_powers=2),
        sampling=GDSSSampling(steps=5),
    )
    model = GDSS(cfg, GDSS.fit_state(cfg, records)).to(dtype).eval()
    with torch.no_grad():  # every weight non-trivial, norms' affines included
        g = torch.Generator().manual_seed(0)
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.5 + (p.dim() == 1))
    return model


def _inputs(model, b=7):
    g = torch.Generator().manual_seed(1)
    n = model.max_nodes
    mask = model.sample_node_mask(b, g)
    mask[0] = 0  # a graph with no node: every query reads nothing
    mask[1] = 1
    x = torch.randn(b, n, model.num_features, generator=g, dtype=torch.float64)
    adj = torch.randn(b, n, n, generator=g, dtype=torch.float64).triu(1)
    adj = (adj + adj.transpose(1, 2)) * mask[:, :, None] * mask[:, None, :]
    return x, adj, mask.double(), torch.rand(b, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("kind, sde_x", [("molecule", "VE"), ("graph", "VP")])
def test_fused_scores_equal_the_modules(kind, sde_x):
    model = _model(kind, sde_x)
    x, adj, mask, t = _inputs(model)
    with torch.no_grad():
        expected = model.scores(x, adj, mask, t)
        fused = FusedScores(model)
        got = fused(x, adj, fused.prepare(mask), t)
    for a, b in zip(expected, got):
        assert a.shape == b.shape
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-9)


def test_chunks_and_threads_give_identical_scores():
    model = _model()
    x, adj, mask, t = _inputs(model, b=40)
    fused = FusedScores(model)
    with torch.no_grad():
        with ChunkedScores(fused, mask, chunk=40) as whole:
            one = whole(x, adj, t)
        threads_before = torch.get_num_threads()
        with ChunkedScores(fused, mask, chunk=6, threads=3) as pooled:
            assert len(pooled.spans) == 7 and torch.get_num_threads() == 1
            many = pooled(x, adj, t)
        assert torch.get_num_threads() == threads_before
    for a, b in zip(one, many):
        assert torch.equal(a, b)


def test_traced_scores_are_the_eager_values_bit_for_bit():
    model = _model(dtype=torch.float32)
    x, adj, mask, t = (v.float() for v in _inputs(model, b=24))
    fused = FusedScores(model)
    assert all(p.requires_grad for p in model.parameters())  # the fused copies are frozen, not the model
    with torch.no_grad():
        masks = fused.prepare(mask)
        eager = fused(x, adj, masks, t)
        traced = fused.traced(x, adj, masks, t)
        again = fused.traced(x + 0.5, adj, masks, t * 0.5)  # the trace reads its inputs, not constants
        expected_again = fused(x + 0.5, adj, masks, t * 0.5)
        with ChunkedScores(fused, mask, chunk=5, threads=2) as pooled:  # traced in worker threads too
            pooled_out = pooled(x, adj, t)
            chunks = [fused(x[i:j], adj[i:j], fused.prepare(mask[i:j]), t[i:j]) for i, j in pooled.spans]
    assert len(fused._traced) == 3  # one trace per chunk shape: 24 graphs, chunks of 5 and the last of 4
    eager_chunks = [torch.cat([c[k] for c in chunks]) for k in range(2)]
    for expected, got in ((eager, traced), (eager_chunks, pooled_out)):
        for a, b in zip(expected, got):
            assert torch.equal(a, b)
    for a, b in zip(expected_again, again):
        assert torch.equal(a, b)


def test_sampling_uses_the_fused_path_with_the_modules_values(monkeypatch):
    model = _model(dtype=torch.float32)
    options = model.sampling_options(sampler="pc", steps=4)
    fused_run = model.sample(5, generator=torch.Generator().manual_seed(3), options=options)
    monkeypatch.setattr(gdss_inference, "supports", lambda model: False)
    monkeypatch.setattr("unigen.models.gdss.supports", lambda model: False)
    module_run = model.sample(5, generator=torch.Generator().manual_seed(3), options=options)
    for key in ("x", "adj", "node_mask"):
        torch.testing.assert_close(fused_run[key], module_run[key], rtol=1e-4, atol=1e-4)


def test_fused_weights_follow_parameter_changes():
    model = _model()
    first = model._fused()
    assert model._fused() is first
    with torch.no_grad():
        model.net_adj.head.mlp[2].bias.add_(1.0)
    assert model._fused() is not first


def test_supports_only_the_gdss_backbone():
    model = _model()
    assert supports(model)
    model.net_x.backbone.config.ppgn = True
    assert not supports(model)
    with pytest.raises(ValueError, match="GDSS backbone"):
        FusedScores(model)


# the native kernel

needs_kernel = pytest.mark.skipif(
    gdss_native.library() is None, reason=f"no native kernel here: {gdss_native.unavailable_reason()}"
)


def _float32_case(kind, sde_x):
    model = _model(kind, sde_x).float()
    x, adj, mask, t = (v.float() for v in _inputs(model, b=23))
    adj = adj + 0.3 * torch.randn(adj.shape, generator=torch.Generator().manual_seed(2)) * mask[:, :, None]
    return model, x, adj, mask, t  # adj no longer symmetric: the kernel's transposed pair layout is seen


@needs_kernel
@pytest.mark.parametrize("kind, sde_x", [("molecule", "VE"), ("graph", "VP")])
def test_native_scores_match_the_fused_torch_path(kind, sde_x):
    # generic sizes on purpose: heads of 8 channels, 3 adjacency powers, pair_dim 6, N not 9
    model, x, adj, mask, t = _float32_case(kind, sde_x)
    fused = FusedScores(model)
    expected = fused(x, adj, fused.prepare(mask), t)
    native = fused.native()
    got = native(x, adj, native.prepare(mask), t)
    for want, have in zip(expected, got):
        assert have.shape == want.shape and have.dtype == torch.float32
        scale = want.abs().max()
        assert scale > 1  # non-trivial scores
        torch.testing.assert_close(have, want, rtol=0, atol=2e-5 * float(scale))
    assert torch.count_nonzero(got[0][0]) == 0 and torch.count_nonzero(got[1][0]) == 0  # the empty graph
    assert torch.equal(got[1], got[1].transpose(1, 2))  # the adjacency score stays symmetric


@needs_kernel
def test_native_values_do_not_depend_on_chunks_or_threads():
    model, x, adj, mask, t = _float32_case("molecule", "VE")
    fused = FusedScores(model)
    with ChunkedScores(fused, mask, chunk=40, kernel="native") as whole:
        expected = whole(x, adj, t)
    with ChunkedScores(fused, mask, chunk=5, threads=3, kernel="native") as pooled:
        got = pooled(x, adj, t)
    assert all(torch.equal(a, b) for a, b in zip(expected, got))


@needs_kernel
def test_weights_that_do_not_fit_the_kernel_are_refused():
    model, x, adj, mask, t = _float32_case("molecule", "VE")
    native = FusedScores(model).native()
    spec, params = native.nets[0]
    native.nets[0] = (spec, params[:-1])  # one float short: the layout no longer matches
    with pytest.raises(RuntimeError, match="returned -1"):
        native(x, adj, native.prepare(mask), t)
    with pytest.raises(TypeError, match="float32"):
        native(x.double(), adj.double(), native.prepare(mask), t)


@needs_kernel
def test_auto_picks_the_native_kernel_for_float32_only():
    assert resolve_kernel("auto", torch.float32) == ("native" if gdss_native.fast_here() else "traced")
    assert resolve_kernel("auto", torch.float64) == "traced"
    with pytest.raises(UnigenError, match="runs float32 weights"):
        resolve_kernel("native", torch.float64)


@needs_kernel
def test_sampling_on_the_native_kernel_keeps_nearly_every_molecule_of_the_seed():
    # not bit-identical to the traced path (float rounding), so a few trajectories may tip
    model = _model().float()
    graphs = {}
    for kernel in ("traced", "native"):
        options = model.sampling_options(sampler="pc", steps=20, kernel=kernel)
        raw = model.sample(64, generator=torch.Generator().manual_seed(0), options=options)
        graphs[kernel] = raw
    same_nodes = (graphs["traced"]["node_mask"] == graphs["native"]["node_mask"]).all()
    assert same_nodes
    close = (graphs["traced"]["adj"] - graphs["native"]["adj"]).abs().amax(dim=(1, 2)) < 1e-3
    assert close.float().mean() >= 0.9


def test_without_a_compiler_auto_falls_back_and_native_says_why(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setattr(gdss_native, "_state", {})
    assert gdss_native.library() is None
    assert "no C compiler" in gdss_native.unavailable_reason()
    assert resolve_kernel("auto") == "traced" and resolve_kernel("traced") == "traced"
    with pytest.raises(UnigenError, match="native GDSS kernel is unavailable: no C compiler"):
        FusedScores(_model().float()).native()


@needs_kernel
def test_the_build_is_cached_per_source_and_cpu(monkeypatch, tmp_path):
    monkeypatch.setenv("UNIGEN_CACHE_DIR", str(tmp_path))
    first = gdss_native._build()
    assert first.parent == tmp_path / "native" and first.exists()
    stamp = first.stat().st_mtime_ns
    assert gdss_native._build() == first and first.stat().st_mtime_ns == stamp  # not rebuilt
    assert [p.name for p in first.parent.iterdir()] == [first.name]  # no temporary left behind
