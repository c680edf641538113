"""UniGenX sequence tokenizer: hand-checked layouts, exact round trips, state, errors, real data."""

import json

import numpy as np
import pytest
from conftest import data_path

from unigen.errors import UsageError
from unigen.structures import Crystal, Molecule3D
from unigen.tokenizers.octree import random_rotation, roundtrip_error
from unigen.tokenizers.sequence import (
    BOS,
    COORD,
    EOS,
    MASK,
    PAD,
    CrystalSequenceTokenizer,
    MoleculeSequenceTokenizer,
    SlotSequence,
    TokenError,
    site_order,
    smiles_element,
    tokenize_smiles,
    wrap_fractional,
)

NA, CL, SR, TI, O = 11, 17, 38, 22, 8
# conventional rock salt, species interleaved and Cl first
ROCK_SALT = Crystal(
    [CL, NA, CL, NA, CL, NA, CL, NA],
    [
        [0.5, 0.5, 0.5],
        [0.5, 0.5, 0],
        [0, 0, 0.5],
        [0, 0, 0],
        [0, 0.5, 0],
        [0.5, 0, 0.5],
        [0.5, 0, 0],
        [0, 0.5, 0.5],
    ],
    np.eye(3) * 5.64,
)
PEROVSKITE = Crystal(
    [O, SR, TI, O, O],
    [[0.5, 0.5, 0], [0, 0, 0], [0.5, 0.5, 0.5], [0, 0.5, 0.5], [0.5, 0, 0.5]],
    [[3.905, 0, 0], [0.01, 3.905, 0], [0.02, 0.03, 3.9051]],
)
# methanol, explicit H in SMILES atom order: C, O, H(on O), H, H, H
METHANOL = Molecule3D(
    [6, 8, 1, 1, 1, 1],
    [
        [-0.047, 0.664, 0.0],
        [-0.047, -0.758, 0.0],
        [-0.965, -1.071, 0.0],
        [-1.086, 0.975, 0.0],
        [0.436, 1.081, 0.890],
        [0.436, 1.081, -0.890],
    ],
    meta={"smiles": "C(O[H])([H])([H])[H]"},
)


def names(tok, seq):
    return [tok.token_name(i) for i in seq.ids]


def rows(seq, ids, is_slot, values):
    """A SlotSequence with replaced rows (for truncated, padded or corrupted sequences)."""
    return SlotSequence(
        np.asarray(ids), np.asarray(is_slot, bool), np.asarray(values, float), seq.source_index
    )


def random_crystal(rng, n=7):
    return Crystal(
        rng.choice([3, 8, 26, 29], size=n),
        rng.uniform(-1.5, 2.5, size=(n, 3)),
        np.diag(rng.uniform(3, 9, size=3)) + rng.normal(scale=0.5, size=(3, 3)),
    )


def assert_same_crystal(a: Crystal, b: Crystal):
    assert np.array_equal(a.atomic_numbers, b.atomic_numbers)
    assert np.array_equal(a.frac_coords, b.frac_coords) and np.array_equal(a.lattice, b.lattice)


# -- crystals: hand-checked -------------------------------------------------------------------


def test_rock_salt_is_grouped_by_first_appearance_then_sorted_by_xyz():
    tok = CrystalSequenceTokenizer()
    seq = tok.encode(ROCK_SALT)
    assert names(tok, seq) == ["<bos>", *["Cl"] * 4, *["Na"] * 4, "<coord>", *["<mask>"] * 11, "<eos>"]
    assert len(seq) == 2 * 8 + 6  # the spec's layout line; its "2N + 5" miscounts
    assert seq.ids[0] == BOS and seq.ids[9] == COORD and seq.ids[-1] == EOS
    assert seq.is_slot.tolist() == [False] * 10 + [True] * 11 + [False]
    assert np.array_equal(seq.slot_values[:3], np.eye(3) * 5.64)
    cl = [[0, 0, 0.5], [0, 0.5, 0], [0.5, 0, 0], [0.5, 0.5, 0.5]]
    na = [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]
    assert seq.slot_values[3:].tolist() == cl + na
    assert seq.source_index.tolist() == [2, 4, 6, 0, 3, 7, 5, 1]
    assert (seq.values[~seq.is_slot] == 0).all()


