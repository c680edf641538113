"""The processed-cache format round-trips every structure kind exactly."""

import numpy as np

from unigen.data.cache import load_cached, save_cached
from unigen.data.packed import PackedStructures, pack
from unigen.structures import Crystal, Graph, Molecule3D, MolGraph


def _ethanol_like():
    bonds = np.array([[0, 1, 0], [1, 0, 2], [0, 2, 0]])
    return MolGraph([6, 6, 8], bonds, charges=[0, 1, -1])


def test_round_trip_through_npz(tmp_path):
    cases = {
        "molgraph": [_ethanol_like(), MolGraph([7], np.zeros((1, 1)))],
        "mol3d": [Molecule3D([8, 1, 1], np.arange(9.0).reshape(3, 3) / 7)],
        "crystal": [Crystal([6, 6], [[0, 0, 0], [0.25, 0.25, 0.25]], np.eye(3) * 3.57)],
        "graph": [Graph(4, [[0, 1, 2], [1, 2, 3]]), Graph(2, np.zeros((2, 0)))],
    }
    for kind, structures in cases.items():
        meta = {
            "name": [f"s{k}" for k in range(len(structures))],
            "id": list(range(len(structures))),
            "x": [0.5] * len(structures),
        }
        save_cached(tmp_path / f"{kind}.npz", pack(structures, meta))
        restored = PackedStructures(load_cached(tmp_path / f"{kind}.npz"))
        assert len(restored) == len(structures)
        for k, (a, b) in enumerate(zip(structures, restored)):
            assert type(a) is type(b) and b.meta == {"name": f"s{k}", "id": k, "x": 0.5}
            for field in (
                "atomic_numbers",
                "bonds",
                "charges",
                "positions",
                "frac_coords",
                "lattice",
                "edge_index",
            ):
                if hasattr(a, field):
                    np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_index_selects_and_orders(tmp_path):
    graphs = [Graph(n, np.zeros((2, 0))) for n in (1, 2, 3, 4)]
    packed = PackedStructures(pack(graphs), index=[3, 0])
    assert [g.num_nodes for g in packed] == [4, 1]
    assert [g.num_nodes for g in packed[1:]] == [1]


def test_unreadable_cache_is_treated_as_absent(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"not a zip")
    assert load_cached(path) is None
