"""Octree tokenizer: hand-built cases, exact round trips, invariances, state and MNTP layout."""

import json

import numpy as np
import pytest
from conftest import requires_data

from unigen.errors import UnigenError, UsageError
from unigen.structures import Crystal, Molecule3D
from unigen.tokenizers import tokenizer_from_state_dict
from unigen.tokenizers.octree import (
    ATOM_OFFSET,
    CORNER_OFFSET,
    END,
    IGNORE,
    KIND_ATOM,
    KIND_CORNER,
    KIND_END,
    KIND_TREE,
    MASK,
    NULL,
    TREE_OFFSET,
    OctreeSequence,
    OctreeTokenizer,
    random_rotation,
    roundtrip_error,
    uncompressed_length,
)

H, C, O = 1, 6, 8
PEROVSKITE = Crystal(
    [38, 22, 8, 8, 8],
    [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    [[3.905, 0, 0], [0.01, 3.905, 0], [0.02, 0.03, 3.9051]],
)


def random_molecule(rng, n=18, spread=1.6):
    """Atoms at least 0.9 Å apart (so never two in one 0.24 Å cell)."""
    points = []
    while len(points) < n:
        p = rng.normal(size=3) * spread
        if all(np.linalg.norm(p - q) > 0.9 for q in points):
            points.append(p)
    return Molecule3D(rng.choice([H, C, 7, O, 9], size=n), np.array(points) + rng.normal(size=3) * 5)


def tokens(tok, seq):
    return [tok.token_name(i) for i in seq.ids]


# -- hand-built cases --------------------------------------------------------------------


def test_one_atom_gives_hand_computed_tokens():
    tok = OctreeTokenizer(levels=2)
    seq = tok.encode(Molecule3D([H], [[1.0, -2.0, 3.0]]))
    # centred at the box centre: q = 2 cells * 24 bins -> finest cell (2,2,2), fine (0,0,0)
    # level 2 root: child (1,1,1) = bit 7; level 1 node (1,1,1): child (0,0,0) = bit 0
    assert tokens(tok, seq) == ["[TREE_128]", "[TREE_1]", "H", "[END]"]
    assert seq.ids.tolist() == [TREE_OFFSET + 128, TREE_OFFSET + 1, tok.atom_id(H), END]
    assert seq.level.tolist() == [2, 1, 0, -1]
    assert seq.kind.tolist() == [KIND_TREE, KIND_TREE, KIND_ATOM, KIND_END]
    np.testing.assert_allclose(seq.centre, [[0.48] * 3, [0.72] * 3, [0.60] * 3, [0.48] * 3])
    assert seq.fine.tolist() == [[tok.null_bin] * 3, [tok.null_bin] * 3, [0, 0, 0], [tok.null_bin] * 3]
    decoded = tok.decode(seq)
    np.testing.assert_allclose(decoded.positions, [[1.0, -2.0, 3.0]], atol=1e-12)
    assert decoded.atomic_numbers.tolist() == [H]
    assert uncompressed_length(seq) == 1 + 8 * 2 + 1 + 1  # root bit, 8 bits per node, leaf, [END]


def test_two_atoms_sharing_a_coarse_cell():
    tok = OctreeTokenizer(levels=3)
    mol = Molecule3D([O, H], [[0.36, 0.1, 0.1], [0.12, 0.1, 0.1]])
    # centred: x offsets +-0.12, then translated by (0.24, 0.1, 0.1): q_x = 96 +- 12 + 24 = 132, 108
    seq = tok.encode(mol, translation=[0.24, 0.1, 0.1])
    # finest cells (5,4,4) and (4,4,4) share the level-1 node (2,2,2): children bits 0 and 1
    assert tokens(tok, seq) == ["[TREE_128]", "[TREE_1]", "[TREE_3]", "H", "O", "[END]"]
    assert seq.fine[3:5].tolist() == [[12, 10, 10], [12, 10, 10]]
    assert seq.source_index.tolist() == [1, 0]  # Morton order puts the smaller x first
    decoded = tok.decode(seq)
    np.testing.assert_allclose(decoded.positions, mol.positions[[1, 0]] + [0.24, 0.1, 0.1], atol=1e-12)


def test_atoms_exactly_on_cell_boundaries_go_to_the_upper_cell():
    tok = OctreeTokenizer(levels=3)
    seq = tok.encode(Molecule3D([C, C], [[-0.24, 0, 0], [0.24, 0, 0]]))
    # q_x = 96 -+ 24 = 72, 120: cells 3 and 5 with fine bin 0; y, z = 96: cell 4, fine 0
    leaves = seq.level == 0
    assert seq.fine[leaves].tolist() == [[0, 0, 0], [0, 0, 0]]
    np.testing.assert_allclose(
        seq.centre[leaves], [[3.5 * 0.24, 4.5 * 0.24, 4.5 * 0.24], [5.5 * 0.24, 4.5 * 0.24, 4.5 * 0.24]]
    )
    assert roundtrip_error(tok, Molecule3D([C, C], [[-0.24, 0, 0], [0.24, 0, 0]]))["coord_error"] < 1e-12


def test_position_rounding_up_rolls_into_the_next_cell():
    tok = OctreeTokenizer(levels=3)
    seq = tok.encode(Molecule3D([C, C], [[-0.2399, 0, 0], [0.2399, 0, 0]]))
    # +0.2399 Å is 23.99 bins from the box centre (q = 96): it rounds to q = 120, i.e. fine bin 0
    # of cell 5, not bin 24 of cell 4 (and -0.2399 Å to bin 0 of cell 3)
    leaves = seq.level == 0
    assert seq.fine[leaves].tolist() == [[0, 0, 0], [0, 0, 0]]
    np.testing.assert_allclose(seq.centre[leaves][:, 0], [3.5 * 0.24, 5.5 * 0.24])
    assert roundtrip_error(tok, Molecule3D([C, C], [[-0.2399, 0, 0], [0.2399, 0, 0]]))["coord_error"] <= 0.005


def test_structure_larger_than_the_box_is_refused():
    tok = OctreeTokenizer(levels=6)  # ±7.68 Å
    with pytest.raises(UnigenError, match=r"reaches 10.00 Å .* ±7.68 Å; use more levels"):
        tok.encode(Molecule3D([C, C], [[-10, 0, 0], [10, 0, 0]]))
    assert (
        roundtrip_error(OctreeTokenizer(levels=7), Molecule3D([C, C], [[-10, 0, 0], [10, 0, 0]]))[
            "coord_error"
        ]
        < 1e-9
    )
    long_cell = Crystal([C], [[0, 0, 0]], np.diag([70.0, 3, 3]))
    with pytest.raises(UnigenError, match="use more levels"):
        OctreeTokenizer(levels=8).encode(long_cell)


def test_two_atoms_in_one_finest_cell_are_refused_with_both_named():
    tok = OctreeTokenizer()
    with pytest.raises(UnigenError, match=r"atoms 0 and 2 fall in the same 0.24 Å cell \(0.050 Å apart\)"):
        tok.encode(Molecule3D([C, O, H], [[1.0, 1.0, 1.0], [-3, 0, 0], [1.05, 1.0, 1.0]]))
    with pytest.raises(UnigenError, match="two lattice corners fall in the same"):
        OctreeTokenizer(levels=8).encode(
            Crystal([C], [[0, 0, 0]], np.diag([0.1, 3, 3])), translation=[0.1, 0, 0]
        )


def test_tokens_do_not_depend_on_atom_order():
    rng = np.random.default_rng(1)
    tok = OctreeTokenizer()
    mol = random_molecule(rng)
    perm = rng.permutation(mol.num_atoms)
    seq, seq_perm = tok.encode(mol), tok.encode(Molecule3D(mol.atomic_numbers[perm], mol.positions[perm]))
    assert seq.same_tokens(seq_perm)
    np.testing.assert_array_equal(perm[seq_perm.source_index], seq.source_index)
    crystal_perm = Crystal(PEROVSKITE.atomic_numbers[::-1], PEROVSKITE.frac_coords[::-1], PEROVSKITE.lattice)
    tok8 = OctreeTokenizer(levels=8)
    assert tok8.encode(PEROVSKITE).same_tokens(tok8.encode(crystal_perm))


def test_level_by_level_morton_order_and_occupancy_consistency():
    rng = np.random.default_rng(2)
    tok = OctreeTokenizer()
    seq = tok.encode(random_molecule(rng, n=25))
    tree = seq.kind == KIND_TREE
    assert np.all(np.diff(seq.level[tree]) <= 0)  # coarse to fine
    assert seq.level[tree][0] == tok.levels and np.sum(seq.level == tok.levels) == 1
    for level in range(tok.levels, 0, -1):
        patterns = seq.ids[seq.level == level] - TREE_OFFSET
        children = np.sum(seq.level == level - 1) if level > 1 else np.sum(seq.level == 0)
        assert sum(bin(int(p)).count("1") for p in patterns) == children  # each set bit is one child
        centres = seq.centre[seq.level == level]
        cells = np.floor(centres / (tok.grid_len * 2**level)).astype(int)
        morton = [
            sum(((c[a] >> b) & 1) << (3 * b + a) for a in range(3) for b in range(tok.levels)) for c in cells
        ]
        assert morton == sorted(morton)


# -- round trips ---------------------------------------------------------------------------


def test_random_molecules_round_trip_within_half_a_step():
    rng = np.random.default_rng(3)
    tok = OctreeTokenizer()
    for _ in range(50):
        result = roundtrip_error(tok, random_molecule(rng, n=int(rng.integers(1, 30))))
        assert result["species_equal"] and result["coord_error"] <= 0.005 + 1e-12


def test_crystal_lattice_recovered_with_row_order_sign_and_handedness():
    tok = OctreeTokenizer(levels=8)
    lattice = np.array([[0.3, 5.1, -0.2], [-4.0, 0.1, 0.05], [0.7, 0.4, 6.3]])  # det < 0: left-handed
    crystal = Crystal([C, O, H], [[0.1, 0.2, 0.3], [0.95, 0.999, 0.0], [0.5, 0.5, 0.5]], lattice)
    seq = tok.encode(crystal)
    corners = seq.kind == KIND_CORNER
    assert sorted(seq.ids[corners] - CORNER_OFFSET) == list(range(8))
    assert (seq.tree[seq.kind == KIND_ATOM] == 1).all() and (seq.tree[corners] == 0).all()
    decoded = tok.decode(seq)
    assert np.abs(decoded.lattice - lattice).max() <= 5e-4
    result = roundtrip_error(tok, crystal)
    assert (
        result["species_equal"] and result["coord_error"] <= 0.005 + 1e-12 and result["lattice_error"] <= 5e-4
    )


def test_atom_at_the_cell_origin_does_not_collide_with_a_corner():
    decoded = OctreeTokenizer(levels=8).decode(OctreeTokenizer(levels=8).encode(PEROVSKITE))
    assert decoded.num_atoms == 5 and np.abs(decoded.lattice - PEROVSKITE.lattice).max() <= 5e-4


def test_rotation_augmentation_rotates_about_the_centroid():
    rng = np.random.default_rng(4)
    tok = OctreeTokenizer()
    mol = random_molecule(rng)
    rotation = random_rotation(rng)
    assert np.allclose(rotation @ rotation.T, np.eye(3)) and np.isclose(np.linalg.det(rotation), 1)
    seq = tok.encode(mol, rotation=rotation)
    centre = mol.positions.mean(0)
    expected = (mol.positions - centre) @ rotation.T + centre
    assert np.abs(tok.decode(seq).positions - expected[seq.source_index]).max() <= 0.005 + 1e-12
    tok8 = OctreeTokenizer(levels=8)
    rotated = tok8.decode(tok8.encode(PEROVSKITE, rotation=rotation))
    assert np.abs(rotated.lattice - PEROVSKITE.lattice @ rotation.T).max() <= 5e-4
    with pytest.raises(UsageError, match="proper rotation"):
        tok.encode(mol, rotation=np.diag([1.0, 1.0, -1.0]))


@requires_data("qm9", "qm9_3d_qm9pack_core.csv.gz")
def test_qm9_sample_round_trips():
    from unigen.data import load_dataset

    tok = OctreeTokenizer(levels=6, elements=[1, 6, 7, 8, 9])
    worst = max(roundtrip_error(tok, mol)["coord_error"] for mol in load_dataset("qm9_3d", "all", limit=300))
    assert 0.004 < worst <= 0.005 + 1e-12  # the bound is reached but never exceeded


@pytest.mark.parametrize(
    "name, options",
    [
        ("perov_5", {}),
        ("carbon_24", {}),
        ("mp_20", {"subset": "OPRYAN90"}),
        ("mp_20", {"subset": "OPRYAN90", "niggli": False}),
    ],
)
def test_crystal_samples_round_trip(name, options):
    from unigen.data import get_dataset, load_dataset

    dataset = get_dataset(name)
    try:
        crystals = load_dataset(name, "test", limit=40, **options)
    except UnigenError as err:  # benchmark file absent in this checkout
        pytest.skip(f"{dataset.name}: {err}")
    tok = OctreeTokenizer(levels=8)
    for crystal in crystals:
        result = roundtrip_error(tok, crystal)
        assert (
            result["species_equal"]
            and result["coord_error"] <= 0.005 + 1e-9
            and result["lattice_error"] <= 5e-4
        )


# -- vocabulary, state, decoding of generated sequences --------------------------------------


def test_state_dict_is_json_and_rebuilds_the_same_tokenizer():
    tok = OctreeTokenizer(
        levels=7, grid_len=0.3, resolution=0.02, lattice_resolution=0.002, elements=[1, 6, 8]
    )
    state = json.loads(json.dumps(tok.state_dict()))
    again = tokenizer_from_state_dict(state)
    assert isinstance(again, OctreeTokenizer) and again.state_dict() == tok.state_dict()
    assert again.vocab_size == ATOM_OFFSET + 3 and again.bins == 15 and again.lattice_bins == 150
    mol = Molecule3D([C, O, H], [[0, 0, 0], [1.2, 0, 0], [-0.6, 0.9, 0]])
    assert again.encode(mol).same_tokens(tok.encode(mol))


def test_bad_states_and_settings_are_refused():
    with pytest.raises(UsageError, match="unknown octree tokenizer setting.*valid: elements, grid_len"):
        OctreeTokenizer.from_state_dict({"type": "octree", "levels": 6, "depth": 3})
    with pytest.raises(UsageError, match="expected 'octree'"):
        OctreeTokenizer.from_state_dict({"type": "sequence"})
    with pytest.raises(UsageError, match="unknown tokenizer type"):
        tokenizer_from_state_dict({"type": "nope"})
    with pytest.raises(UsageError, match="whole multiple"):
        OctreeTokenizer(resolution=0.07)
    with pytest.raises(UnigenError, match=r"Z=\[92\] not in this tokenizer's vocabulary"):
        OctreeTokenizer(elements=[1, 6]).encode(Molecule3D([6, 92], [[0, 0, 0], [2, 0, 0]]))


def test_vocabulary_layout():
    tok = OctreeTokenizer()
    assert [tok.token_name(i) for i in range(5)] == ["[PAD]", "[MASK]", "[END]", "[NULL]", "[LAT_000]"]
    assert tok.token_name(CORNER_OFFSET + 7) == "[LAT_111]"
    assert tok.token_name(TREE_OFFSET + 1) == "[TREE_1]" and tok.token_name(ATOM_OFFSET - 1) == "[TREE_255]"
    assert tok.token_name(tok.atom_id(C)) == "C" and tok.vocab_size == ATOM_OFFSET + 118
    assert tok.fine_vocab_size == 241 and tok.null_bin == 240


def test_malformed_sequences_are_refused():
    tok = OctreeTokenizer(levels=3)
    seq = tok.encode(Molecule3D([C, O], [[0, 0, 0], [1.2, 0, 0]]))

    def altered(ids=None, fine=None):
        return OctreeSequence(
            seq.ids if ids is None else ids,
            seq.level,
            seq.centre,
            seq.fine if fine is None else fine,
            seq.kind,
            seq.tree,
            seq.origin,
            seq.source_index,
        )

    with pytest.raises(UnigenError, match="malformed"):
        tok.decode(altered(ids=seq.ids[:-2], fine=seq.fine[:-2]))
    with pytest.raises(UnigenError, match="malformed"):
        tok.decode(altered(ids=np.where(np.arange(len(seq)) == 1, tok.atom_id(C), seq.ids)))
    bad_fine = seq.fine.copy()
    bad_fine[seq.level == 0] = 30
    with pytest.raises(UnigenError, match="fine bins"):
        tok.decode(altered(fine=bad_fine))


def test_null_leaves_are_dropped():
    tok = OctreeTokenizer(levels=3)
    seq = tok.encode(Molecule3D([C, O], [[0, 0, 0], [1.2, 0, 0]]))
    ids = seq.ids.copy()
    ids[np.flatnonzero(seq.level == 0)[0]] = NULL
    decoded = tok.decode(
        OctreeSequence(ids, seq.level, seq.centre, seq.fine, seq.kind, seq.tree, seq.origin, seq.source_index)
    )
    assert decoded.num_atoms == 1


def test_lattice_tree_needs_all_eight_corners():
    tok = OctreeTokenizer(levels=8)
    seq = tok.encode(PEROVSKITE)
    ids = seq.ids.copy()
    ids[np.flatnonzero(seq.kind == KIND_CORNER)[1]] = CORNER_OFFSET  # two [LAT_000]
    with pytest.raises(UnigenError, match="8 corners once each"):
        tok.decode(
            OctreeSequence(
                ids, seq.level, seq.centre, seq.fine, seq.kind, seq.tree, seq.origin, seq.source_index
            )
        )


# -- masked next-token prediction layout -----------------------------------------------------


def test_interleave_masks():
    tok = OctreeTokenizer()
    mol = Molecule3D([C, O, H], [[0, 0, 0], [1.2, 0, 0], [-0.6, 0.9, 0]])
    seq = tok.encode(mol)
    masked = tok.interleave_masks(seq)
    t = len(seq)
    assert (
        len(masked.ids) == 2 * t and (masked.ids[0::2] == MASK).all() and (masked.ids[1::2] == seq.ids).all()
    )
    assert (masked.level[0::2] == seq.level).all() and masked.is_mask.sum() == t
    predicted = seq.kind != KIND_END
    assert (masked.target_ids[0::2][predicted] == seq.ids[predicted]).all()
    assert (masked.target_ids[1::2] == IGNORE).all() and masked.target_ids[2 * t - 2] == IGNORE
    leaves = seq.level == 0
    assert (masked.target_fine[0::2][leaves] == seq.fine[leaves]).all() and (
        masked.target_fine[0::2][~leaves] == IGNORE
    ).all()
    assert (masked.fine[0::2] == tok.null_bin).all()
    np.testing.assert_allclose(masked.position[0::2], seq.centre)  # a mask knows only the cell
    # a real leaf sits at its exact quantised position: box frame = decoded position - centroid + box centre
    decoded = tok.decode(seq).positions
    np.testing.assert_allclose(
        masked.position[1::2][leaves], decoded - mol.positions.mean(0) + tok.box_length / 2, atol=1e-9
    )


@pytest.mark.slow
@requires_data("qm9", "qm9_3d_qm9pack_core.csv.gz")
def test_every_benchmark_structure_round_trips():
    """All 130,831 QM9 molecules at L=6 and every Perov-5 / Carbon-24 / MP-20 file structure at L=8."""
    from unigen.data import load_dataset

    cases = [(6, load_dataset("qm9_3d", "all"))]
    cases += [
        (8, load_dataset(name, split)) for name in ("perov_5", "carbon_24") for split in ("test", "val")
    ]
    cases += [(8, load_dataset("mp_20", split, subset="OPRYAN90")) for split in ("train", "val", "test")]
    for levels, structures in cases:
        tok = OctreeTokenizer(levels=levels)
        for structure in structures:
            result = roundtrip_error(tok, structure)
            assert (
                result["species_equal"]
                and result["coord_error"] <= 0.005 + 1e-9
                and result["lattice_error"] <= 5e-4
            )


# -- batches ---------------------------------------------------------------------------------


def test_batch_equals_one_by_one_for_mixed_structures():
    rng = np.random.default_rng(5)
    tok = OctreeTokenizer(levels=8)
    structures = [random_molecule(rng, n=int(rng.integers(1, 25))) for _ in range(6)]
    structures.insert(2, PEROVSKITE)
    structures.insert(
        5,
        Crystal(
            [C] * 2, [[0, 0, 0], [0.25, 0.25, 0.25]], [[0, 1.78, 1.78], [1.78, 0, 1.78], [1.78, 1.78, 0]]
        ),
    )
    rotations = np.stack([random_rotation(rng) for _ in structures])
    translations = rng.normal(size=(len(structures), 3))
    batch = tok.encode_batch(structures, rotations, translations, chunk=3)
    single = [
        tok.encode(s, rotation=r, translation=t) for s, r, t in zip(structures, rotations, translations)
    ]
    for a, b in zip(batch, single):
        assert a.same_tokens(b) and np.array_equal(a.source_index, b.source_index)
        np.testing.assert_allclose(a.origin, b.origin, atol=1e-12)
    for a, b in zip(tok.decode_batch(batch), (tok.decode(q) for q in single)):
        assert type(a) is type(b) and np.array_equal(a.atomic_numbers, b.atomic_numbers)
        np.testing.assert_allclose(
            a.cart_coords if isinstance(a, Crystal) else a.positions,
            b.cart_coords if isinstance(b, Crystal) else b.positions,
            atol=1e-9,
        )


def test_batch_errors_name_the_item():
    tok = OctreeTokenizer()
    good = Molecule3D([C, O], [[0, 0, 0], [1.2, 0, 0]])
    with pytest.raises(UnigenError, match=r"^item 1 of the batch: structure reaches 10.00 Å"):
        tok.encode_batch([good, Molecule3D([C, C], [[-10, 0, 0], [10, 0, 0]]), good])
    with pytest.raises(UnigenError, match=r"^item 2 of the batch: atoms 0 and 1 fall in the same"):
        tok.encode_batch([good, good, Molecule3D([C, H], [[0, 0, 0], [0.01, 0, 0]])])
    seq = tok.encode(good)
    cut = OctreeSequence(
        seq.ids[:-1],
        seq.level[:-1],
        seq.centre[:-1],
        seq.fine[:-1],
        seq.kind[:-1],
        seq.tree[:-1],
        seq.origin,
        seq.source_index,
    )
    with pytest.raises(
        UnigenError,
        match=r"^item 1 of the batch: malformed octree sequence: expected 2 leaf tokens then \[END\]",
    ):
        tok.decode_batch([seq, cut, seq])