def test_perovskite_slots_hold_the_raw_lattice_rows_then_the_fractions():
    tok = CrystalSequenceTokenizer()
    seq = tok.encode(PEROVSKITE)
    assert names(tok, seq) == ["<bos>", "O", "O", "O", "Sr", "Ti", "<coord>", *["<mask>"] * 8, "<eos>"]
    o, sr, ti = tok.token_id("O"), tok.token_id("Sr"), tok.token_id("Ti")
    assert seq.ids.tolist() == [BOS, o, o, o, sr, ti, COORD, *[MASK] * 8, EOS]
    assert seq.values[7:10].tolist() == PEROVSKITE.lattice.tolist()
    assert seq.values[10:15].tolist() == [
        [0, 0.5, 0.5],
        [0.5, 0, 0.5],
        [0.5, 0.5, 0],
        [0, 0, 0],
        [0.5, 0.5, 0.5],
    ]
    assert seq.source_index.tolist() == [3, 4, 0, 1, 2]


def test_wrap_follows_the_spec_rules():
    frac = np.array([[-0.25, 1.75, 1.0], [0.99995, 0.00009, -1.0], [0.123456789, 0.5, 2.0000001]])
    assert wrap_fractional(frac).tolist() == [[0.75, 0.75, 0.0], [0.0, 0.0, 0.0], [0.123457, 0.5, 0.0]]
    assert wrap_fractional(np.array([[0.9999996]]), snap=0, decimals=6).tolist() == [
        [0.0]
    ]  # rounds up to 1 -> 0
    assert wrap_fractional(np.array([[0.2 + 1e-13]]), snap=0, decimals=None)[0, 0] == 0.2 + 1e-13


def test_site_order_without_coordinates_keeps_input_order_within_groups():
    assert site_order(np.array([8, 38, 22, 8, 8])).tolist() == [0, 3, 4, 1, 2]


def test_prompt_has_the_encoded_layout_with_zero_slots():
    tok = CrystalSequenceTokenizer()
    prompt, seq = tok.prompt(PEROVSKITE.atomic_numbers), tok.encode(PEROVSKITE)
    assert np.array_equal(prompt.ids, seq.ids) and np.array_equal(prompt.is_slot, seq.is_slot)
    assert (prompt.values == 0).all() and prompt.source_index.tolist() == [0, 3, 4, 1, 2]


# -- crystals: round trips -----------------------------------------------------------------------


def test_decode_of_encode_is_the_canonical_crystal_and_re_encodes_identically():
    tok, rng = CrystalSequenceTokenizer(), np.random.default_rng(0)
    for _ in range(20):
        crystal = random_crystal(rng)
        seq = tok.encode(crystal)
        back = tok.decode(seq)
        order, frac = tok.canonical(crystal)
        assert_same_crystal(back, Crystal(crystal.atomic_numbers[order], frac, crystal.lattice))
        assert tok.encode(back).same_tokens(seq) and np.array_equal(
            tok.encode(back).source_index, np.arange(7)
        )
        delta = back.frac_coords - crystal.frac_coords[seq.source_index]
        assert np.abs(delta - np.rint(delta)).max() <= 1e-4  # the snap; rounding adds at most 5e-7


def test_without_snap_and_rounding_the_round_trip_is_bit_exact():
    tok, rng = CrystalSequenceTokenizer(snap=0, decimals=None), np.random.default_rng(1)
    for _ in range(20):
        crystal = random_crystal(rng)
        crystal.frac_coords = crystal.frac_coords % 1.0
        seq = tok.encode(crystal)
        expected = Crystal(
            crystal.atomic_numbers[seq.source_index], crystal.frac_coords[seq.source_index], crystal.lattice
        )
        assert_same_crystal(tok.decode(seq), expected)
        assert roundtrip_error(tok, crystal) == {
            "coord_error": 0.0,
            "lattice_error": 0.0,
            "species_equal": True,
            "tokens": 20,
        }


