"""The condition input ``cond (B, cond_dim)``: one linear map added to node and pair embeddings."""

import pytest
import torch
from backbone.test_backbone_sparse import SIZES, random_graphs, to_dense

from unigen.testing import assert_permutation_equivariant


def test_cond_is_a_linear_term_of_the_input_embedding(float64, make_model, make_inputs):
    """Backbone(h, cond) equals Backbone(h') with the condition's projection folded into h's bias:
    the condition enters exactly as an added embedding, nowhere else."""
    model = make_model(pair_in=3, cond_dim=2)
    inputs = make_inputs(model)
    cond = torch.randn(2, 2)
    out = model(**inputs, cond=cond)
    plain = make_model(pair_in=3)
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("cond_")})
    for g in range(2):
        with torch.no_grad():
            plain.node_embed.bias.copy_(model.node_embed.bias + model.cond_embed(cond[g]))
            plain.pair_embed.bias.copy_(model.pair_embed.bias + model.cond_pair_embed(cond[g]))
        ref = plain(**{k: v[g : g + 1] for k, v in inputs.items()})
        mask = inputs["node_mask"][g]
        assert torch.allclose(out.h[g][mask], ref.h[0][mask], atol=1e-10)
        assert torch.allclose(out.pair[g], ref.pair[0], atol=1e-10)


def test_cond_changes_the_output_and_is_required(make_model, make_inputs):
    model = make_model(cond_dim=3)
    inputs = make_inputs(model)
    a, b = model(**inputs, cond=torch.zeros(2, 3)).h, model(**inputs, cond=torch.ones(2, 3)).h
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match=r"cond \(B, 3\) is required"):
        model(**inputs)
    with pytest.raises(ValueError, match="cond_dim is 0"):
        make_model()(**inputs, cond=torch.zeros(2, 3))


def test_cond_keeps_permutation_equivariance(float64, make_model, make_inputs):
    model = make_model(pair_in=3, cond_dim=2)
    inputs = {**make_inputs(model, padding=False), "cond": torch.randn(2, 2)}
    assert_permutation_equivariant(
        model,
        inputs,
        node_axes={"h": 1, "pair": (1, 2), "node_mask": 1},
        output_node_axes={"h": 1, "pair": (1, 2)},
    )


def test_sparse_cond_matches_dense(float64, make_model):
    model = make_model(pair_in=3, cond_dim=2)
    edge_index, batch, local, adjacency, edge_attr = random_graphs()
    n, n_max = batch.shape[0], max(SIZES)
    h, cond = torch.randn(n, 5), torch.randn(len(SIZES), 2)
    out_s = model(h=h, edge_index=edge_index, edge_attr=edge_attr, batch=batch, cond=cond)
    pair = torch.zeros(len(SIZES), n_max, n_max, 3)
    src, dst = edge_index
    pair[batch[dst], local[dst], local[src]] = edge_attr
    node_mask = to_dense(torch.ones(n, dtype=torch.bool), batch, local, n_max)
    out_d = model(
        h=to_dense(h, batch, local, n_max), node_mask=node_mask, pair=pair, pair_mask=adjacency, cond=cond
    )
    assert torch.allclose(out_s.h, out_d.h[batch, local], atol=1e-8)
    assert torch.allclose(out_s.pair, out_d.pair[batch[dst], local[dst], local[src]], atol=1e-8)
