"""The sparse (edge-list, scatter) path agrees with the dense (SDPA) path on random graphs."""

import pytest
import torch

from unigen.testing import assert_permutation_equivariant

SIZES = (5, 8, 6)


def random_graphs(sizes=SIZES, p=0.4, pair_in=3):
    """A flat batch of random directed graphs with self-loops, and its padded dense twin."""
    n_max, b = max(sizes), len(sizes)
    edges, offset = [], 0
    adjacency = torch.zeros(b, n_max, n_max, dtype=torch.bool)
    for g, n in enumerate(sizes):
        a = (torch.rand(n, n) < p) | torch.eye(n, dtype=torch.bool)
        adjacency[g, :n, :n] = a
        dst, src = a.nonzero(as_tuple=True)  # a[i, j]: i reads j
        edges.append(torch.stack([src, dst]) + offset)
        offset += n
    edge_index = torch.cat(edges, 1)
    batch = torch.repeat_interleave(torch.arange(b), torch.tensor(sizes))
    local = torch.cat([torch.arange(n) for n in sizes])
    return edge_index, batch, local, adjacency, torch.randn(edge_index.shape[1], pair_in)


def to_dense(x, batch, local, n_max):
    out = x.new_zeros((int(batch.max()) + 1, n_max, *x.shape[1:]))
    out[batch, local] = x
    return out


def sparse_and_dense(model, mode, rotary):
    edge_index, batch, local, adjacency, edge_attr = random_graphs()
    n, n_max = batch.shape[0], max(SIZES)
    h, pos = torch.randn(n, 5), torch.randn(n, 3)
    block_id = torch.cat([torch.sort(torch.randint(0, 3, (k,))).values for k in SIZES])
    sparse = dict(h=h, edge_index=edge_index, edge_attr=edge_attr, batch=batch, pos=pos, mask_mode=mode)
    dense = dict(h=to_dense(h, batch, local, n_max), pos=to_dense(pos, batch, local, n_max), mask_mode=mode)
    dense["node_mask"] = to_dense(torch.ones(n, dtype=torch.bool), batch, local, n_max)
    dense["pair_mask"] = adjacency
    pair = torch.zeros(len(SIZES), n_max, n_max, 3)
    src, dst = edge_index
    pair[batch[dst], local[dst], local[src]] = edge_attr
    dense["pair"] = pair
    if mode == "block_causal":
        sparse["block_id"], dense["block_id"] = block_id, to_dense(block_id, batch, local, n_max)
    return model(**sparse), model(**dense), (edge_index, batch, local)


@pytest.mark.parametrize("mode", ["full", "causal", "block_causal"])
@pytest.mark.parametrize(("geometry", "rotary"), [("none", "none"), ("distance", "1d"), ("none", "3d")])
def test_sparse_matches_dense(make_model, mode, geometry, rotary):
    model = make_model(pair_in=3, geometry=geometry, vector_output=geometry != "none", rotary=rotary)
    out_s, out_d, (edge_index, batch, local) = sparse_and_dense(model, mode, rotary)
    h_d = out_d.h[batch, local]
    assert torch.allclose(out_s.h, h_d, atol=1e-5), (out_s.h - h_d).abs().max()
    src, dst = edge_index
    pair_d = out_d.pair[batch[dst], local[dst], local[src]]
    assert torch.allclose(out_s.pair, pair_d, atol=1e-5), (out_s.pair - pair_d).abs().max()
    if geometry != "none":
        assert torch.allclose(out_s.vec, out_d.vec[batch, local], atol=1e-5)


def test_node_without_incoming_edges_gets_zero_message(make_model):
    """Both paths give a node that reads nothing the same (attention-free) update."""
    model = make_model(node_in=4, pair_dim=0)
    h = torch.randn(3, 4)
    edge_index = torch.tensor([[0, 1], [1, 1]])  # node 1 reads 0 and itself; 0 and 2 read nothing
    sparse = model(h=h, edge_index=edge_index).h
    adjacency = torch.zeros(1, 3, 3, dtype=torch.bool)
    adjacency[0, 1, 0] = adjacency[0, 1, 1] = True
    dense = model(h=h.unsqueeze(0), pair_mask=adjacency).h[0]
    assert torch.allclose(sparse, dense, atol=1e-6)


def test_sparse_permutation_equivariant(float64, make_model):
    model = make_model(pair_in=3, geometry="distance", vector_output=True)
    edge_index, batch, _, _, edge_attr = random_graphs(sizes=(7,), pair_in=3)
    inputs = dict(h=torch.randn(7, 5), pos=torch.randn(7, 3), edge_index=edge_index, edge_attr=edge_attr)
    assert_permutation_equivariant(
        model,
        inputs,
        node_axes={"h": 0, "pos": 0},
        output_node_axes={"h": 0, "vec": 0, "pair": None},
        index_inputs=["edge_index"],
        atol=1e-10,
    )


def test_sparse_rejects_dense_only_options(make_model):
    model = make_model(pair_in=3, ppgn=True)
    edge_index, batch, _, _, edge_attr = random_graphs()
    with pytest.raises(ValueError, match="ppgn needs the dense path"):
        model(h=torch.randn(batch.shape[0], 5), edge_index=edge_index, edge_attr=edge_attr, batch=batch)


def test_sparse_rejects_dense_inputs(make_model):
    model = make_model()
    with pytest.raises(ValueError, match="node_mask: dense-path inputs"):
        model(
            h=torch.randn(3, 5),
            edge_index=torch.tensor([[0], [1]]),
            node_mask=torch.ones(3, dtype=torch.bool),
        )
