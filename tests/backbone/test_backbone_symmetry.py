"""Permutation, E(3) / lattice and causal-leak checks of the whole backbone, in float64."""

import pytest
import torch

from unigen.backbone.masks import TokenMeta, dense_visibility
from unigen.testing import assert_e3_equivariant, assert_no_future_leak, assert_permutation_equivariant

GEOMETRIES = ["none", "distance", "periodic"]
NODE_AXES = {"h": 1, "node_mask": 1, "pair": (1, 2), "pos": 1, "block_id": 1, "tokens": 1}
OUT_AXES = {"h": 1, "pair": (1, 2), "vec": 1}
E3_KINDS = {"pos": "position", "lattice": "lattice"}


def _full_options(geometry):
    return dict(pair_in=3, ppgn=True, geometry=geometry, vector_output=geometry != "none")


@pytest.mark.parametrize("mode", ["full", "block_causal"])
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_permutation_equivariant_with_padding(float64, make_model, make_inputs, geometry, mode):
    """Full and block-causal masks depend on node inputs only (block ids travel with their nodes)."""
    model = make_model(mask_mode=mode, **_full_options(geometry))
    inputs = make_inputs(model)
    axes = {k: v for k, v in NODE_AXES.items() if k in inputs}
    err = assert_permutation_equivariant(model, inputs, node_axes=axes, output_node_axes=OUT_AXES, atol=1e-10)
    assert err < 1e-10


def test_permutation_check_catches_positional_rotary(float64, make_model, make_inputs):
    """1-D rotary on the token index is not permutation equivariant: the helper must say so."""
    model = make_model(mask_mode="full", rotary="1d")
    inputs = make_inputs(model, padding=False)
    with pytest.raises(AssertionError, match="permutation equivariance"):
        assert_permutation_equivariant(
            model, inputs, node_axes={"h": 1, "node_mask": 1}, output_node_axes=OUT_AXES
        )


@pytest.mark.parametrize("mode", ["full", "causal", "block_causal"])
@pytest.mark.parametrize("geometry", ["distance", "periodic"])
def test_e3_equivariant(float64, make_model, make_inputs, mode, geometry):
    model = make_model(mask_mode=mode, **_full_options(geometry))
    inputs = make_inputs(model)
    checks = ["rotation", "reflection", "translation"]
    if geometry == "periodic":
        checks += ["lattice_basis", "lattice_shift"]
    errors = assert_e3_equivariant(
        model, inputs, input_kinds=E3_KINDS, output_kinds={"vec": "vector"}, checks=checks, atol=1e-9
    )
    assert max(errors.values()) < 1e-9


def test_rotary_3d_is_translation_invariant_only(float64, make_model, make_inputs):
    model = make_model(rotary="3d")
    inputs = make_inputs(model)
    assert_e3_equivariant(model, inputs, input_kinds=E3_KINDS, checks=["translation"], atol=1e-9)
    with pytest.raises(AssertionError, match="rotation"):
        assert_e3_equivariant(model, inputs, input_kinds=E3_KINDS, checks=["rotation"])


def _order(inputs, mode):
    b, n = inputs["node_mask"].shape
    return torch.arange(n).expand(b, n) if mode == "causal" else inputs["block_id"]


@pytest.mark.parametrize("mode", ["causal", "block_causal"])
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_no_future_leak(float64, make_model, make_inputs, mode, geometry):
    model = make_model(mask_mode=mode, **_full_options(geometry))
    inputs = make_inputs(model)
    axes = {k: NODE_AXES[k] for k in ("h", "pair", "pos") if k in inputs}
    err = assert_no_future_leak(
        model, inputs, node_axes=axes, output_node_axes=OUT_AXES, order=_order(inputs, mode), atol=1e-10
    )
    assert err < 1e-10


@pytest.mark.parametrize("rotary", ["1d", "3d"])
def test_no_future_leak_tokens_with_rotary(float64, make_model, make_inputs, rotary):
    model = make_model(node_in=0, vocab_size=11, pair_dim=0, mask_mode="causal", rotary=rotary, recycle=2)
    inputs = make_inputs(model, padding=False)
    axes = {"tokens": 1, **({"pos": 1} if "pos" in inputs else {})}
    assert_no_future_leak(
        model, inputs, node_axes=axes, output_node_axes=OUT_AXES, order=_order(inputs, "causal"), atol=1e-10
    )


def _pard_doubled_batch(b=2, n=4):
    """PARD's doubled graph: n real nodes then their n target copies, blocks sorted."""
    blocks = torch.sort(torch.randint(0, 3, (b, n)), dim=1).values
    block_id = torch.cat([blocks, blocks], 1)
    is_target = torch.cat([torch.zeros(b, n, dtype=torch.bool), torch.ones(b, n, dtype=torch.bool)], 1)
    return block_id, is_target


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_pard_targets_see_only_earlier_real_blocks(float64, make_model, make_inputs, geometry):
    """With targets, neither a real block nor a target block may see the other copy of itself."""
    model = make_model(mask_mode="block_causal", **_full_options(geometry))
    inputs = make_inputs(model, n=8, padding=False)
    inputs["block_id"], inputs["is_target"] = _pard_doubled_batch()
    meta = TokenMeta(
        torch.arange(8).expand(2, 8), inputs["node_mask"], inputs["block_id"], inputs["is_target"]
    )
    visible = dense_visibility("block_causal", meta)
    axes = {k: NODE_AXES[k] for k in ("h", "pair", "pos") if k in inputs}
    assert_no_future_leak(
        model, inputs, node_axes=axes, output_node_axes=OUT_AXES, visible=visible, n_trials=4, atol=1e-10
    )


def test_leak_check_catches_full_attention(float64, make_model, make_inputs):
    model = make_model(mask_mode="full")
    inputs = make_inputs(model, padding=False)
    with pytest.raises(AssertionError, match="future leak"):
        assert_no_future_leak(
            model, inputs, node_axes={"h": 1}, output_node_axes=OUT_AXES, order=_order(inputs, "causal")
        )
