"""Visibility rules by hand: causal, block-causal, PARD's doubled graph, padding."""

import pytest
import torch

from unigen.backbone.masks import TokenMeta, dense_meta, dense_visibility, edge_visibility
from unigen.backbone.pair import restricted_product


def test_causal_with_padding():
    mask = torch.tensor([[True, True, False, True]])
    vis = dense_visibility("causal", dense_meta(mask))[0].int()
    expected = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [1, 1, 0, 1]])
    assert torch.equal(vis, expected)


def test_block_causal_sees_own_block():
    meta = dense_meta(torch.ones(1, 4, dtype=torch.bool), block_id=torch.tensor([[0, 1, 1, 2]]))
    expected = torch.tensor([[1, 0, 0, 0], [1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 1]])
    assert torch.equal(dense_visibility("block_causal", meta)[0].int(), expected)


def test_pard_doubled_graph_rule():
    """Real nodes 0-2 (blocks 0, 1, 1), target copies 3-5: pard_spec.md section 4.4."""
    block = torch.tensor([[0, 1, 1, 0, 1, 1]])
    target = torch.tensor([[False, False, False, True, True, True]])
    meta = dense_meta(torch.ones(1, 6, dtype=torch.bool), block, target)
    expected = torch.tensor(
        [
            [1, 0, 0, 0, 0, 0],  # real block 0: itself
            [1, 1, 1, 0, 0, 0],  # real block 1: real blocks <= 1
            [1, 1, 1, 0, 0, 0],
            [0, 0, 0, 1, 0, 0],  # target block 0: only itself
            [1, 0, 0, 0, 1, 1],  # target block 1: real block 0 and its own target block
            [1, 0, 0, 0, 1, 1],
        ]
    )
    assert torch.equal(dense_visibility("block_causal", meta)[0].int(), expected)


def test_edges_follow_the_same_rule():
    meta = TokenMeta(torch.arange(4), torch.ones(4, dtype=torch.bool), torch.tensor([0, 1, 1, 2]))
    edge_index = torch.tensor([[0, 2, 3, 1], [2, 1, 0, 1]])  # 0->2, 2->1, 3->0, 1->1
    assert edge_visibility("causal", meta, edge_index).tolist() == [True, False, False, True]
    assert edge_visibility("block_causal", meta, edge_index).tolist() == [True, True, False, True]
    assert edge_visibility("full", meta, edge_index).all()


def test_bad_mode_and_missing_blocks():
    meta = dense_meta(torch.ones(1, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="valid: full, causal, block_causal"):
        dense_visibility("bidirectional", meta)
    with pytest.raises(ValueError, match="needs block_id"):
        dense_visibility("block_causal", meta)


def test_restricted_product_sums_over_k_that_either_node_may_read():
    """PPGN's product over the block-causal reach equals the sum written out over k."""
    torch.manual_seed(0)
    u, v = torch.randn(2, 3, 5, 5, dtype=torch.float64), torch.randn(2, 3, 5, 5, dtype=torch.float64)
    reach = torch.rand(2, 5, 5) < 0.5
    expected = torch.zeros_like(u)
    for i in range(5):
        for j in range(5):
            for k in range(5):
                either = (reach[:, i, k] | reach[:, j, k]).to(u.dtype).unsqueeze(1)
                expected[..., i, j] += u[..., i, k] * v[..., k, j] * either
    assert torch.allclose(restricted_product(u, v, reach), expected, atol=1e-12)
    assert torch.allclose(restricted_product(u, v, None), u @ v)
