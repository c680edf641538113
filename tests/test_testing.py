"""The public symmetry helpers: they pass correct functions and catch each kind of violation."""

import pytest
import torch

from unigen.testing import (
    assert_e3_equivariant,
    assert_no_future_leak,
    assert_permutation_equivariant,
    random_orthogonal,
    random_unimodular,
)

torch_f64 = dict(dtype=torch.float64)


def mean_field(h, pair):
    """h (B, N, d), pair (B, N, N, d): node and pair outputs equivariant under node relabelling."""
    node = h + pair.mean(2)
    return {"node": node, "pair": pair + node.unsqueeze(1) * node.unsqueeze(2), "graph": node.sum(1)}


def test_permutation_passes_and_reports_error():
    inputs = {"h": torch.randn(2, 5, 3, **torch_f64), "pair": torch.randn(2, 5, 5, 3, **torch_f64)}
    err = assert_permutation_equivariant(
        mean_field,
        inputs,
        node_axes={"h": 1, "pair": (1, 2)},
        output_node_axes={"node": 1, "pair": (1, 2), "graph": None},
    )
    assert 0.0 <= err < 1e-12


def test_permutation_catches_index_dependence():
    inputs = {"h": torch.randn(2, 5, 3, **torch_f64)}
    with pytest.raises(AssertionError, match="'out' max error"):
        assert_permutation_equivariant(
            lambda h: h + torch.arange(5.0).view(1, 5, 1), inputs, node_axes={"h": 1}
        )


def test_permutation_relabels_edge_index():
    """Sum of source features over incoming edges is equivariant once edge_index is relabelled."""

    def incoming_sum(x, edge_index):
        return torch.zeros_like(x).index_add_(0, edge_index[1], x[edge_index[0]])

    inputs = {
        "x": torch.randn(6, 2, **torch_f64),
        "edge_index": torch.tensor([[0, 1, 2, 5, 4], [1, 2, 0, 3, 3]]),
    }
    assert_permutation_equivariant(
        incoming_sum, inputs, node_axes={"x": 0}, output_node_axes=0, index_inputs=["edge_index"]
    )
    with pytest.raises(AssertionError):  # forgetting to relabel breaks it
        assert_permutation_equivariant(incoming_sum, inputs, node_axes={"x": 0}, output_node_axes=0)


def egnn_like(pos, w):
    """pos (B, N, 3): invariant distances, equivariant vectors, updated positions."""
    r = pos.unsqueeze(2) - pos.unsqueeze(1)
    d = r.norm(dim=-1)
    vec = (torch.exp(-d).unsqueeze(-1) * r).sum(2) * w
    return {"dist": d, "vec": vec, "new_pos": pos + vec}


def test_e3_passes_for_egnn_like_function():
    inputs = {"pos": torch.randn(2, 4, 3, **torch_f64), "w": 0.7}
    kinds = {"vec": "vector", "new_pos": "position"}
    errors = assert_e3_equivariant(egnn_like, inputs, input_kinds={"pos": "position"}, output_kinds=kinds)
    assert set(errors) == {"rotation", "reflection", "translation"}
    assert max(errors.values()) < 1e-12


@pytest.mark.parametrize(
    ("fn", "check"),
    [
        (lambda pos: pos[..., 0], "rotation"),  # an x coordinate is not invariant
        (lambda pos: pos.sum(1), "translation"),  # absolute positions are not invariant
        (lambda pos: torch.linalg.cross(pos[:, 0], pos[:, 1]).norm(dim=-1) * pos[:, 2, 2], "reflection"),
        # a pseudo-scalar: invariant under rotations, flips under reflections
        (lambda pos: torch.det(pos[:, :3]), "reflection"),
    ],
)
def test_e3_catches_violations(fn, check):
    inputs = {"pos": torch.randn(2, 4, 3, **torch_f64)}
    with pytest.raises(AssertionError, match=check):
        assert_e3_equivariant(fn, inputs, input_kinds={"pos": "position"}, checks=[check])


def min_image_distances(pos, lattice):
    """Distances to the nearest image over a generous range of cells (correct for any basis)."""
    cells = torch.cartesian_prod(*[torch.arange(-8, 9, dtype=pos.dtype)] * 3)
    shifts = cells @ lattice.unsqueeze(1)  # (B, K, 3)
    r = pos.unsqueeze(2).unsqueeze(3) - pos.unsqueeze(1).unsqueeze(3) - shifts[:, None, None]
    return r.norm(dim=-1).amin(-1)


