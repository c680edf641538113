"""Scoring at scale: the fast paths give the reference values, caches survive damage, and large
records cost in proportion to their size."""

import time
import warnings

import numpy as np
import pytest

from unigen.chem.metrics import moses
from unigen.chem.metrics.cache import cache_path, load_cached, smiles_key
from unigen.chem.metrics.nspdk import _size_batches, _sum_features, mean_features, mol_to_labelled_graph

# drug-like and QM9-like molecules, several of which trip MCF / PAINS filters
SMILES = [
    "CC(=O)Oc1ccccc1C(=O)O",
    "C=CC#N",
    "O=C1C=CC(=O)C=C1",
    "CCN(CC)CCOC(=O)c1ccc(N)cc1",
    "c1ccc2c(c1)ccc1ccccc12",
    "CC1=CC(=O)C=CC1=O",
    "N#CC(C#N)=Cc1ccccc1",
    "OC1CCCC1",
    "CC(C)(C)c1ccc(O)cc1",
    "O=[N+]([O-])c1ccccc1",
    "C1=CC=CN=C1",
    "CC(=O)C=Cc1ccccc1",
    "NNC(=O)c1ccncc1",
    "OCC(O)CO",
    "S=C=Nc1ccccc1",
    "O=C(O)CCc1ccc(O)c(O)c1",
]


def _brute_force_tanimoto(stock: np.ndarray, gen: np.ndarray, agg: str, p: int) -> float:
    """MOSES's formula in float64 on 0/1 rows, one pair at a time."""
    values = []
    for g in gen.astype(np.int64):
        sims = []
        for s in stock.astype(np.int64):
            inter, union = (g & s).sum(), g.sum() + s.sum() - (g & s).sum()
            sims.append(1.0 if union == 0 else inter / union)
        sims = np.array(sims) ** p
        values.append(sims.max() if agg == "max" else sims.mean())
    return float(np.mean(np.array(values) ** (1 / p)))


@pytest.mark.parametrize("agg, p", [("max", 1), ("mean", 1), ("mean", 2)])
def test_tiled_int8_tanimoto_matches_brute_force(agg, p):
    rng = np.random.default_rng(0)
    stock = (rng.random((37, 1024)) < 0.05).astype(np.uint8)
    gen = (rng.random((23, 1024)) < 0.05).astype(np.uint8)
    stock[3] = gen[5] = 0  # empty fingerprints: empty vs empty counts as similarity 1
    expected = _brute_force_tanimoto(stock, gen, agg, p)
    for block in (4, 16, 4096):  # tiles smaller than, and larger than, both sets
        got = moses.average_agg_tanimoto(np.packbits(stock, axis=1), np.packbits(gen, axis=1), agg, p, block)
        assert got == pytest.approx(expected, rel=1e-6)


def test_snn_is_float32_exact_on_real_fingerprints():
    # max is taken over float32 ratios, as MOSES computes them: the value is reproduced exactly
    mols = [moses.parse(s) for s in SMILES]
    fps = np.stack([moses.morgan_bits(m) for m in mols])
    a, b = fps[:9], fps[9:]
    inter = (b[:, None, :] & a[None, :, :]).sum(-1).astype(np.float32)
    union = b.sum(1)[:, None].astype(np.float32) + a.sum(1)[None, :].astype(np.float32) - inter
    expected = np.mean((inter / union).max(1).astype(np.float64))
    assert moses.average_agg_tanimoto(a, b, "max") == pytest.approx(
        expected, rel=1e-12
    )  # float64 would differ at 1e-9


def test_screened_filters_match_every_pattern_tried():
    from rdkit import Chem

    patterns = moses._filters()
    for smiles in SMILES:
        with_h = Chem.AddHs(moses.parse(smiles))
        candidates = set(moses._filter_candidates(with_h).tolist())
        matched = {i for i, q in enumerate(patterns) if with_h.HasSubstructMatch(q)}
        assert matched <= candidates, smiles  # the screen never drops a filter that matches
    assert sum(not moses.passes_filters(moses.parse(s)) for s in SMILES) >= 5


# ---------------------------------------------------------------------------------------
# caches


def test_corrupt_reference_cache_is_rebuilt_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIGEN_CACHE_DIR", str(tmp_path))
    fresh = moses.cached_reference_stats(SMILES, n_jobs=1)
    path = cache_path("moses", smiles_key(SMILES), "npz")
    assert path.exists()
    path.write_bytes(path.read_bytes()[:100])  # truncated by a crash or a full disk
    with pytest.warns(UserWarning, match="unreadable"):
        rebuilt = moses.cached_reference_stats(SMILES, n_jobs=1)
    assert np.array_equal(rebuilt.fingerprints, fresh.fingerprints)
    assert rebuilt.fragments == fresh.fragments and rebuilt.scaffolds == fresh.scaffolds
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rewritten cache reads back cleanly
        assert moses.cached_reference_stats(SMILES, n_jobs=1).scaffolds == fresh.scaffolds


def test_canonical_cache_with_wrong_length_is_recomputed(tmp_path, monkeypatch):
    from unigen.chem.metrics.molecules import canonical_list

    monkeypatch.setenv("UNIGEN_CACHE_DIR", str(tmp_path))
    smiles = ["OCC", "C1CC", "c1ccccc1"]
    assert canonical_list(smiles, n_jobs=1) == ["CCO", None, "c1ccccc1"]
    cache_path("canonical", smiles_key(smiles), "txt").write_text("CCO")
    with pytest.warns(UserWarning, match="3 SMILES"):
        assert canonical_list(smiles, n_jobs=1) == ["CCO", None, "c1ccccc1"]


def test_load_cached_of_garbage_npz_returns_none_and_removes_it(tmp_path):
    path = tmp_path / "fcd-x.npz"
    path.write_bytes(b"not a zip file")
    with pytest.warns(UserWarning):
        assert load_cached(path, lambda p: np.load(p, allow_pickle=False)["mu"]) is None
    assert not path.exists()


# ---------------------------------------------------------------------------------------
# large records


def _long_chain_smiles(n_rings: int) -> str:
    return "C" + "".join("c1ccc(cc1)CC" for _ in range(n_rings)) + "O"  # ~12 characters per ring


def test_nspdk_of_a_large_molecule_is_batched_alone_and_features_are_unchanged():
    from rdkit import Chem

    small = [mol_to_labelled_graph(Chem.MolFromSmiles(s)) for s in SMILES]
    large = mol_to_labelled_graph(Chem.MolFromSmiles(_long_chain_smiles(400)))  # ~5 KB, 3,200 atoms
    batches = _size_batches(small + [large], batch=256, cells=4_000_000)
    assert [large] in batches and sum(len(b) for b in batches) == len(small) + 1
    one_per_batch = _sum_features(small, cells=1)  # every graph alone: padding does not change features
    np.testing.assert_allclose(one_per_batch, _sum_features(small), rtol=0, atol=1e-12)
    start = time.perf_counter()
    with_large = mean_features(small + [large], n_jobs=1)
    assert time.perf_counter() - start < 60  # padding all 17 graphs to 3,200 atoms took minutes
    assert with_large.shape == mean_features(small, n_jobs=1).shape


@pytest.mark.slow
def test_a_5kb_smiles_is_scored_with_the_others():
    from unigen.chem.metrics.molecules import score_molecules

    long = _long_chain_smiles(400)
    assert len(long) > 4800
    out = score_molecules(SMILES + [long], test_smiles=SMILES, protocol="gdss", n_jobs=1)
    assert out["validity"] == 1.0 and np.isfinite(out["FCD/Test"]) and np.isfinite(out["NSPDK/Test"])
