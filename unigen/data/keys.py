"""Batch field names: one constant per field, declared once, with its shape and dtype.

A batch is a ``dict[str, Tensor]``; models, processes, samplers and heads index it with these
constants (``batch[keys.NODE_MASK]``), never with ad-hoc spellings such as ``"mask"`` or
``"atom_mask"``. Two layouts exist:

- dense: ``B`` structures padded to ``N`` nodes (atoms, graph nodes or sequence tokens);
  padding is marked by ``NODE_MASK`` and every padded entry is zero;
- sparse: one flat set of ``N`` nodes over all structures, ``BATCH`` naming each node's
  structure and ``EDGE_INDEX`` listing edges; shapes below then drop the leading ``B``.

Shape notation: ``B`` structures, ``N`` nodes (or tokens), ``F`` node features, ``E`` edges,
``P`` pair / edge features, ``C`` conditioning features. This module imports nothing from
unigen, so every layer may use it (``docs/architecture.md``).
"""

from __future__ import annotations

from typing import Final

# one field per line: the formatter must not move a shape comment away from its name
# fmt: off

# -- nodes and padding ------------------------------------------------------------------
NODE_MASK: Final[str] = "node_mask"  # (B, N) bool  True = real node / token, False = padding
X: Final[str] = "x"  # (B, N, F) float  node features (GDSS: one-hot atom type or degree)
ATOMIC_NUMBERS: Final[str] = "atomic_numbers"  # (B, N) int64  element Z; 0 on padding
ATOM_TYPES: Final[str] = "atom_types"  # (B, N) int64  index into the model's atom-type vocabulary (toy: 1 + index, 0 = [MASK] / padding)
VALENCE: Final[str] = "valence"  # (B, N) int64  2 x sum of bond orders (aromatic counts 1.5); 0 on padding

# -- pairs (dense) ----------------------------------------------------------------------
ADJ: Final[str] = "adj"  # (B, N, N) float  symmetric adjacency or bond-order matrix; zero diagonal and padding
BONDS: Final[str] = "bonds"  # (B, N, N) int64  bond codes 0..4 (unigen.structures.BOND_*); 0 on padding
PAIR_MASK: Final[str] = "pair_mask"  # (B, N, N) bool  True = i may attend to j (dense twin of EDGE_INDEX)

# -- edges and graph membership (sparse) ------------------------------------------------
EDGE_INDEX: Final[str] = "edge_index"  # (2, E) int64  rows (source j, target i); node indices into the flat batch
EDGE_ATTR: Final[str] = "edge_attr"  # (E, P) float  edge features
BATCH: Final[str] = "batch"  # (N,) int64  index of the structure each node belongs to, sorted

# -- geometry ---------------------------------------------------------------------------
POS: Final[str] = "pos"  # (B, N, 3) float  Cartesian coordinates, Angstrom; 0 on padding
FRAC_COORDS: Final[str] = "frac_coords"  # (B, N, 3) float  fractional coordinates in [0, 1); 0 on padding
LATTICE: Final[str] = "lattice"  # (B, 3, 3) float  rows are the lattice vectors a, b, c, Angstrom

# -- sequences (autoregressive families) ------------------------------------------------
TOKENS: Final[str] = "tokens"  # (B, N) int64  token ids of the tokenizer's vocabulary; pad id on padding
POSITIONS: Final[str] = "positions"  # (B, N) int64  1-D rotary position of each token (default: its index)
BLOCK_ID: Final[str] = "block_id"  # (B, N) int64  PARD block of each node (0 = first block)
IS_TARGET: Final[str] = "is_target"  # (B, N) bool  True = node of the block being generated (PARD's virtual copies)
IS_SLOT: Final[str] = "is_slot"  # (B, N) bool  True = a numeric slot (UniGenX); False on padding
SLOT_VALUES: Final[str] = "slot_values"  # (B, N, 3) float  the numbers of each slot (model units); 0 elsewhere
LEVEL: Final[str] = "level"  # (B, N) int64  octree level of each token (Uni-3DAR: L..1 tree nodes, 0 leaves, -1 [END])
FINE: Final[str] = "fine"  # (B, N, 3) int64  in-cell fine bins of octree leaves; the null bin elsewhere
TREE: Final[str] = "tree"  # (B, N) int64  which octree a token belongs to (crystals: 0 lattice corners, 1 atoms)
TARGET_TOKENS: Final[str] = "target_tokens"  # (B, N) int64  token id a position predicts; -100 where none
TARGET_FINE: Final[str] = "target_fine"  # (B, N, 3) int64  fine bins a position predicts; -100 where none

# -- diffusion time and conditions ------------------------------------------------------
TIME: Final[str] = "t"  # (B,) float  diffusion time in [eps, 1] (continuous) or int64 step index (discrete)
COND: Final[str] = "cond"  # (B, C) float  conditioning values (target properties); absent = unconditional

ALL: Final[tuple[str, ...]] = (
    NODE_MASK, X, ATOMIC_NUMBERS, ATOM_TYPES, VALENCE, ADJ, BONDS, PAIR_MASK, EDGE_INDEX, EDGE_ATTR, BATCH,
    POS, FRAC_COORDS, LATTICE, TOKENS, POSITIONS, BLOCK_ID, IS_TARGET, IS_SLOT, SLOT_VALUES, LEVEL, FINE, TREE,
    TARGET_TOKENS, TARGET_FINE, TIME, COND,
)  # every field above, in declaration order
# fmt: on