def test_lattice_checks():
    lattice = torch.eye(3, **torch_f64).expand(2, 3, 3) * 3.0
    inputs = {"pos": torch.rand(2, 4, 3, **torch_f64) * 3.0, "lattice": lattice}
    kinds = {"pos": "position", "lattice": "lattice"}
    checks = ["rotation", "translation", "lattice_basis", "lattice_shift"]
    assert_e3_equivariant(min_image_distances, inputs, input_kinds=kinds, checks=checks, atol=1e-9)
    plain = lambda pos, lattice: (pos.unsqueeze(2) - pos.unsqueeze(1)).norm(dim=-1)  # noqa: E731
    with pytest.raises(AssertionError, match="lattice_shift"):
        assert_e3_equivariant(plain, inputs, input_kinds=kinds, checks=["lattice_shift"])
    cell_volume_sign = lambda pos, lattice: torch.det(lattice)  # noqa: E731
    with pytest.raises(AssertionError, match="lattice_basis"):
        assert_e3_equivariant(
            cell_volume_sign, inputs, input_kinds=kinds, checks=["lattice_basis"], n_trials=8
        )


def test_random_transforms_are_what_they_claim():
    for proper in (True, False):
        q = random_orthogonal(proper)
        assert torch.allclose(q @ q.T, torch.eye(3, **torch_f64), atol=1e-12)
        assert torch.isclose(torch.det(q), torch.tensor(1.0 if proper else -1.0, **torch_f64))
    u = random_unimodular()
    assert torch.equal(u, u.round()) and abs(abs(float(torch.det(u))) - 1.0) < 1e-12


def causal_prefix_sum(h):
    return h.cumsum(1)


def test_leak_passes_causal_and_catches_reverse():
    h = torch.randn(2, 6, 3, **torch_f64)
    order = torch.arange(6).expand(2, 6)
    assert assert_no_future_leak(causal_prefix_sum, {"h": h}, node_axes={"h": 1}, order=order) == 0.0
    with pytest.raises(AssertionError, match="future leak: output 'out'"):
        assert_no_future_leak(lambda h: h.flip(1).cumsum(1), {"h": h}, node_axes={"h": 1}, order=order)


def test_leak_block_order_allows_within_block():
    """Mean over each block plus earlier blocks: fine under block order, a leak under token order."""
    blocks = torch.tensor([[0, 0, 1, 1, 1, 2]])

    def block_mean(h):
        seen = (blocks.unsqueeze(2) >= blocks.unsqueeze(1)).to(h.dtype)
        return seen @ h / seen.sum(-1, keepdim=True)

    inputs = {"h": torch.randn(1, 6, 2, **torch_f64)}
    assert_no_future_leak(block_mean, inputs, node_axes={"h": 1}, order=blocks)
    with pytest.raises(AssertionError):
        assert_no_future_leak(
            block_mean, inputs, node_axes={"h": 1}, order=torch.arange(6).view(1, 6), n_trials=5
        )


def test_leak_visible_matrix_and_int_tokens():
    table = torch.randn(10, 2, **torch_f64)
    visible = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 0, 1]], dtype=torch.bool).unsqueeze(0)
    fn = lambda tokens: visible.to(table.dtype) @ table[tokens]  # noqa: E731
    tokens = torch.tensor([[3, 7, 9]])
    assert_no_future_leak(fn, {"tokens": tokens}, node_axes={"tokens": 1}, visible=visible, n_trials=6)
    leaky = lambda tokens: table[tokens].sum(1, keepdim=True).expand(1, 3, 2)  # noqa: E731
    with pytest.raises(AssertionError, match="future leak"):
        assert_no_future_leak(leaky, {"tokens": tokens}, node_axes={"tokens": 1}, visible=visible, n_trials=6)


def test_leak_vacuous_check_fails():
    h = torch.randn(1, 4, 2, **torch_f64)
    with pytest.raises(AssertionError, match="proves nothing"):
        assert_no_future_leak(
            lambda h, g: g.cumsum(1),
            {"h": h, "g": h.clone()},
            node_axes={"h": 1},
            order=torch.arange(4).view(1, 4),
        )