def test_scales_multiply_the_slots_and_decode_divides():
    tok = CrystalSequenceTokenizer(coord_scale=10, lattice_scale=0.5)
    seq = tok.encode(PEROVSKITE)
    assert np.allclose(seq.slot_values[:3], PEROVSKITE.lattice * 0.5) and seq.slot_values[3:].max() == 5.0
    back = tok.decode(seq)
    assert np.allclose(back.lattice, PEROVSKITE.lattice)
    assert np.allclose(back.frac_coords, PEROVSKITE.frac_coords[seq.source_index])


def test_rotation_turns_the_lattice_rows_and_translation_re_sorts():
    tok = CrystalSequenceTokenizer()
    rotation = random_rotation(np.random.default_rng(2))
    turned = tok.decode(tok.encode(PEROVSKITE, rotation=rotation))
    assert np.allclose(turned.lattice, PEROVSKITE.lattice @ rotation.T)
    assert np.allclose(turned.lattice @ turned.lattice.T, PEROVSKITE.lattice @ PEROVSKITE.lattice.T)
    shifted = tok.encode(ROCK_SALT, translation=[0.5, 0, 0])
    assert shifted.slot_values[3:7].tolist() == [
        [0, 0, 0],
        [0, 0.5, 0.5],
        [0.5, 0, 0.5],
        [0.5, 0.5, 0],
    ]  # Cl now at Na's sites


def test_decode_wraps_generated_coordinates_and_accepts_trailing_padding():
    tok = CrystalSequenceTokenizer()
    seq = tok.encode(PEROVSKITE)
    seq.values[10] = [-0.25, 1.5, 0.5]
    padded = rows(
        seq, np.r_[seq.ids, PAD, PAD], np.r_[seq.is_slot, False, False], np.r_[seq.values, np.zeros((2, 3))]
    )
    assert tok.decode(padded).frac_coords[0].tolist() == [0.75, 0.5, 0.5]


# -- state and errors ------------------------------------------------------------------------------


def test_state_is_json_and_rebuilds_the_same_tokenizer():
    tokenizers = (
        CrystalSequenceTokenizer(elements=[8, 22, 38], decimals=None, coord_scale=10),
        MoleculeSequenceTokenizer.fit(["[NH4+]"]),
    )
    for tok in tokenizers:
        state = json.loads(json.dumps(tok.state_dict()))
        again = type(tok).from_state_dict(state)
        assert again.state_dict() == tok.state_dict() and again.tokens == tok.tokens
    specials = ("<pad>", "<bos>", "<eos>", "<coord>", "<mask>")
    assert CrystalSequenceTokenizer(elements=[8, 22, 38]).tokens == (*specials, "O", "Ti", "Sr")
    with pytest.raises(
        UsageError, match="unknown sequence_crystal tokenizer setting.*valid: coord_scale, decimals"
    ):
        CrystalSequenceTokenizer.from_state_dict({"type": "sequence_crystal", "levels": 3})
    with pytest.raises(UsageError, match="expected 'sequence_molecule'"):
        MoleculeSequenceTokenizer.from_state_dict(CrystalSequenceTokenizer().state_dict())


def test_unknown_elements_and_tokens_are_clear_value_errors():
    tok = CrystalSequenceTokenizer(elements=[8, 22])
    with pytest.raises(ValueError, match=r"element\(s\) Z=\[38\] not in this tokenizer's vocabulary"):
        tok.encode(PEROVSKITE)
    with pytest.raises(TokenError, match="token 'Sr' is not in this sequence_crystal vocabulary"):
        tok.token_id("Sr")
    with pytest.raises(TokenError, match="token id 99 is outside the vocabulary"):
        tok.token_name(99)
    with pytest.raises(UsageError, match="elements must be distinct"):
        CrystalSequenceTokenizer(elements=[8, 8])


