"""Training-mode passes: finite gradients everywhere, padding included, on both paths."""

import pytest
import torch


@pytest.mark.parametrize("mode", ["full", "causal", "block_causal"])
@pytest.mark.parametrize("geometry", ["none", "distance", "periodic"])
def test_dense_backward_is_finite(make_model, make_inputs, mode, geometry):
    model = make_model(
        mask_mode=mode,
        pair_in=3,
        ppgn=True,
        geometry=geometry,
        vector_output=geometry != "none",
        drop_path=0.2,
        attn_dropout=0.1,
    ).train()
    inputs = make_inputs(model)
    if "pos" in inputs:
        inputs["pos"].requires_grad_(True)
    out = model(**inputs)
    loss = (
        out.h.square().sum()
        + out.pair.square().sum()
        + (out.vec.square().sum() if hasattr(out, "vec") else 0)
    )
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    if "pos" in inputs:
        assert torch.isfinite(inputs["pos"].grad).all() and inputs["pos"].grad.abs().sum() > 0


def test_sparse_backward_is_finite(make_model):
    model = make_model(pair_in=2, geometry="distance", vector_output=True, drop_path=0.2).train()
    edge_index = torch.tensor([[0, 1, 2, 3, 3], [1, 0, 0, 2, 3]])
    out = model(
        h=torch.randn(4, 5),
        pos=torch.randn(4, 3),
        edge_index=edge_index,
        edge_attr=torch.randn(5, 2),
        batch=torch.tensor([0, 0, 1, 1]),
    )
    (out.h.sum() + out.pair.sum() + out.vec.sum()).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_padding_does_not_change_real_outputs(float64, make_model, make_inputs):
    """Appending padded nodes (with garbage features) leaves the real nodes' outputs unchanged."""
    model = make_model(pair_in=3, ppgn=True, geometry="distance", vector_output=True, mask_mode="causal")
    inputs = make_inputs(model, b=1, n=5, padding=False)
    out = model(**inputs)
    padded = {
        "h": torch.cat([inputs["h"], 1e3 * torch.randn(1, 3, 5)], 1),
        "pos": torch.cat([inputs["pos"], torch.randn(1, 3, 3)], 1),
        "pair": torch.nn.functional.pad(inputs["pair"], (0, 0, 0, 3, 0, 3), value=7.0),
        "node_mask": torch.cat([inputs["node_mask"], torch.zeros(1, 3, dtype=torch.bool)], 1),
    }
    out_p = model(**padded)
    assert torch.allclose(out_p.h[:, :5], out.h, atol=1e-10)
    assert torch.allclose(out_p.pair[:, :5, :5], out.pair, atol=1e-10)
    assert torch.allclose(out_p.vec[:, :5], out.vec, atol=1e-10)
    assert out_p.h[:, 5:].abs().max() == 0 and out_p.pair[:, 5:].abs().max() == 0
