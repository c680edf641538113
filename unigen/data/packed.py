"""Many structures packed into a few flat numpy arrays: the processed-cache format.

A processed dataset is a ``dict[str, np.ndarray]`` saved with ``np.savez`` and read back with
``allow_pickle=False`` (no code runs on load). Variable-size parts are concatenated and
indexed by ``*_ptr`` offset arrays, strings are one UTF-8 byte blob plus offsets, and
per-structure metadata columns are either float arrays or string blobs.

Keys (M structures, A atoms or nodes in total, B bonds / edges in total):
    kind                  ()      str     "molgraph" | "mol3d" | "crystal" | "graph"
    atom_ptr              (M+1,)  int64   structure k owns atoms atom_ptr[k]:atom_ptr[k+1]
    atomic_numbers        (A,)    int16
    charges               (A,)    int8    molgraph only
    num_hs                (A,)    int8    molgraph only, when H counts were kept
    bond_ptr              (M+1,)  int64   molgraph bonds / graph edges of structure k
    bond_index            (2, B)  int16   local atom indices i < j (graph: int32)
    bond_order            (B,)    int8    molgraph only
    positions             (A, 3)  float64 mol3d only
    frac_coords           (A, 3)  float64 crystal only
    lattice               (M,3,3) float64 crystal only
    num_nodes             (M,)    int64   graph only (atom_ptr is not used for graphs)
    meta.int.<name>       (M,)    int64   an integer metadata column (ids, labels)
    meta.num.<name>       (M,)    float64 a numeric metadata column (missing -> NaN)
    meta.str.<name>       (bytes,) uint8  a string column (blob) with meta.ptr.<name> (M+1,)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from unigen.structures import Crystal, Graph, Molecule3D, MolGraph

# ---------------------------------------------------------------------------------------
# strings and metadata columns


def pack_strings(strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """list of str -> (utf-8 blob (bytes,) uint8, offsets (M+1,) int64)."""
    encoded = [s.encode("utf-8") for s in strings]
    ptr = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum([len(b) for b in encoded], out=ptr[1:])
    return np.frombuffer(b"".join(encoded), np.uint8).copy(), ptr


def unpack_string(blob: np.ndarray, ptr: np.ndarray, k: int) -> str:
    return blob[ptr[k] : ptr[k + 1]].tobytes().decode("utf-8")


def pack_meta(columns: dict[str, list]) -> dict[str, np.ndarray]:
    """Metadata columns -> arrays: ints as int64, numbers (None -> NaN) as float64, else strings."""
    out = {}
    for name, values in columns.items():
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            out[f"meta.int.{name}"] = np.array(values, np.int64)
        elif all(v is None or isinstance(v, (int, float, np.integer, np.floating)) for v in values):
            out[f"meta.num.{name}"] = np.array([np.nan if v is None else v for v in values], np.float64)
        else:
            out[f"meta.str.{name}"], out[f"meta.ptr.{name}"] = pack_strings(
                ["" if v is None else str(v) for v in values]
            )
    return out


def _meta_of(arrays: dict, k: int) -> dict:
    meta = {}
    for key, column in arrays.items():
        if key.startswith("meta.int."):
            meta[key[9:]] = int(column[k])
        elif key.startswith("meta.num."):
            meta[key[9:]] = float(column[k])
        elif key.startswith("meta.str."):
            meta[key[9:]] = unpack_string(column, arrays[f"meta.ptr.{key[9:]}"], k)
    return meta


def _ptr(counts) -> np.ndarray:
    ptr = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr


# ---------------------------------------------------------------------------------------
# packing


def pack(structures: list, meta: dict[str, list] | None = None) -> dict[str, np.ndarray]:
    """A list of one kind of structure (+ metadata columns, one value per structure) -> arrays."""
    if not structures:
        raise ValueError("nothing to pack")
    packer = {
        MolGraph: _pack_molgraphs,
        Molecule3D: _pack_mol3d,
        Crystal: _pack_crystals,
        Graph: _pack_graphs,
    }
    arrays = packer[type(structures[0])](structures)
    arrays.update(pack_meta(meta or {}))
    return arrays


def _pack_atoms(structures) -> dict:
    return {
        "atom_ptr": _ptr([s.num_atoms for s in structures]),
        "atomic_numbers": np.concatenate([s.atomic_numbers for s in structures]).astype(np.int16),
    }


def _pack_molgraphs(graphs: list[MolGraph]) -> dict:
    pairs = [np.nonzero(np.triu(g.bonds, 1)) for g in graphs]
    arrays = _pack_atoms(graphs) | {
        "kind": np.array("molgraph"),
        "charges": np.concatenate([g.charges for g in graphs]).astype(np.int8),
        "bond_ptr": _ptr([len(i) for i, _ in pairs]),
        "bond_index": np.concatenate([np.stack(p) for p in pairs], axis=1).astype(np.int16),
        "bond_order": np.concatenate([g.bonds[i, j] for g, (i, j) in zip(graphs, pairs)]).astype(np.int8),
    }
    if graphs[0].num_hs is not None:
        arrays["num_hs"] = np.concatenate([g.num_hs for g in graphs]).astype(np.int8)
    return arrays


def _pack_mol3d(molecules: list[Molecule3D]) -> dict:
    return _pack_atoms(molecules) | {
        "kind": np.array("mol3d"),
        "positions": np.concatenate([m.positions for m in molecules]),
    }


def _pack_crystals(crystals: list[Crystal]) -> dict:
    return _pack_atoms(crystals) | {
        "kind": np.array("crystal"),
        "frac_coords": np.concatenate([c.frac_coords for c in crystals]),
        "lattice": np.stack([c.lattice for c in crystals]),
    }


def _pack_graphs(graphs: list[Graph]) -> dict:
    return {
        "kind": np.array("graph"),
        "num_nodes": np.array([g.num_nodes for g in graphs], np.int64),
        "bond_ptr": _ptr([g.num_edges for g in graphs]),
        "bond_index": np.concatenate([g.edge_index for g in graphs], axis=1).astype(np.int32),
    }


# ---------------------------------------------------------------------------------------
# unpacking


def unpack_one(arrays: dict, k: int):
    """Rebuild structure ``k`` (with its metadata) from packed arrays."""
    kind = str(arrays["kind"])
    if kind == "graph":
        lo, hi = arrays["bond_ptr"][k], arrays["bond_ptr"][k + 1]
        return Graph(int(arrays["num_nodes"][k]), arrays["bond_index"][:, lo:hi], meta=_meta_of(arrays, k))
    a, b = arrays["atom_ptr"][k], arrays["atom_ptr"][k + 1]
    numbers, meta = arrays["atomic_numbers"][a:b], _meta_of(arrays, k)
    if kind == "mol3d":
        return Molecule3D(numbers, arrays["positions"][a:b], meta=meta)
    if kind == "crystal":
        return Crystal(numbers, arrays["frac_coords"][a:b], arrays["lattice"][k], meta=meta)
    return _unpack_molgraph(arrays, k, numbers, meta)


def _unpack_molgraph(arrays: dict, k: int, numbers: np.ndarray, meta: dict) -> MolGraph:
    a, b = arrays["atom_ptr"][k], arrays["atom_ptr"][k + 1]
    lo, hi = arrays["bond_ptr"][k], arrays["bond_ptr"][k + 1]
    i, j = arrays["bond_index"][:, lo:hi].astype(np.intp)
    bonds = np.zeros((b - a, b - a), np.int8)
    bonds[i, j] = bonds[j, i] = arrays["bond_order"][lo:hi]
    num_hs = arrays["num_hs"][a:b] if "num_hs" in arrays else None
    return MolGraph(numbers, bonds, arrays["charges"][a:b], num_hs, meta=meta)


def num_packed(arrays: dict) -> int:
    return len(arrays["num_nodes"]) if str(arrays["kind"]) == "graph" else len(arrays["atom_ptr"]) - 1


class PackedStructures(Sequence):
    """A read-only sequence over packed arrays; structures are built when indexed.

    ``index`` (optional) selects and orders the packed rows: a split is an index array
    into one processed file, so train and test share a single cache.
    """

    def __init__(self, arrays: dict, index=None):
        self.arrays = arrays
        self.index = np.arange(num_packed(arrays)) if index is None else np.asarray(index, np.int64)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return PackedStructures(self.arrays, self.index[k])
        return unpack_one(self.arrays, int(self.index[k]))

    def __repr__(self) -> str:
        return f"PackedStructures(kind={str(self.arrays['kind'])!r}, n={len(self)})"