def test_malformed_sequences_are_value_errors_naming_the_problem():
    tok = CrystalSequenceTokenizer()
    good = tok.encode(PEROVSKITE)
    cut = rows(good, np.r_[good.ids[:-3], EOS], np.r_[good.is_slot[:-3], False], good.values[:-2])
    with pytest.raises(ValueError, match="5 elements need 8 slots, got 6"):
        tok.decode(cut)
    no_eos = rows(good, good.ids[:-1], good.is_slot[:-1], good.values[:-1])
    with pytest.raises(ValueError, match="expected <bos> tokens <coord> slots <eos>"):
        tok.decode(no_eos)
    special = rows(good, np.r_[good.ids[:2], MASK, good.ids[3:]], good.is_slot, good.values)
    with pytest.raises(ValueError, match="content token id 4 before <coord>"):
        tok.decode(special)
    unflagged = rows(good, good.ids, np.zeros_like(good.is_slot), good.values)
    with pytest.raises(ValueError, match="must be a <mask> slot"):
        tok.decode(unflagged)


# -- molecules ---------------------------------------------------------------------------------------


def test_smiles_regex_tokens_and_their_elements():
    assert tokenize_smiles("C(O[H])([H])[H]") == ["C", "(", "O", "[H]", ")", "(", "[H]", ")", "[H]"]
    assert tokenize_smiles("[13C@@H](Cl)c1ccccc1%10Br") == [
        "[13C@@H]",
        "(",
        "Cl",
        ")",
        *"c1cccc",
        "c",
        "1",
        "%10",
        "Br",
    ]
    tokens = ("c", "Cl", "[nH]", "[13C@@H]", "[Na+]", "[se]", "(", "=", "1")
    assert [smiles_element(t) for t in tokens] == ["C", "Cl", "N", "C", "Na", "Se", None, None, None]
    with pytest.raises(ValueError, match=r"cannot tokenize from character 1 \('Xy'\)"):
        tokenize_smiles("CXy")
    with pytest.raises(ValueError, match="wildcard"):
        smiles_element("*")


def test_methanol_tokens_and_slots_by_hand():
    tok = MoleculeSequenceTokenizer()
    seq = tok.encode(METHANOL)
    smiles_part = ["C", "(", "O", "[H]", ")", "(", "[H]", ")", "(", "[H]", ")", "[H]"]
    assert names(tok, seq) == ["<bos>", *smiles_part, "<coord>", *["<mask>"] * 6, "<eos>"]
    assert seq.ids[1:3].tolist() == [tok.token_id("C"), tok.token_id("(")]
    assert np.array_equal(seq.slot_values, METHANOL.positions) and seq.source_index.tolist() == list(range(6))
    back = tok.decode(seq)
    assert np.array_equal(back.atomic_numbers, METHANOL.atomic_numbers)
    assert np.array_equal(back.positions, METHANOL.positions)
    assert back.meta == {"smiles": METHANOL.meta["smiles"]} and tok.encode(back).same_tokens(seq)
    prompt = tok.prompt(METHANOL.meta["smiles"])
    assert np.array_equal(prompt.ids, seq.ids) and (prompt.values == 0).all()


def test_molecule_rotation_and_scale():
    tok = MoleculeSequenceTokenizer(coord_scale=2.0)
    rotation = random_rotation(np.random.default_rng(3))
    seq = tok.encode(METHANOL, rotation=rotation)
    assert np.allclose(seq.slot_values, 2 * METHANOL.positions @ rotation.T)
    assert np.allclose(tok.decode(seq).positions, METHANOL.positions @ rotation.T)


