"""The four kinds of structure unigen handles, as small numpy-backed dataclasses.

These are the exchange format between file readers, datasets, chemistry checks, metrics and
models. Conversions to and from RDKit / pymatgen / ASE / networkx / PyG live in
``unigen.chem.convert`` (the single owner); batching into padded torch tensors lives in the
data layer. Arrays are numpy so that loading 10^5 small structures stays cheap.

Shapes (N atoms or nodes, E undirected edges):
    MolGraph.atomic_numbers   (N,)   int64   element Z of each heavy (or explicit) atom
    MolGraph.bonds            (N, N) int8    0 none, 1 single, 2 double, 3 triple, 4 aromatic
    MolGraph.charges          (N,)   int8    formal charges
    MolGraph.num_hs           (N,)   int8    total hydrogens per atom, or None (implicit, from valence)
    Molecule3D.atomic_numbers (N,)   int64
    Molecule3D.positions      (N, 3) float64 Cartesian, Angstrom
    Crystal.atomic_numbers    (N,)   int64
    Crystal.frac_coords       (N, 3) float64 fractional, in [0, 1)
    Crystal.lattice           (3, 3) float64 rows are the lattice vectors a, b, c (Angstrom)
    Graph.edge_index          (2, E) int64   each undirected edge once, with i < j
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BOND_NONE, BOND_SINGLE, BOND_DOUBLE, BOND_TRIPLE, BOND_AROMATIC = 0, 1, 2, 3, 4


def _as(array, dtype, shape_tail=()) -> np.ndarray:
    out = np.asarray(array, dtype=dtype)
    if shape_tail and out.shape[1:] != shape_tail:
        raise ValueError(f"expected shape (N, {', '.join(map(str, shape_tail))}), got {out.shape}")
    return out


@dataclass
class MolGraph:
    """A 2D molecular graph: atoms, bond orders, formal charges (optionally H counts)."""

    atomic_numbers: np.ndarray
    bonds: np.ndarray
    charges: np.ndarray | None = None
    num_hs: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.atomic_numbers = _as(self.atomic_numbers, np.int64)
        n = len(self.atomic_numbers)
        self.bonds = _as(self.bonds, np.int8).reshape(n, n)
        self.charges = np.zeros(n, np.int8) if self.charges is None else _as(self.charges, np.int8)
        if self.num_hs is not None:
            self.num_hs = _as(self.num_hs, np.int8)

    @property
    def num_atoms(self) -> int:
        return len(self.atomic_numbers)


@dataclass
class Molecule3D:
    """A molecule with Cartesian coordinates (hydrogens usually explicit)."""

    atomic_numbers: np.ndarray
    positions: np.ndarray
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.atomic_numbers = _as(self.atomic_numbers, np.int64)
        self.positions = _as(self.positions, np.float64).reshape(-1, 3)
        if len(self.positions) != len(self.atomic_numbers):
            raise ValueError("positions and atomic_numbers differ in length")

    @property
    def num_atoms(self) -> int:
        return len(self.atomic_numbers)


@dataclass
class Crystal:
    """A periodic structure: species, fractional coordinates and a lattice (rows = vectors)."""

    atomic_numbers: np.ndarray
    frac_coords: np.ndarray
    lattice: np.ndarray
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.atomic_numbers = _as(self.atomic_numbers, np.int64)
        self.frac_coords = _as(self.frac_coords, np.float64).reshape(-1, 3)
        self.lattice = _as(self.lattice, np.float64).reshape(3, 3)
        if len(self.frac_coords) != len(self.atomic_numbers):
            raise ValueError("frac_coords and atomic_numbers differ in length")

    @property
    def num_atoms(self) -> int:
        return len(self.atomic_numbers)

    @property
    def cart_coords(self) -> np.ndarray:
        return self.frac_coords @ self.lattice

    @property
    def volume(self) -> float:
        return float(abs(np.linalg.det(self.lattice)))


@dataclass
class Graph:
    """A simple undirected graph without features (generic graph benchmarks)."""

    num_nodes: int
    edge_index: np.ndarray
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        e = np.asarray(self.edge_index, dtype=np.int64).reshape(2, -1)
        lo, hi = np.minimum(e[0], e[1]), np.maximum(e[0], e[1])
        keep = lo != hi  # no self loops
        pairs = (
            np.unique(np.stack([lo[keep], hi[keep]], 1), axis=0) if keep.any() else np.zeros((0, 2), np.int64)
        )
        self.edge_index = pairs.T.copy()
        self.num_nodes = int(self.num_nodes)

    @property
    def num_edges(self) -> int:
        return self.edge_index.shape[1]

    def adjacency(self) -> np.ndarray:
        a = np.zeros((self.num_nodes, self.num_nodes), np.float32)
        a[self.edge_index[0], self.edge_index[1]] = 1
        a[self.edge_index[1], self.edge_index[0]] = 1
        return a

    @classmethod
    def from_adjacency(cls, adjacency, **meta) -> "Graph":
        a = np.asarray(adjacency)
        i, j = np.nonzero(np.triu(a, 1))
        return cls(a.shape[0], np.stack([i, j]), meta=dict(meta))
