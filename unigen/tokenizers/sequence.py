"""UniGenX sequences: discrete tokens, then numeric slots holding 3 numbers each.

Layout (spec Part A2), L = 1 + C + 1 + S + 1 tokens for C content tokens and S slots (the
spec's "length 2N + 5" miscounts its own layout line, which has 2N + 6 tokens):

    crystal   <bos> El_1 ... El_N <coord> [L1] [L2] [L3] [f_1] ... [f_N] <eos>    (L = 2N + 6)
    molecule  <bos> SMILES tokens <coord> [xyz_1] ... [xyz_n] <eos>             (n atom tokens)

A slot ``[.]`` has token id ``<mask>``, ``is_slot`` True and its 3 numbers in ``values``;
every other position has values 0. Which numbers go in which slot:

    [L1] [L2] [L3]  the rows a, b, c of the 3x3 lattice matrix, raw Angstrom (not 6 parameters,
                    not normalised), times ``lattice_scale`` (1: the faithful default)
    [f_i]           fractional coordinates of site i wrapped into [0, 1) (``wrap_fractional``:
                    mod 1, values within ``snap`` of 0 or 1 set to 0, rounded to ``decimals``),
                    times ``coord_scale`` (1; the UniGenX prototype used 10)
    [xyz_i]         Cartesian position of the i-th atom token of the SMILES, raw Angstrom, times
                    ``coord_scale``

Site order (crystals, as UniGenX training data): sites grouped by element, groups in order
of each element's first appearance in the input, and within a group sorted
lexicographically by the wrapped (x, y, z); ``group_order="atomic_number"`` orders the
groups by ascending Z instead, so that a prompt does not depend on how the input lists its
elements (Perov-5 CIFs list the B cation first: with first-appearance order the prompt
itself tells a model which cation sits on which site). ``source_index`` maps sequence sites back to
input sites. Molecules keep their atom order, which must be the SMILES atom order.

SMILES are split with the usual regex (bracket atoms, two-letter Cl / Br, bonds, ring
digits, ``%nn``). A molecule sequence needs ``molecule.meta["smiles"]`` written with every
atom explicit (e.g. kekulised and with ``[H]``) in the same atom order as the positions:
encode checks the elements of the atom tokens against ``atomic_numbers``.

Vocabulary (fixed ids): 0 <pad>, 1 <bos>, 2 <eos>, 3 <coord>, 4 <mask>; then element symbols
(crystals, default Z = 1..118) or SMILES tokens (molecules, ``MoleculeSequenceTokenizer.fit``).

Exactness: decode(encode(x)) equals the canonical form of x (sites reordered, coordinates
wrapped and rounded) bit for bit, and re-encoding it gives the same sequence. With
``decimals=None, snap=0`` a crystal with coordinates in [0, 1) comes back exactly
(``x[source_index]``). Unknown tokens or elements and malformed sequences raise
``TokenError``, a ValueError.

Not implemented (default off in UniGenX): the ``<orderxyz>`` reorder tokens, the unified
model's domain and ``<m>`` / ``<s>`` prefix tokens, property-marker slots.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np

from unigen.errors import UnigenError, UsageError
from unigen.structures import Crystal, Molecule3D
from unigen.tokenizers.base import Tokenizer, check_elements, check_rotations, check_state_keys

PAD, BOS, EOS, COORD, MASK = 0, 1, 2, 3, 4
SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<coord>", "<mask>")
NUM_LATTICE_SLOTS = 3

SMILES_PATTERN = re.compile(
    r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|/|:|~|@|\?|>|\*|\$|%[0-9]{2}|[0-9])"
)
_BRACKET_ATOM = re.compile(r"^\[\d*([A-Z][a-z]?|[a-z][a-z]?)")
_ORGANIC_ATOMS = {"B", "C", "N", "O", "S", "P", "F", "I", "Br", "Cl", "b", "c", "n", "o", "s", "p"}
# enough for kekulised explicit-H organic SMILES (QM9); ``fit`` adds what a corpus holds
DEFAULT_SMILES_TOKENS = (
    "C",
    "N",
    "O",
    "F",
    "S",
    "P",
    "Cl",
    "Br",
    "I",
    "B",
    "c",
    "n",
    "o",
    "s",
    "p",
    "b",
    "[H]",
    "(",
    ")",
    "=",
    "#",
    "-",
    "+",
    "/",
    "\\",
    ":",
    ".",
    *"123456789",
)


class TokenError(UnigenError, ValueError):
    """Unknown token or element, or a sequence that is not in the UniGenX layout."""


@dataclass
class SlotSequence:
    """One structure as a UniGenX sequence (L tokens, N sites or atoms).

    ids           (L,)    int64   token ids (<mask> at slots)
    is_slot       (L,)    bool    True at the numeric slots
    values        (L, 3)  float64 slot numbers; 0 elsewhere
    source_index  (N,)    int64   input index of each site / atom, in sequence order
    """

    ids: np.ndarray
    is_slot: np.ndarray
    values: np.ndarray
    source_index: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def slot_values(self) -> np.ndarray:
        """(S, 3) the numbers of the slots, in order."""
        return self.values[self.is_slot]

    def same_tokens(self, other: "SlotSequence") -> bool:
        """True when both hold the same ids, slot mask and values (bit for bit)."""
        return all(np.array_equal(getattr(self, f), getattr(other, f)) for f in ("ids", "is_slot", "values"))


# -- pure helpers ---------------------------------------------------------------------


def wrap_fractional(frac: np.ndarray, snap: float = 1e-4, decimals: int | None = 6) -> np.ndarray:
    """Fractional coordinates into [0, 1) as UniGenX loads them (spec A2).

    mod 1, then values within ``snap`` of 0 or 1 become 0, then rounding to ``decimals``
    (None: no rounding); a value that rounds up to 1 becomes 0.
    """
    frac = np.asarray(frac, np.float64)
    out = frac - np.floor(frac)
    out[(out < snap) | (out > 1 - snap)] = 0.0
    if decimals is not None:
        out = np.round(out, decimals)
    out[out >= 1.0] = 0.0
    return out


GROUP_ORDERS = ("appearance", "atomic_number")


def site_order(
    atomic_numbers: np.ndarray, frac: np.ndarray | None = None, group_order: str = "appearance"
) -> np.ndarray:
    """Permutation (N,) putting sites in UniGenX order: element groups by first appearance
    (``group_order="atomic_number"``: by ascending Z), then lexicographic (x, y, z) within a
    group (no coordinates: input order within a group)."""
    z = np.asarray(atomic_numbers)
    _, first, inverse = np.unique(z, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first)) if group_order == "appearance" else np.arange(len(first))
    group = rank[inverse.reshape(-1)]
    if frac is None:
        return np.argsort(group, kind="stable")
    return np.lexsort((frac[:, 2], frac[:, 1], frac[:, 0], group))


def tokenize_smiles(smiles: str) -> list[str]:
    """SMILES -> regex tokens whose concatenation is the input; TokenError names a bad character."""
    tokens = SMILES_PATTERN.findall(smiles)
    if "".join(tokens) != smiles:
        position = _first_difference("".join(tokens), smiles)
        raise TokenError(
            f"SMILES {smiles!r}: cannot tokenize from character {position} ({smiles[position : position + 8]!r})"
        )
    return tokens


def smiles_element(token: str) -> str | None:
    """Element symbol of an atom token ('c' -> 'C', '[nH]' -> 'N', '[13C@@H]' -> 'C'); None for others."""
    if token in _ORGANIC_ATOMS:
        return token.capitalize()
    if token.lstrip("[0123456789").startswith("*"):
        raise TokenError(f"SMILES wildcard atom {token!r} has no element")
    match = _BRACKET_ATOM.match(token)
    if match is None:
        return None
    symbol = match.group(1).capitalize()
    if symbol not in _symbol_numbers():
        raise TokenError(f"SMILES token {token!r} names no element")
    return symbol


@cache
def _symbol_numbers() -> dict[str, int]:
    from ase.data import atomic_numbers

    return {symbol: z for symbol, z in atomic_numbers.items() if 1 <= z <= 118}


def _first_difference(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


# -- the shared layout ------------------------------------------------------------------


class _SlotTokenizer(Tokenizer):
    """Vocabulary and the bos / content / coord / slots / eos layout shared by both kinds.

    ``content_tokens`` follow the specials in id order; ``atomic_numbers`` (one per content
    token) gives Z for atom tokens and 0 for the others (bonds, branches, ring digits).
    """

    def __init__(self, content_tokens, atomic_numbers):
        self.tokens = (*SPECIAL_TOKENS, *content_tokens)
        self._ids = {token: i for i, token in enumerate(self.tokens)}
        if len(self._ids) != len(self.tokens):
            raise UsageError("the vocabulary holds a token twice (or a special token)")
        self._z_of_id = np.concatenate(
            [np.zeros(len(SPECIAL_TOKENS), np.int64), np.asarray(atomic_numbers, np.int64)]
        )

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def token_id(self, token: str) -> int:
        """Id of a token string; TokenError when it is not in the vocabulary."""
        if token not in self._ids:
            raise TokenError(
                f"token {token!r} is not in this {self.kind} vocabulary ({self.vocab_size} tokens)"
            )
        return self._ids[token]

    def token_name(self, token_id: int) -> str:
        if not 0 <= int(token_id) < self.vocab_size:
            raise TokenError(f"token id {int(token_id)} is outside the vocabulary (size {self.vocab_size})")
        return self.tokens[int(token_id)]

    def assemble(self, content_ids, slot_values: np.ndarray, source_index) -> SlotSequence:
        """<bos> content <coord> slots <eos> with the slot numbers in place (also: a sampler's
        output -> a sequence that ``decode`` reads)."""
        content_ids = np.asarray(content_ids, np.int64)
        num_slots = len(slot_values)
        ids = np.concatenate([[BOS], content_ids, [COORD], np.full(num_slots, MASK), [EOS]]).astype(np.int64)
        is_slot = ids == MASK
        values = np.zeros((len(ids), 3))
        values[is_slot] = slot_values
        return SlotSequence(ids, is_slot, values, np.asarray(source_index, np.int64))

    def _split(self, sequence: SlotSequence) -> tuple[np.ndarray, np.ndarray]:
        """Validate the layout (trailing <pad> allowed) -> content ids (C,), slot values (S, 3)."""
        ids = np.asarray(sequence.ids, np.int64)
        length = len(ids) - int(np.argmax(ids[::-1] != PAD)) if (ids != PAD).any() else 0
        ids, is_slot = ids[:length], np.asarray(sequence.is_slot, bool)[:length]
        coord = np.flatnonzero(ids == COORD)
        if length < 3 or ids[0] != BOS or ids[-1] != EOS or len(coord) != 1:
            raise TokenError("malformed sequence: expected <bos> tokens <coord> slots <eos>")
        content = ids[1 : coord[0]]
        if (content < len(SPECIAL_TOKENS)).any() or (content >= self.vocab_size).any():
            raise TokenError(
                f"malformed sequence: content token id {_first_bad(content, self.vocab_size)} before <coord>"
            )
        expected = np.zeros(length, bool)
        expected[coord[0] + 1 : -1] = True
        if not (np.array_equal(is_slot, expected) and (ids[expected] == MASK).all()):
            raise TokenError(
                "malformed sequence: every position between <coord> and <eos> must be a <mask> slot"
            )
        return content, np.asarray(sequence.values, np.float64)[:length][expected]

    def _prompt(self, content_ids, num_slots: int, source_index) -> SlotSequence:
        """The full layout with slot values 0: what a sampler fills in."""
        return self.assemble(content_ids, np.zeros((num_slots, 3)), source_index)


def _first_bad(content: np.ndarray, vocab_size: int) -> int:
    return int(content[(content < len(SPECIAL_TOKENS)) | (content >= vocab_size)][0])


# -- crystals ---------------------------------------------------------------------------


class CrystalSequenceTokenizer(_SlotTokenizer):
    """Crystal <-> SlotSequence, element tokens then 3 lattice slots and N coordinate slots.

    Args:
        elements: atomic numbers in the vocabulary, in id order (default 1..118).
        snap, decimals: the coordinate wrap of ``wrap_fractional`` (spec: 1e-4 and 6).
        coord_scale: factor on fractional coordinates in the slots (spec default 1).
        lattice_scale: factor on lattice rows in the slots (1 = raw Angstrom).
        group_order: ``appearance`` (UniGenX: element groups in order of first appearance in
            the input) or ``atomic_number`` (ascending Z: the sequence no longer depends on
            the order a file or a formula lists the elements in).
    """

    kind = "sequence_crystal"
    SETTINGS = {"elements", "snap", "decimals", "coord_scale", "lattice_scale", "group_order"}

    def __init__(
        self,
        elements=None,
        snap: float = 1e-4,
        decimals: int | None = 6,
        coord_scale: float = 1.0,
        lattice_scale: float = 1.0,
        group_order: str = "appearance",
    ):
        if group_order not in GROUP_ORDERS:
            raise UsageError(f"group_order {group_order!r} is not one of {', '.join(GROUP_ORDERS)}")
        self.group_order = group_order
        self.elements = check_elements(elements)
        symbols = {z: s for s, z in _symbol_numbers().items()}
        super().__init__([symbols[int(z)] for z in self.elements], self.elements)
        self.snap, self.decimals = float(snap), None if decimals is None else int(decimals)
        self.coord_scale = _positive(coord_scale, "coord_scale")
        self.lattice_scale = _positive(lattice_scale, "lattice_scale")
        self._id_of_z = np.full(119, -1, np.int64)
        self._id_of_z[self.elements] = np.arange(len(self.elements)) + len(SPECIAL_TOKENS)

    def state_dict(self) -> dict:
        return {
            "type": self.kind,
            "version": 1,
            "elements": [int(z) for z in self.elements],
            "snap": self.snap,
            "decimals": self.decimals,
            "coord_scale": self.coord_scale,
            "lattice_scale": self.lattice_scale,
            "group_order": self.group_order,
        }

    @classmethod
    def from_state_dict(cls, state: dict) -> "CrystalSequenceTokenizer":
        return cls(**check_state_keys(state, cls.kind, cls.SETTINGS))

    def element_ids(self, atomic_numbers) -> np.ndarray:
        """(N,) Z -> (N,) token ids; TokenError names elements outside the vocabulary."""
        z = np.asarray(atomic_numbers, np.int64)
        ids = np.where((z >= 1) & (z <= 118), self._id_of_z[np.clip(z, 0, 118)], -1)
        if (ids < 0).any():
            raise TokenError(
                f"element(s) Z={sorted(set(z[ids < 0].tolist()))} not in this tokenizer's vocabulary"
            )
        return ids

    def canonical(self, crystal: Crystal, translation=None) -> tuple[np.ndarray, np.ndarray]:
        """(order (N,), wrapped fractional coordinates (N, 3) in that order) as encode uses them.

        translation (3,) is the optional fractional shift augmentation, applied before the wrap.
        """
        frac = (
            crystal.frac_coords
            if translation is None
            else crystal.frac_coords + np.asarray(translation, np.float64)
        )
        frac = wrap_fractional(frac, self.snap, self.decimals)
        order = site_order(crystal.atomic_numbers, frac, self.group_order)
        return order, frac[order]

    def encode(self, crystal: Crystal, rotation=None, translation=None) -> SlotSequence:
        """Crystal -> SlotSequence. rotation (3, 3) turns the lattice rows (fractional
        coordinates unchanged); translation (3,) shifts fractional coordinates (then re-sorted)."""
        if not isinstance(crystal, Crystal) or crystal.num_atoms == 0:
            raise UsageError("the crystal sequence tokenizer takes a Crystal with at least one site")
        order, frac = self.canonical(crystal, translation)
        lattice = crystal.lattice if rotation is None else crystal.lattice @ check_rotations(rotation, 1)[0].T
        slots = np.concatenate([lattice * self.lattice_scale, frac * self.coord_scale])
        return self.assemble(self.element_ids(crystal.atomic_numbers[order]), slots, order)

    def decode(self, sequence: SlotSequence) -> Crystal:
        """SlotSequence -> Crystal; coordinates are wrapped into [0, 1) (a no-op on encoded ones)."""
        content, slots = self._split(sequence)
        if len(slots) != NUM_LATTICE_SLOTS + len(content):
            raise TokenError(
                f"malformed crystal sequence: {len(content)} elements need "
                f"{len(content) + NUM_LATTICE_SLOTS} slots, got {len(slots)}"
            )
        frac = slots[NUM_LATTICE_SLOTS:] / self.coord_scale
        return Crystal(
            self._z_of_id[content], frac - np.floor(frac), slots[:NUM_LATTICE_SLOTS] / self.lattice_scale
        )

    def prompt(self, atomic_numbers) -> SlotSequence:
        """CSP prompt for a composition: (N,) Z -> the full layout, elements in grouped order,
        slot values 0 (``source_index`` maps sequence sites to the given order)."""
        order = site_order(atomic_numbers, group_order=self.group_order)
        ids = self.element_ids(np.asarray(atomic_numbers)[order])
        return self._prompt(ids, NUM_LATTICE_SLOTS + len(ids), order)


def _positive(value: float, name: str) -> float:
    if not float(value) > 0:
        raise UsageError(f"{name} must be positive, got {value!r}")
    return float(value)


# -- molecules --------------------------------------------------------------------------


class MoleculeSequenceTokenizer(_SlotTokenizer):
    """Molecule3D (with ``meta["smiles"]``) <-> SlotSequence: SMILES tokens, then one
    Cartesian slot per atom token.

    Args:
        tokens: SMILES tokens in id order (default ``DEFAULT_SMILES_TOKENS``); build one
            from a corpus with ``fit``.
        coord_scale: factor on positions in the slots (1 = raw Angstrom).
    """

    kind = "sequence_molecule"
    SETTINGS = {"tokens", "coord_scale"}

    def __init__(self, tokens=None, coord_scale: float = 1.0):
        tokens = list(DEFAULT_SMILES_TOKENS if tokens is None else tokens)
        bad = [t for t in tokens if not isinstance(t, str) or SMILES_PATTERN.fullmatch(t) is None]
        if bad:
            raise UsageError(f"not single SMILES tokens: {bad[:5]}")
        symbols = _symbol_numbers()
        super().__init__(tokens, [symbols.get(smiles_element(t), 0) for t in tokens])
        self.coord_scale = _positive(coord_scale, "coord_scale")

    @classmethod
    def fit(cls, smiles, coord_scale: float = 1.0) -> "MoleculeSequenceTokenizer":
        """Vocabulary = the default tokens plus every other token of ``smiles`` (sorted)."""
        seen = {token for s in smiles for token in tokenize_smiles(s)}
        return cls([*DEFAULT_SMILES_TOKENS, *sorted(seen - set(DEFAULT_SMILES_TOKENS))], coord_scale)

    def state_dict(self) -> dict:
        return {
            "type": self.kind,
            "version": 1,
            "tokens": list(self.tokens[len(SPECIAL_TOKENS) :]),
            "coord_scale": self.coord_scale,
        }

    @classmethod
    def from_state_dict(cls, state: dict) -> "MoleculeSequenceTokenizer":
        return cls(**check_state_keys(state, cls.kind, cls.SETTINGS))

    def smiles_ids(self, smiles: str) -> np.ndarray:
        """SMILES -> (C,) token ids; TokenError names the first unknown token."""
        tokens = tokenize_smiles(smiles)
        unknown = [t for t in tokens if t not in self._ids]
        if unknown:
            raise TokenError(
                f"SMILES {smiles!r}: token {unknown[0]!r} is not in the vocabulary "
                "(use MoleculeSequenceTokenizer.fit)"
            )
        return np.array([self._ids[t] for t in tokens], np.int64)

    def encode(self, molecule: Molecule3D, rotation=None) -> SlotSequence:
        """Molecule3D -> SlotSequence; rotation (3, 3) turns the positions about the origin."""
        if not isinstance(molecule, Molecule3D) or "smiles" not in molecule.meta:
            raise UsageError("the molecule sequence tokenizer takes a Molecule3D with meta['smiles']")
        ids = self.smiles_ids(molecule.meta["smiles"])
        self._check_atoms(ids, molecule)
        positions = (
            molecule.positions if rotation is None else molecule.positions @ check_rotations(rotation, 1)[0].T
        )
        return self.assemble(ids, positions * self.coord_scale, np.arange(molecule.num_atoms))

    def _check_atoms(self, ids: np.ndarray, molecule: Molecule3D) -> None:
        z = self._z_of_id[ids]
        z = z[z > 0]
        if not np.array_equal(z, molecule.atomic_numbers):
            raise TokenError(
                f"SMILES {molecule.meta['smiles']!r} has atoms Z={z.tolist()} but the molecule has "
                f"{molecule.atomic_numbers.tolist()}: write every atom (H too) in position order"
            )

    def decode(self, sequence: SlotSequence) -> Molecule3D:
        """SlotSequence -> Molecule3D with ``meta["smiles"]``."""
        content, slots = self._split(sequence)
        z = self._z_of_id[content]
        if len(slots) != int((z > 0).sum()):
            raise TokenError(
                f"malformed molecule sequence: {int((z > 0).sum())} atom tokens but {len(slots)} slots"
            )
        smiles = "".join(self.tokens[i] for i in content)
        return Molecule3D(z[z > 0], slots / self.coord_scale, meta={"smiles": smiles})

    def prompt(self, smiles: str) -> SlotSequence:
        """Structure-from-sequence prompt: the SMILES tokens and one zero slot per atom token."""
        ids = self.smiles_ids(smiles)
        atoms = int((self._z_of_id[ids] > 0).sum())
        return self._prompt(ids, atoms, np.arange(atoms))