def test_molecule_errors_name_the_smiles_and_the_fix():
    tok = MoleculeSequenceTokenizer()
    implicit_h = Molecule3D(METHANOL.atomic_numbers, METHANOL.positions, meta={"smiles": "CO"})
    with pytest.raises(
        ValueError, match=r"'CO' has atoms Z=\[6, 8\] but the molecule has \[6, 8, 1, 1, 1, 1\]"
    ):
        tok.encode(implicit_h)
    charged = Molecule3D([7], [[0, 0, 0]], meta={"smiles": "[NH4+]"})
    with pytest.raises(
        ValueError, match=r"token '\[NH4\+\]' is not in the vocabulary \(use MoleculeSequenceTokenizer.fit"
    ):
        tok.encode(charged)
    fitted = MoleculeSequenceTokenizer.fit(["[NH4+]"])
    assert fitted.decode(fitted.encode(charged)).meta["smiles"] == "[NH4+]"
    with pytest.raises(UsageError, match="meta\\['smiles'\\]"):
        tok.encode(Molecule3D([6], [[0, 0, 0]]))
    with pytest.raises(UsageError, match="not single SMILES tokens"):
        MoleculeSequenceTokenizer(tokens=["CC"])


def test_molecule_decode_checks_slot_count():
    tok = MoleculeSequenceTokenizer()
    seq = tok.prompt("CO")  # 2 atoms, 2 slots
    short = rows(
        seq,
        np.r_[seq.ids[:-2], EOS],
        np.r_[seq.is_slot[:-2], False],
        np.r_[seq.values[:-2], np.zeros((1, 3))],
    )
    with pytest.raises(ValueError, match="2 atom tokens but 1 slots"):
        tok.decode(short)


# -- real data -----------------------------------------------------------------------------------------

DATASETS = {"perov_5": {}, "carbon_24": {}, "mp_20": {"subset": "OPRYAN90"}}


@pytest.mark.slow
@pytest.mark.parametrize("name", DATASETS)
def test_every_test_cif_round_trips(name):
    from pymatgen.analysis.structure_matcher import StructureMatcher

    from unigen.chem.convert import crystal_to_pymatgen
    from unigen.data import load_dataset

    subset = DATASETS[name].get("subset")
    parts = (name, "subset_" + subset, "test.csv") if subset else (name, "test.csv")
    if not data_path(*parts).exists():
        pytest.skip(f"{'/'.join(parts)} not available")
    tok, crystals = CrystalSequenceTokenizer(), load_dataset(name, "test", **DATASETS[name])
    errors = [roundtrip_error(tok, c) for c in crystals]
    assert all(e["species_equal"] for e in errors)
    assert max(e["lattice_error"] for e in errors) == 0.0
    assert max(e["coord_error"] for e in errors) < 1e-4 * 30  # snap 1e-4 in fractions x cell edges below 30 A
    matcher = StructureMatcher(stol=0.5, ltol=0.3, angle_tol=10)
    picks = np.random.default_rng(0).choice(len(crystals), size=min(100, len(crystals)), replace=False)
    sample = [crystals[int(i)] for i in picks]
    assert all(
        matcher.fit(crystal_to_pymatgen(c), crystal_to_pymatgen(tok.decode(tok.encode(c)))) for c in sample
    )


def test_group_order_by_atomic_number_makes_the_prompt_independent_of_the_input_order():
    assert site_order(np.array([8, 38, 22, 8, 8]), group_order="atomic_number").tolist() == [0, 3, 4, 2, 1]
    tokenizer = CrystalSequenceTokenizer(group_order="atomic_number")
    orders = ([38, 22, 8, 8, 8], [8, 8, 8, 22, 38], [22, 8, 38, 8, 8])
    prompts = [tokenizer.prompt(z).ids for z in orders]
    assert all(np.array_equal(p, prompts[0]) for p in prompts)
    restored = CrystalSequenceTokenizer.from_state_dict(tokenizer.state_dict())
    assert restored.group_order == "atomic_number"
    with pytest.raises(UsageError, match="group_order"):
        CrystalSequenceTokenizer(group_order="alphabetical")
