"""Uni-3DAR's octree tokenizer: sparse 3D space as a coarse-to-fine token sequence.

Space
    A cube of ``2**levels`` finest cells per side, each ``grid_len`` Å wide (0.24 Å; levels 6
    for QM9-size molecules = 15.36 Å, 7 for drug-size, 8 for MP-20-size crystals = 61.44 Å).
    Positions are quantised to ``resolution`` (0.01 Å): an atom at box-frame position x gets
    the integer q = rint(x / resolution); its finest cell is q // B and its in-cell *fine
    bin* is q % B per axis, with B = grid_len / resolution (24). The decoded position
    q * resolution is therefore within resolution / 2 of the input, and an atom on a cell
    boundary belongs to the upper cell with fine bin 0.
    Molecules are centred on their mean position (the box centre), optionally rotated and
    translated first (``encode(..., rotation=, translation=)``; ``random_rotation``).

Octree and 2-level subtree compression
    Level ``levels`` is the root (the whole box), level 1 the parents of finest cells, level
    0 the finest cells. Every occupied node at levels ``levels..1`` is one token whose id
    encodes the 8-bit occupancy of its 8 children (255 classes; empty cannot occur). Child
    number j = dx + 2 dy + 4 dz is bit j (x lowest), as in Uni-3DAR. Tokens go level by level,
    coarse to fine, in Morton (z-) order within a level, which equals "children follow their
    parent's order, then their child number". Each occupied finest cell then gives one *leaf*
    token (the atom type) with its 3 fine bins, then an ``[END]`` token closes the tree.
    Without compression an octree would need 8 binary child tokens per non-leaf node
    (``uncompressed_length``); one occupancy token replaces them, up to 8x fewer tokens.
    Two atoms in one finest cell (closer than 0.42 Å at 0.24 Å cells, which no real
    molecule or crystal has) are refused with an error naming both atoms.

Crystals: labelled lattice-corner pseudo-atoms in their own tree
    As in Uni-3DAR the unit cell is drawn in Cartesian space, centred in the box, and its 8
    corners form a first octree (tree 0) before the atom octree (tree 1); the two trees are
    separate so an atom at a cell corner never collides with a corner. Two changes make the
    lattice exactly recoverable (within 1e-3 Å, row order and signs included):
    * each corner has its own type ``[LAT_ijk]`` (corner o + i a + j b + k c; Uni-3DAR uses
      one ``[LATTICE_O]`` type and must guess which corner is which, so it cannot return the
      input's row order or handedness);
    * corner fine bins use ``lattice_resolution`` (0.001 Å, 240 bins per cell axis), and the
      corners are built from the *quantised* origin and lattice vectors, so every corner sits
      exactly on that grid: the decoder's least-squares parallelepiped fit returns the
      quantised lattice exactly, within lattice_resolution / 2 (5e-4 Å) of the input.
    Why corners and not numeric lattice side-values: the corner tree uses the same token
    kinds, heads and sampler as the atom tree (an AR model already generates it), and the
    3D rotary positions let atoms attend to the cell geometry. Atoms are placed at
    origin + frac @ lattice_q, quantised to ``resolution``; decoding maps them back to
    fractional coordinates with the decoded lattice.

Vocabulary (``ids``), fixed layout:
    0 [PAD]  1 [MASK]  2 [END]  3 [NULL] (an empty leaf a sampler may emit)
    4..11    [LAT_ijk] corner tokens, id = 4 + (i + 2 j + 4 k)
    12..266  occupancy tokens [TREE_p], id = 11 + p, p = 1..255 (class = p - 1)
    267..    atom types, id = 267 + index of Z in ``elements`` (default Z = 1..118)
Fine bins (``fine``, a separate small vocabulary of ``fine_vocab_size`` entries): 0..B-1 on
atom leaves, 0..B_lattice-1 on corner leaves, ``null_bin`` (= max(B, B_lattice)) elsewhere.
Levels: ``levels``..1 tree tokens, 0 leaves, -1 [END].

Usage
    >>> tok = OctreeTokenizer(levels=6)                  # QM9; levels=8 for MP-20
    >>> seq = tok.encode(molecule)                       # OctreeSequence (ids, level, centre, fine, ...)
    >>> tok.decode(seq)                                  # Molecule3D, positions within 0.005 Å
    >>> tok.interleave_masks(seq)                        # Uni-3DAR's [MASK]-then-token layout
    >>> tok.encode_batch(molecules, rotations=...)       # vectorised over many structures
    >>> OctreeTokenizer.from_state_dict(tok.state_dict())  # JSON state for checkpoint cards
The token sequence does not depend on the order of the input atoms (leaves follow the Morton
order of their cells, and a cell holds one atom). ``source_index`` maps leaves back to inputs.

Differences from Uni-3DAR (``dptech-corp/Uni-3DAR``), each deliberate
    * two atoms in one finest cell are an error here; Uni-3DAR silently keeps one;
    * 8 labelled corner types instead of one ``[LATTICE_O]`` and a 0.001 Å corner grid (above);
    * the "null" fine bin is its own index (Uni-3DAR reuses the middle bin 12);
    * random translation jitter, integer cell shifts, tree-node dropout and crystal counters
      are training-time choices of the model, not of the tokenizer (``translation=`` and
      ``rotation=`` are the hooks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unigen.errors import UnigenError, UsageError
from unigen.structures import Crystal, Molecule3D
from unigen.tokenizers.base import Tokenizer, check_elements, check_rotations, check_state_keys

PAD, MASK, END, NULL = 0, 1, 2, 3
CORNER_OFFSET = 4  # [LAT_ijk] = 4 + (i + 2j + 4k)
TREE_OFFSET = 11  # [TREE_p] = 11 + p, p in 1..255
ATOM_OFFSET = 267
IGNORE = -100  # target value where no loss is taken (torch cross-entropy's ignore_index)

KIND_TREE, KIND_ATOM, KIND_CORNER, KIND_END = 0, 1, 2, 3

# child number j -> (dx, dy, dz); also corner label -> (i, j, k) coefficients of (a, b, c)
CHILD_OFFSETS = np.array([[j & 1, (j >> 1) & 1, (j >> 2) & 1] for j in range(8)], np.int64)
PACKED_SHIFTS = np.array([0, 16, 32], np.int64)  # cell coordinates packed in one int64
PACKED_CHILD_OFFSETS = (CHILD_OFFSETS << PACKED_SHIFTS).sum(axis=1)
# pattern -> which of the 8 children are occupied
PATTERN_BITS = ((np.arange(256)[:, None] >> np.arange(8)) & 1).astype(bool)
# least-squares fit of corner positions P[label] = o + i a + j b + k c  ->  (o, a, b, c)
CORNER_FIT = np.linalg.pinv(np.hstack([np.ones((8, 1)), CHILD_OFFSETS]).astype(np.float64))
# token id -> occupied children; all False for ids that are not occupancy tokens (the last
# row also stands for every id above, via np.take(mode="clip"))
TOKEN_CHILDREN = np.zeros((ATOM_OFFSET + 1, 8), bool)
TOKEN_CHILDREN[TREE_OFFSET + 1 : ATOM_OFFSET] = PATTERN_BITS[1:]
MAX_LEVELS = 16  # Morton codes need 3 * levels bits of an int64, packed cells 16 bits per axis


@dataclass
class OctreeSequence:
    """One structure as octree tokens (T tokens, N atoms).

    ids           (T,)   int64   token ids (layout in the module docstring)
    level         (T,)   int64   levels..1 tree tokens, 0 leaves, -1 [END]
    centre        (T, 3) float64 centre of the token's cell in the box frame (Å, box corner
                                 at 0); the box centre for [END]
    fine          (T, 3) int64   in-cell fine bins of leaves; ``null_bin`` elsewhere
    kind          (T,)   int8    KIND_TREE / KIND_ATOM / KIND_CORNER / KIND_END
    tree          (T,)   int8    0 for a molecule's atoms or a crystal's lattice corners,
                                 1 for a crystal's atoms
    origin        (3,)   float64 molecule centroid subtracted at encoding, added back by
                                 ``decode`` (zeros for crystals and for generated sequences)
    source_index  (N,)   int64   input index of each atom leaf, in leaf order (not a token:
                                 lets per-atom data follow the Morton order)
    """

    ids: np.ndarray
    level: np.ndarray
    centre: np.ndarray
    fine: np.ndarray
    kind: np.ndarray
    tree: np.ndarray
    origin: np.ndarray
    source_index: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def periodic(self) -> bool:
        return bool(np.any(self.kind == KIND_CORNER))

    def same_tokens(self, other: "OctreeSequence") -> bool:
        """True when both hold the same tokens (ids, fine bins, levels, cells, trees)."""
        fields = ("ids", "level", "centre", "fine", "kind", "tree")
        return all(np.array_equal(getattr(self, f), getattr(other, f)) for f in fields)


@dataclass
class MaskedSequence:
    """Uni-3DAR's masked next-token prediction layout: a [MASK] before every token (2T).

    The [MASK] sits at the position and level of the token that follows it but carries no
    content; the model predicts the content at the [MASK] (``target_*``), so it always knows
    *where* the next token is.

    ids          (2T,)   int64   MASK at even positions, the real token at odd ones
    level        (2T,)   int64   the real token's level, on both
    kind         (2T,)   int8    the real token's kind, on both
    tree         (2T,)   int8
    fine         (2T, 3) int64   null bin on masks, the real fine bins on real tokens
    position     (2T, 3) float64 3D rotary position (Å, box frame): the cell centre, except
                                 real leaves, which sit at their exact quantised position
    is_mask      (2T,)   bool
    target_ids   (2T,)   int64   at masks of tree and leaf tokens: the real id; IGNORE elsewhere
    target_fine  (2T, 3) int64   at masks of leaves: the real fine bins; IGNORE elsewhere
    """

    ids: np.ndarray
    level: np.ndarray
    kind: np.ndarray
    tree: np.ndarray
    fine: np.ndarray
    position: np.ndarray
    is_mask: np.ndarray
    target_ids: np.ndarray
    target_fine: np.ndarray


@dataclass
class _Points:
    """The points of many trees, for one batched octree build (P points, G trees, S structures).

    tree                 (P,)    tree index in 0..G-1; a structure's trees are consecutive
    cells, fine          (P, 3)  finest cell and in-cell bins
    leaf_ids             (P,)    the leaf token of each point (atom type or corner label)
    kind                 (P,)    KIND_ATOM or KIND_CORNER
    local_index          (P,)    index of an atom in its structure; -1 for corners
    trees_per_structure  (S,)    1 (molecule) or 2 (crystal)
    origin               (S, 3)  what decode adds back (molecule centroids)
    positions            (P, 3)  input Cartesian positions (for error messages)
    owner                (P,)    index of the point's structure in the caller's batch
    """

    tree: np.ndarray
    cells: np.ndarray
    fine: np.ndarray
    leaf_ids: np.ndarray
    kind: np.ndarray
    local_index: np.ndarray
    trees_per_structure: np.ndarray
    origin: np.ndarray
    positions: np.ndarray
    owner: np.ndarray


@dataclass
class _Leaves:
    """Leaves of replayed trees, grouped by tree: owner (n,), coords (n, 3) finest cells,
    ids (n,), fine (n, 3); next (S,) is the index after each tree's [END]."""

    owner: np.ndarray
    coords: np.ndarray
    ids: np.ndarray
    fine: np.ndarray
    next: np.ndarray

    def select(self, mask: np.ndarray) -> "_Leaves":
        return _Leaves(self.owner[mask], self.coords[mask], self.ids[mask], self.fine[mask], self.next)


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random proper rotation (3, 3), from a random unit quaternion."""
    quaternion = rng.normal(size=4)
    w, x, y, z = quaternion / np.linalg.norm(quaternion)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _bins_per_cell(grid_len: float, resolution: float, name: str) -> int:
    ratio = grid_len / resolution
    bins = int(round(ratio))
    if resolution <= 0 or bins < 1 or abs(ratio - bins) > 1e-6 * ratio:
        raise UsageError(f"grid_len {grid_len} must be a whole multiple of {name} {resolution}")
    return bins


def _spread_table(levels: int) -> np.ndarray:
    """spread[v] puts bit b of v at bit 3b (for Morton interleaving by table look-up)."""
    values = np.arange(2**levels, dtype=np.int64)
    out = np.zeros_like(values)
    for bit in range(levels):
        out |= ((values >> bit) & 1) << (3 * bit)
    return out


class OctreeTokenizer(Tokenizer):
    """Molecule3D / Crystal <-> OctreeSequence, exact to half a quantisation step.

    Args:
        levels: octree depth L; the box has 2**L finest cells per side.
        grid_len: finest cell edge in Å.
        resolution: atom fine-position step in Å (grid_len must be a multiple of it).
        lattice_resolution: corner fine-position step in Å for crystals.
        elements: atomic numbers in the vocabulary, in id order (default 1..118).
    """

    kind = "octree"
    SETTINGS = {"levels", "grid_len", "resolution", "lattice_resolution", "elements"}

    def __init__(
        self,
        levels: int = 6,
        grid_len: float = 0.24,
        resolution: float = 0.01,
        lattice_resolution: float = 0.001,
        elements=None,
    ):
        if not isinstance(levels, (int, np.integer)) or not 1 <= levels <= MAX_LEVELS:
            raise UsageError(f"levels must be an integer from 1 to {MAX_LEVELS}, got {levels!r}")
        self.levels, self.grid_len = int(levels), float(grid_len)
        self.resolution, self.lattice_resolution = float(resolution), float(lattice_resolution)
        self.bins = _bins_per_cell(self.grid_len, self.resolution, "resolution")
        self.lattice_bins = _bins_per_cell(self.grid_len, self.lattice_resolution, "lattice_resolution")
        self.elements = check_elements(elements)
        self._element_index = np.full(120, -1, np.int64)
        self._element_index[self.elements] = np.arange(len(self.elements))
        self._spread = _spread_table(self.levels)
        self._level_desc = np.arange(self.levels, 0, -1)
        self._level_shifts = 3 * self._level_desc
        self._box_centre = np.full((1, 3), self.box_length / 2)
        self._null_fine = np.full((1, 3), self.null_bin)

    # -- vocabulary -------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return ATOM_OFFSET + len(self.elements)

    @property
    def null_bin(self) -> int:
        return max(self.bins, self.lattice_bins)

    @property
    def fine_vocab_size(self) -> int:
        return self.null_bin + 1

    @property
    def box_length(self) -> float:
        """Edge of the cubic box in Å."""
        return 2**self.levels * self.grid_len

    def atom_id(self, atomic_number: int) -> int:
        """Token id of an element (UnigenError if it is not in the vocabulary)."""
        return int(self._type_ids(np.array([atomic_number]))[0])

    def token_name(self, token_id: int) -> str:
        """Readable name of a token id, e.g. '[TREE_19]', '[LAT_101]', 'C'."""
        token_id = int(token_id)
        if token_id < CORNER_OFFSET:
            return ("[PAD]", "[MASK]", "[END]", "[NULL]")[token_id]
        if token_id < TREE_OFFSET + 1:
            i, j, k = CHILD_OFFSETS[token_id - CORNER_OFFSET]
            return f"[LAT_{i}{j}{k}]"
        if token_id < ATOM_OFFSET:
            return f"[TREE_{token_id - TREE_OFFSET}]"
        if token_id < self.vocab_size:
            from ase.data import chemical_symbols

            return chemical_symbols[int(self.elements[token_id - ATOM_OFFSET])]
        raise UnigenError(f"token id {token_id} is outside the vocabulary (size {self.vocab_size})")

    # -- state ------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "type": self.kind,
            "version": 1,
            "levels": self.levels,
            "grid_len": self.grid_len,
            "resolution": self.resolution,
            "lattice_resolution": self.lattice_resolution,
            "elements": [int(z) for z in self.elements],
        }

    @classmethod
    def from_state_dict(cls, state: dict) -> "OctreeTokenizer":
        return cls(**check_state_keys(state, cls.kind, cls.SETTINGS))

    # -- encoding ---------------------------------------------------------------------
    def encode(self, structure, rotation=None, translation=None) -> OctreeSequence:
        """Molecule3D or Crystal -> OctreeSequence.

        rotation (3, 3) and translation (3,) Å are optional augmentations, applied after
        centring (molecules: to the positions; crystals: rotation to the lattice rows,
        translation to the cell's place in the box). ``decode`` returns the augmented
        structure.
        """
        rotations = None if rotation is None else [rotation]
        translations = None if translation is None else [translation]
        return self.encode_batch([structure], rotations, translations)[0]

    def encode_batch(
        self, structures, rotations=None, translations=None, chunk: int = 4096
    ) -> list[OctreeSequence]:
        """Many structures at once, vectorised over all their atoms; the same result as
        ``encode`` on each. rotations (B, 3, 3) and translations (B, 3) are optional
        per-structure augmentations. Errors name the structure's index in the batch."""
        structures = list(structures)
        count = len(structures)
        rotations = check_rotations(rotations, count)
        translations = (
            np.zeros((count, 3))
            if translations is None
            else np.asarray(translations, np.float64).reshape(count, 3)
        )
        self._check_structures(structures)
        sequences = [None] * count
        for kind, points_of in ((Molecule3D, self._molecule_points), (Crystal, self._crystal_points)):
            indices = np.flatnonzero([isinstance(s, kind) for s in structures])
            for first in range(0, len(indices), chunk):  # chunks bound the (levels, atoms) work arrays
                part = indices[first : first + chunk]
                points = points_of(
                    [structures[k] for k in part],
                    None if rotations is None else rotations[part],
                    translations[part],
                    part,
                    count,
                )
                for k, sequence in zip(part, self._build_sequences(points, count)):
                    sequences[k] = sequence
        return sequences

    def _check_structures(self, structures) -> None:
        for index, structure in enumerate(structures):
            if not isinstance(structure, (Molecule3D, Crystal)):
                raise UsageError(
                    f"the octree tokenizer takes Molecule3D or Crystal, not {type(structure).__name__}"
                )
            if structure.num_atoms == 0:
                raise UnigenError(
                    f"{_which(index, len(structures))}cannot tokenize a structure without atoms"
                )

    def _half(self, bins: int) -> int:
        """The box centre in integer units of a resolution with ``bins`` per cell."""
        return 2 ** (self.levels - 1) * bins

    def _molecule_points(self, molecules, rotations, translations, owners, count) -> _Points:
        """Molecules -> one tree of atom points each, centred on their mean position."""
        counts = np.array([m.num_atoms for m in molecules])
        starts = _exclusive_cumsum(counts)
        positions = np.concatenate([m.positions for m in molecules])
        tree = np.repeat(np.arange(len(molecules)), counts)
        origin = np.add.reduceat(positions, starts) / counts[:, None]
        centred = positions - origin[tree]
        if rotations is not None:
            centred = np.einsum("pij,pj->pi", rotations[tree], centred)
        centred += translations[tree]
        q = np.rint(centred / self.resolution).astype(np.int64) + self._half(self.bins)
        owner = owners[tree]
        self._check_inside(q, self.bins, centred, owner, count)
        cells, fine = np.divmod(q, self.bins)
        type_ids = self._type_ids(np.concatenate([m.atomic_numbers for m in molecules]), owner, count)
        return _Points(
            tree,
            cells,
            fine,
            type_ids,
            np.full(len(q), KIND_ATOM, np.int8),
            np.arange(len(q)) - starts[tree],
            np.ones(len(molecules), np.int64),
            origin,
            positions,
            owner,
        )

    def _crystal_points(self, crystals, rotations, translations, owners, count) -> _Points:
        """Crystals -> two trees each: the 8 labelled lattice corners, then the atoms."""
        parts = [
            self._one_crystal_points(
                c, None if rotations is None else rotations[k], translations[k], owners[k], count
            )
            for k, c in enumerate(crystals)
        ]
        trees = [
            np.full(len(cells), 2 * k + sub)
            for k, part in enumerate(parts)
            for sub, (cells, *_) in enumerate(part)
        ]
        columns = list(zip(*[group for part in parts for group in part]))
        cells, fine, ids, kind, local, positions, owner = (np.concatenate(c) for c in columns)
        return _Points(
            np.concatenate(trees),
            cells,
            fine,
            ids,
            kind,
            local,
            np.full(len(crystals), 2),
            np.zeros((len(crystals), 3)),
            positions,
            owner,
        )

    def _one_crystal_points(self, crystal: Crystal, rotation, translation, owner: int, count: int):
        """(corner group, atom group), each (cells, fine, ids, kind, local index, positions, owner)."""
        lattice = crystal.lattice if rotation is None else crystal.lattice @ rotation.T
        lattice_q = np.rint(lattice / self.lattice_resolution).astype(np.int64)  # lattice units
        if abs(np.linalg.det(lattice_q.astype(np.float64))) < 1e-9:
            raise UnigenError(f"{_which(owner, count)}the lattice is singular at lattice_resolution")
        half = self._half(self.lattice_bins)
        shift = np.rint(translation / self.lattice_resolution).astype(np.int64)
        origin_q = half - lattice_q.sum(axis=0) // 2 + shift  # cell centre at the box centre
        corners = origin_q + CHILD_OFFSETS @ lattice_q
        owners = np.full(8, owner)
        self._check_inside(
            corners, self.lattice_bins, (corners - half) * self.lattice_resolution, owners, count
        )
        frac = np.mod(crystal.frac_coords, 1.0)
        q = np.rint((origin_q + frac @ lattice_q) * (self.lattice_resolution / self.resolution)).astype(
            np.int64
        )
        n = crystal.num_atoms
        self._check_inside(
            q, self.bins, (q - self._half(self.bins)) * self.resolution, np.full(n, owner), count
        )
        corner_cells, corner_fine = np.divmod(corners, self.lattice_bins)
        atom_cells, atom_fine = np.divmod(q, self.bins)
        corner_group = (
            corner_cells,
            corner_fine,
            CORNER_OFFSET + np.arange(8),
            np.full(8, KIND_CORNER, np.int8),
            np.full(8, -1),
            corners * self.lattice_resolution,
            owners,
        )
        atom_group = (
            atom_cells,
            atom_fine,
            self._type_ids(crystal.atomic_numbers, np.full(n, owner), count),
            np.full(n, KIND_ATOM, np.int8),
            np.arange(n),
            crystal.cart_coords,
            np.full(n, owner),
        )
        return corner_group, atom_group

    def _type_ids(self, atomic_numbers: np.ndarray, owner=None, count: int = 1) -> np.ndarray:
        z = np.asarray(atomic_numbers)
        index = np.take(self._element_index, z, mode="clip")  # -1 at both ends: Z <= 0, Z >= 119
        if (index < 0).any():
            bad = sorted({int(v) for v in z[index < 0]})
            where = "" if owner is None else _which(owner[np.argmax(index < 0)], count)
            raise UnigenError(f"{where}element(s) Z={bad} not in this tokenizer's vocabulary")
        return ATOM_OFFSET + index

    def _check_inside(
        self, q: np.ndarray, bins: int, centred: np.ndarray, owner: np.ndarray, count: int
    ) -> None:
        """Refuse points outside the box; ``centred`` (Å from the box centre) is for the message."""
        if q.min() >= 0 and q.max() < 2**self.levels * bins:
            return
        first = owner[np.argmax(((q < 0) | (q >= 2**self.levels * bins)).any(axis=1))]
        reach = float(np.abs(centred[owner == first]).max())
        raise UnigenError(
            f"{_which(first, count)}structure reaches {reach:.2f} Å from the box centre but the box "
            f"(levels={self.levels}, grid_len={self.grid_len} Å) spans only ±{self.box_length / 2:.2f} Å; use more levels"
        )

    def _build_sequences(self, points: _Points, count: int) -> list[OctreeSequence]:
        """Points of many trees -> one OctreeSequence per structure.

        Per tree: occupancy tokens level by level (Morton order within a level), one leaf
        per point in Morton order, then [END]; a structure's trees follow each other.
        """
        spread, cells = self._spread, points.cells
        morton = spread[cells[:, 0]] | (spread[cells[:, 1]] << 1) | (spread[cells[:, 2]] << 2)
        order = np.lexsort((morton, points.tree))
        morton, tree, cells = morton[order], points.tree[order], cells[order]
        shared = (morton[1:] == morton[:-1]) & (tree[1:] == tree[:-1])
        if shared.any():
            self._shared_cell_error(order[np.argmax(shared)], order[np.argmax(shared) + 1], points, count)
        node_tree, node_ids, node_level, node_centre = self._occupancy_tokens(morton, tree, cells)
        n_trees = int(points.trees_per_structure.sum())
        node_count = np.bincount(node_tree, minlength=n_trees)
        leaf_count = np.bincount(tree, minlength=n_trees)
        token_count = node_count + leaf_count + 1
        tree_start = _exclusive_cumsum(token_count)
        node_pos = (
            tree_start[node_tree] + np.arange(len(node_tree)) - _exclusive_cumsum(node_count)[node_tree]
        )
        leaf_pos = (
            tree_start[tree] + node_count[tree] + np.arange(len(tree)) - _exclusive_cumsum(leaf_count)[tree]
        )
        end_pos = tree_start + node_count + leaf_count
        total = int(token_count.sum())
        ids, level = np.empty(total, np.int64), np.empty(total, np.int64)
        centre, fine = np.empty((total, 3)), np.full((total, 3), self.null_bin, np.int64)
        kind = np.empty(total, np.int8)
        ids[node_pos], level[node_pos], centre[node_pos], kind[node_pos] = (
            node_ids,
            node_level,
            node_centre,
            KIND_TREE,
        )
        ids[leaf_pos], level[leaf_pos], kind[leaf_pos] = points.leaf_ids[order], 0, points.kind[order]
        centre[leaf_pos], fine[leaf_pos] = (cells + 0.5) * self.grid_len, points.fine[order]
        ids[end_pos], level[end_pos], centre[end_pos], kind[end_pos] = END, -1, self.box_length / 2, KIND_END
        return self._split_sequences(points, order, (ids, level, centre, fine, kind), token_count)

    def _split_sequences(self, points: _Points, order, columns, token_count) -> list[OctreeSequence]:
        """Cut the concatenated token columns into one OctreeSequence per structure."""
        per_structure = points.trees_per_structure
        first_tree = _exclusive_cumsum(per_structure)
        tree_in_structure = np.arange(len(token_count)) - np.repeat(first_tree, per_structure)
        tree_column = np.repeat(tree_in_structure.astype(np.int8), token_count)
        cuts = _exclusive_cumsum(token_count)[first_tree[1:]]
        pieces = [_split(column, cuts) for column in (*columns, tree_column)]
        atoms = points.kind[order] == KIND_ATOM
        structure_of_tree = np.repeat(np.arange(len(per_structure)), per_structure)
        atom_owner = structure_of_tree[points.tree[order][atoms]]
        atom_cuts = np.cumsum(np.bincount(atom_owner, minlength=len(per_structure)))[:-1]
        sources = _split(points.local_index[order][atoms], atom_cuts)
        return [
            OctreeSequence(*(p[k] for p in pieces[:5]), pieces[5][k], points.origin[k], sources[k])
            for k in range(len(per_structure))
        ]

    def _occupancy_tokens(self, morton: np.ndarray, tree: np.ndarray, cells: np.ndarray):
        """Finest cells sorted by (tree, Morton code) -> the occupancy tokens of levels L..1 of
        every tree: tree (M,), ids (M,), levels (M,), centres (M, 3), each tree's tokens
        together, root first, Morton order within a level.

        All levels at once: row r of the (L, N) key matrix groups the cells by their
        ancestor at level L - r; a node starts where the key (or the tree) changes, and its
        pattern is the OR over its cells of 1 << (child number of the cell's ancestor one
        level down).
        """
        shifts = self._level_shifts[:, None]  # 3 * level, levels L..1
        keys = morton >> shifts
        first = np.ones(keys.shape, bool)
        first[:, 1:] = (keys[:, 1:] != keys[:, :-1]) | (tree[1:] != tree[:-1])
        row, col = first.nonzero()  # row-major: coarse levels first, Morton order within
        child_bits = np.left_shift(1, (morton >> (shifts - 3)) & 7)
        pattern = np.bitwise_or.reduceat(child_bits.ravel(), row * len(morton) + col)
        by_tree = np.argsort(tree[col], kind="stable")
        row, col, pattern = row[by_tree], col[by_tree], pattern[by_tree]
        level = self._level_desc[row]
        centre = ((cells[col] >> level[:, None]) + 0.5) * (self.grid_len * np.left_shift(1, level))[:, None]
        return tree[col], TREE_OFFSET + pattern, level, centre

    def _shared_cell_error(self, i: int, j: int, points: _Points, count: int) -> None:
        i, j = sorted((int(i), int(j)))
        distance = np.linalg.norm(points.positions[i] - points.positions[j])
        if points.kind[i] == KIND_CORNER:
            raise UnigenError(
                f"{_which(points.owner[i], count)}two lattice corners fall in the same {self.grid_len} Å cell "
                f"({distance:.3f} Å apart): a lattice vector is shorter than a finest cell"
            )
        raise UnigenError(
            f"{_which(points.owner[i], count)}atoms {points.local_index[i]} and {points.local_index[j]} fall in the "
            f"same {self.grid_len} Å cell ({distance:.3f} Å apart); the octree holds one atom per finest cell: "
            f"use a smaller grid_len"
        )

    # -- decoding ---------------------------------------------------------------------
    def decode(self, sequence: OctreeSequence):
        """OctreeSequence -> Molecule3D (one tree) or Crystal (corner tree + atom tree).

        Only ``ids``, ``fine`` and ``origin`` are read: the cells are rebuilt by replaying the
        occupancy tokens, so a generated sequence decodes the same way as an encoded one.
        [NULL] leaves are dropped. Raises UnigenError on a malformed sequence.
        """
        return self.decode_batch([sequence])[0]

    def decode_batch(self, sequences) -> list:
        """Many sequences at once (vectorised); errors name the sequence's index in the batch."""
        sequences = list(sequences)
        count = len(sequences)
        if not count:
            return []
        lengths = np.array([len(q.ids) for q in sequences], np.int64)
        if (lengths == 0).any():
            raise _malformed("empty sequence", _which(int(np.argmin(lengths)), count))
        ids = np.concatenate([np.asarray(q.ids, np.int64) for q in sequences])
        fine = np.concatenate([np.asarray(q.fine, np.int64).reshape(-1, 3) for q in sequences])
        starts = _exclusive_cumsum(lengths)
        ends = starts + lengths
        first = self._parse_trees(ids, fine, starts, ends, np.arange(count), count)
        is_corner = (first.ids >= CORNER_OFFSET) & (first.ids < CORNER_OFFSET + 8)
        periodic = np.bincount(first.owner[is_corner], minlength=count) > 0
        second = None
        if periodic.any():
            crystal_index = np.flatnonzero(periodic)
            second = self._parse_trees(ids, fine, first.next[periodic], ends[periodic], crystal_index, count)
            second.owner = crystal_index[second.owner]
            self._check_consumed(second.next, ends[periodic], crystal_index, count)
        self._check_consumed(first.next[~periodic], ends[~periodic], np.flatnonzero(~periodic), count)
        decoded = self._molecules(first.select(~periodic[first.owner]), sequences, count)
        for k in np.flatnonzero(periodic):
            decoded[k] = self._crystal(
                first.select(first.owner == k), second.select(second.owner == k), k, count
            )
        return decoded

    def _parse_trees(self, ids, fine, starts, ends, labels, count) -> _Leaves:
        """Replay one tree per start position (all at once): -> its leaves, grouped by tree."""
        owner = np.arange(len(starts))
        packed = np.zeros(len(starts), np.int64)  # cell x | y << 16 | z << 32
        consumed = np.zeros(len(starts), np.int64)
        for level in range(self.levels, 0, -1):
            before = consumed
            pos, consumed = self._positions(owner, starts, consumed)
            tokens = ids[np.minimum(pos, len(ids) - 1)]
            bad = (pos >= ends[owner]) | (tokens <= TREE_OFFSET) | (tokens >= ATOM_OFFSET)
            if bad.any():
                tree = owner[np.argmax(bad)]
                raise _malformed(
                    f"expected {consumed[tree] - before[tree]} occupancy tokens at level {level}",
                    _which(labels[tree], count),
                )
            node, child = TOKEN_CHILDREN[tokens].nonzero()
            packed, owner = 2 * packed[node] + PACKED_CHILD_OFFSETS[child], owner[node]
        before = consumed
        pos, consumed = self._positions(owner, starts, consumed)
        end = starts + consumed
        bad = (end >= ends) | (ids[np.minimum(end, len(ids) - 1)] != END)
        if bad.any():
            tree = np.argmax(bad)
            raise _malformed(
                f"expected {consumed[tree] - before[tree]} leaf tokens then [END] after the occupancy tokens",
                _which(labels[tree], count),
            )
        leaf_ids = ids[pos]
        not_leaf = (
            (leaf_ids < NULL)
            | (leaf_ids >= self.vocab_size)
            | ((leaf_ids > TREE_OFFSET) & (leaf_ids < ATOM_OFFSET))
        )
        if not_leaf.any():
            raise _malformed(
                "a leaf token is not an atom or corner type",
                _which(labels[owner[np.argmax(not_leaf)]], count),
            )
        coords = (packed[:, None] >> PACKED_SHIFTS) & 0xFFFF
        return _Leaves(owner, coords, leaf_ids, fine[pos], end + 1)

    @staticmethod
    def _positions(owner, starts, consumed):
        """Token positions of the nodes (grouped by tree) at the current level, and the
        tokens consumed per tree after reading them."""
        counts = np.bincount(owner, minlength=len(starts))
        pos = starts[owner] + consumed[owner] + np.arange(len(owner)) - _exclusive_cumsum(counts)[owner]
        return pos, consumed + counts

    @staticmethod
    def _check_consumed(next_start, ends, labels, count) -> None:
        extra = next_start != ends
        if extra.any():
            k = np.argmax(extra)
            raise _malformed(
                f"{ends[k] - next_start[k]} tokens after the last tree's [END]", _which(labels[k], count)
            )

    def _molecules(self, leaves: _Leaves, sequences, count) -> list:
        """Leaves of molecule trees -> Molecule3D per owner (None for the other owners)."""
        leaves = leaves.select(leaves.ids != NULL)
        bad = (leaves.ids < ATOM_OFFSET) | ((leaves.fine < 0) | (leaves.fine >= self.bins)).any(axis=1)
        if bad.any():
            raise _malformed(
                f"molecule leaves must be atoms with fine bins in 0..{self.bins - 1}",
                _which(leaves.owner[np.argmax(bad)], count),
            )
        origins = np.array(
            [np.zeros(3) if q.origin is None else np.asarray(q.origin, np.float64) for q in sequences]
        )
        q = leaves.coords * self.bins + leaves.fine - self._half(self.bins)
        positions = q * self.resolution + origins[leaves.owner]
        numbers = self.elements[leaves.ids - ATOM_OFFSET]
        cuts = np.cumsum(np.bincount(leaves.owner, minlength=count))[:-1]
        return [Molecule3D(z, p) for z, p in zip(_split(numbers, cuts), _split(positions, cuts))]

    def _crystal(self, corners: _Leaves, atoms: _Leaves, index: int, count: int) -> Crystal:
        atoms = atoms.select(atoms.ids != NULL)
        try:
            return self._decode_crystal(
                (corners.coords, corners.ids, corners.fine), (atoms.coords, atoms.ids, atoms.fine)
            )
        except UnigenError as err:
            raise UnigenError(f"{_which(index, count)}{err}") from None

    def _check_fine(self, fine: np.ndarray, bins: int) -> None:
        if ((fine < 0) | (fine >= bins)).any():
            raise _malformed(f"fine bins must lie in 0..{bins - 1}")

    def _decode_crystal(self, corner_leaves, atom_leaves) -> Crystal:
        cells, labels, fine = corner_leaves
        self._check_fine(fine, self.lattice_bins)
        if len(labels) != 8 or len(np.unique(labels)) != 8:
            raise _malformed(
                f"the lattice tree must hold the 8 corners once each, got {len(labels)} corner tokens"
            )
        corners = np.empty((8, 3), np.float64)
        corners[labels - CORNER_OFFSET] = cells * self.lattice_bins + fine
        fit = np.rint(CORNER_FIT @ corners)  # (4, 3): origin, a, b, c in lattice units, on the grid
        origin, lattice = fit[0], fit[1:]
        if abs(np.linalg.det(lattice)) < 1e-9:
            raise _malformed("the lattice corners span no volume")
        atom_cells, atom_ids, atom_fine = atom_leaves
        self._check_fine(atom_fine, self.bins)
        if (atom_ids < ATOM_OFFSET).any():
            raise _malformed("the atom tree holds a non-atom leaf")
        box_units = (atom_cells * self.bins + atom_fine) * (self.resolution / self.lattice_resolution)
        frac = np.mod((box_units - origin) @ np.linalg.inv(lattice), 1.0)
        frac[frac >= 1.0] = 0.0  # mod of a tiny negative value can round to exactly 1.0
        return Crystal(self.elements[atom_ids - ATOM_OFFSET], frac, lattice * self.lattice_resolution)

    # -- helpers for models -----------------------------------------------------------
    def token_positions(self, sequence: OctreeSequence) -> np.ndarray:
        """(T, 3) Å: the cell centre, except leaves, which get their exact quantised position."""
        position = sequence.centre.copy()
        for kind, step in ((KIND_ATOM, self.resolution), (KIND_CORNER, self.lattice_resolution)):
            leaf = sequence.kind == kind
            position[leaf] += sequence.fine[leaf] * step - self.grid_len / 2
        return position

    def interleave_masks(self, sequence: OctreeSequence) -> MaskedSequence:
        """The "[MASK] then token" sequence of masked next-token prediction (length 2T)."""
        t = len(sequence)
        twice = lambda a: np.repeat(a, 2, axis=0)  # noqa: E731  (each row for the mask and the token)
        is_mask = np.tile([True, False], t)
        ids = twice(sequence.ids)
        ids[is_mask] = MASK
        fine = twice(sequence.fine)
        fine[is_mask] = self.null_bin
        position = twice(sequence.centre)
        position[~is_mask] = self.token_positions(sequence)
        target_ids = np.full(2 * t, IGNORE, np.int64)
        predicted = sequence.kind != KIND_END
        target_ids[0::2][predicted] = sequence.ids[predicted]
        target_fine = np.full((2 * t, 3), IGNORE, np.int64)
        leaf = sequence.level == 0
        target_fine[0::2][leaf] = sequence.fine[leaf]
        return MaskedSequence(
            ids,
            twice(sequence.level),
            twice(sequence.kind),
            twice(sequence.tree),
            fine,
            position,
            is_mask,
            target_ids,
            target_fine,
        )


def _malformed(reason: str, where: str = "") -> UnigenError:
    return UnigenError(f"{where}malformed octree sequence: {reason}")


def _which(index: int, count: int) -> str:
    """Error prefix naming a structure or sequence of a batch (nothing for a single one)."""
    return f"item {int(index)} of the batch: " if count > 1 else ""


def _exclusive_cumsum(counts: np.ndarray) -> np.ndarray:
    """Start offsets of consecutive groups of the given sizes."""
    return counts.cumsum() - counts


def _split(array: np.ndarray, cuts: np.ndarray) -> list[np.ndarray]:
    """np.split, without its overhead for the common single-piece case."""
    return np.split(array, cuts) if len(cuts) else [array]


def uncompressed_length(sequence: OctreeSequence) -> int:
    """Token count of the same octree without subtree compression.

    A plain octree spells each node's children as 8 binary occupancy tokens (plus one for
    the root), where the compressed tree spends one 255-class token per non-leaf node; leaf
    and [END] tokens are the same in both.
    """
    n_tree = int(np.sum(sequence.kind == KIND_TREE))
    n_trees = int(np.sum(sequence.kind == KIND_END))
    return len(sequence) - n_tree + 8 * n_tree + n_trees


def roundtrip_error(tokenizer: OctreeTokenizer, structure) -> dict:
    """Encode, decode and compare with the input.

    Returns ``coord_error`` (largest per-axis Cartesian deviation, Å; crystals: of the
    minimum-image fractional difference expressed with the decoded lattice),
    ``lattice_error`` (largest lattice-matrix entry deviation, Å; 0 for molecules),
    ``species_equal`` and ``tokens``.
    """
    sequence = tokenizer.encode(structure)
    decoded = tokenizer.decode(sequence)
    source = sequence.source_index
    species_equal = np.array_equal(structure.atomic_numbers[source], decoded.atomic_numbers)
    if isinstance(structure, Crystal):
        delta = decoded.frac_coords - structure.frac_coords[source]
        delta -= np.rint(delta)
        coord = np.abs(delta @ decoded.lattice)
        lattice_error = float(np.abs(decoded.lattice - structure.lattice).max())
    else:
        coord = np.abs(decoded.positions - structure.positions[source])
        lattice_error = 0.0
    return {
        "coord_error": float(coord.max()),
        "lattice_error": lattice_error,
        "species_equal": bool(species_equal),
        "tokens": len(sequence),
    }
