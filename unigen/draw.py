"""Pictures of structures as PNG files: what a chemist looks at before reading a number.

    >>> draw_file("m.sdf", "grid.png")                     # any file unigen reads
    >>> draw_records(records, "grid.png", max_items=12)     # MolGraph, Molecule3D, Crystal, Graph

- MolGraph (and SMILES strings): an RDKit grid (``Draw.MolsToGridImage``), 2D depictions, the
  SMILES under each molecule.
- Molecule3D: ASE's ``plot_atoms`` of each molecule (a slight tilt so rings are not edge-on),
  titled with its formula.
- Crystal: ASE's ``plot_atoms`` of the unit cell with its edges, titled with the formula and
  the space group.
- Graph: networkx spring layout (seeded, so the same file gives the same picture).

Only the first ``max_items`` records are drawn (a grid of thousands helps no one). matplotlib
runs with the Agg backend, so no display is needed. Files are written atomically.
"""

from __future__ import annotations

import io

from unigen.atomic import atomic_write
from unigen.errors import UsageError
from unigen.structures import Crystal, Graph, Molecule3D, MolGraph

MAX_ITEMS = 20
PER_ROW = 5


def check_png_path(out) -> None:
    """Refuse, before any work, an output name that is not ``*.png``."""
    if not str(out).lower().endswith(".png"):
        raise UsageError(f"{out}: pictures are written as PNG; name the file *.png")


def draw_file(path, out, *, file_format: str | None = None, max_items: int = MAX_ITEMS) -> int:
    """Draw the first ``max_items`` records of ``path`` into the PNG ``out``; returns how many."""
    from unigen.io import format_from_path, read

    fmt = format_from_path(path, file_format).name
    result = read(path, format=fmt).raise_if_empty()  # SDF: 2D molecules, a grid reads best
    return draw_records(result.records, out, max_items=max_items)


def draw_records(records, out, *, max_items: int = MAX_ITEMS, per_row: int = PER_ROW) -> int:
    """Draw records of one kind into the PNG ``out``; returns how many were drawn."""
    check_png_path(out)
    if max_items < 1:
        raise UsageError(f"max_items must be positive, got {max_items}")
    records = list(records)[:max_items]
    if not records:
        raise UsageError(f"{out}: nothing to draw (no records)")
    kinds = {type(r) for r in records}
    if len(kinds) > 1:
        raise UsageError(f"{out}: cannot draw a mix of {', '.join(sorted(k.__name__ for k in kinds))}")
    kind = kinds.pop()
    if kind not in _DRAWERS:
        raise UsageError(f"{out}: cannot draw {kind.__name__} records")
    png = _DRAWERS[kind](records, per_row)
    with atomic_write(out, "wb") as handle:
        handle.write(png)
    return len(records)


# ---------------------------------------------------------------------------------------
# Molecules: an RDKit grid


def molecule_grid(records, per_row: int = PER_ROW) -> bytes:
    """PNG bytes of a grid of 2D depictions with SMILES legends (invalid molecules left blank)."""
    from rdkit.Chem import Draw

    mols, legends = zip(*(_depiction(record) for record in records))
    image = Draw.MolsToGridImage(
        list(mols), molsPerRow=min(per_row, len(mols)), subImgSize=(260, 220), legends=list(legends)
    )
    return _png_bytes(image)


def _depiction(record):
    """(RDKit Mol with 2D coordinates, legend) of a MolGraph or SMILES; (None, reason) if invalid."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    from unigen.chem.convert import graph_to_mol, parse_smiles

    try:
        mol = parse_smiles(record) if isinstance(record, str) else graph_to_mol(record)
    except ValueError:
        return None, f"invalid: {record if isinstance(record, str) else record.meta.get('smiles', '')}"
    AllChem.Compute2DCoords(mol)
    return mol, _shortened(Chem.MolToSmiles(mol))


def _shortened(text: str, limit: int = 36) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _png_bytes(image) -> bytes:
    if isinstance(image, bytes):  # RDKit returns PNG bytes inside IPython
        return image
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------
# 3D molecules, crystals, graphs: matplotlib panels


def atoms_panels(records, per_row: int = PER_ROW) -> bytes:
    """PNG bytes of ASE renderings: molecules tilted, crystals with their cell edges."""
    from ase.visualize.plot import plot_atoms

    from unigen.chem.convert import crystal_to_ase, mol3d_to_ase

    figure, axes = _panels(len(records), per_row)
    for ax, record in zip(axes, records):
        periodic = isinstance(record, Crystal)
        atoms = crystal_to_ase(record) if periodic else mol3d_to_ase(record)
        ax.set_title(_atoms_title(record, atoms), fontsize=9)  # of the cell, before the boundary images
        drawn = _with_boundary_images(atoms) if periodic else atoms
        rotation = "10x,-10y,0z" if periodic else "45x,30y,0z"
        plot_atoms(drawn, ax, rotation=rotation, radii=0.45 if periodic else 0.6, show_unit_cell=2 * periodic)
    return _figure_png(figure)


def _with_boundary_images(atoms, tol: float = 0.02):
    """The cell's atoms plus their periodic images on the far faces, edges and corners (an atom
    at fractional 0 is also drawn at 1), as crystallographers draw a cell."""
    import itertools

    import numpy as np

    frac = atoms.get_scaled_positions(wrap=True)
    frac[frac > 1 - tol] -= 1.0
    images = atoms.copy()
    for shift in itertools.product((0, 1), repeat=3):
        if shift == (0, 0, 0):
            continue
        on_face = np.all(frac[:, np.array(shift, bool)] < tol, axis=1)
        if on_face.any():
            image = atoms[on_face]
            image.set_scaled_positions(frac[on_face] + np.array(shift, float))
            images += image
    return images


def _atoms_title(record, atoms) -> str:
    if not isinstance(record, Crystal):
        return atoms.get_chemical_formula(mode="hill")
    formula = atoms.get_chemical_formula(mode="metal", empirical=True)
    from unigen.chem.symmetry import space_group

    symbol = record.meta.get("space_group") or space_group(record)["space_group"]
    return f"{formula}  {symbol or 'no symmetry found'}"


def graph_panels(records, per_row: int = PER_ROW) -> bytes:
    """PNG bytes of networkx drawings (spring layout, seed 0), titled with node / edge counts."""
    import networkx as nx

    from unigen.chem.convert import graph_to_networkx

    figure, axes = _panels(len(records), per_row)
    for ax, record in zip(axes, records):
        g = graph_to_networkx(record)
        nx.draw(g, nx.spring_layout(g, seed=0), ax=ax, node_size=30, width=0.8, node_color="tab:blue")
        ax.set_title(f"{g.number_of_nodes()} nodes, {g.number_of_edges()} edges", fontsize=9)
    return _figure_png(figure)


def _panels(n: int, per_row: int):
    import matplotlib

    matplotlib.use("Agg")  # no display needed; pyplot is not used, so no global state leaks
    from matplotlib.figure import Figure

    cols = min(per_row, n)
    rows = -(-n // cols)
    figure = Figure(figsize=(2.8 * cols, 2.8 * rows))
    axes = [figure.add_subplot(rows, cols, k + 1) for k in range(n)]
    for ax in axes:
        ax.set_axis_off()
    return figure, axes


def _figure_png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------
# Property histograms: a file's records next to a reference set


def property_histograms(records, reference, out, *, reference_label: str = "reference") -> list[str]:
    """Draw into the PNG ``out`` one histogram per property of :func:`record_properties`, the
    records against ``reference`` (same record kind; density-normalised, so sizes may differ).
    Returns the property names drawn."""
    check_png_path(out)
    mine, theirs = record_properties(records), record_properties(reference)
    names = [name for name in mine if mine[name] and theirs.get(name)]
    if not names:
        raise UsageError(f"{out}: no property to compare (no valid records on one side)")
    figure, axes = _panels(len(names), per_row=len(names))
    for ax, name in zip(axes, names):
        ax.set_axis_on()
        both = mine[name] + theirs[name]
        bins = _bins(both, discrete=name in DISCRETE_PROPERTIES)
        ax.hist(theirs[name], bins=bins, density=True, alpha=0.5, color="tab:gray",
                label=f"{reference_label} ({len(theirs[name])})")  # fmt: skip
        ax.hist(mine[name], bins=bins, density=True, histtype="step", linewidth=1.6,
                color="tab:blue", label=f"this file ({len(mine[name])})")  # fmt: skip
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    with atomic_write(out, "wb") as handle:
        handle.write(_figure_png(figure))
    return names


# integer-valued properties get one bin per value
DISCRETE_PROPERTIES = {"heavy atoms", "atoms", "atoms per cell", "elements per cell", "nodes", "degree"}


def record_properties(records) -> dict[str, list[float]]:
    """Per-record values, by property name, of the records of one kind (invalid ones skipped):
    molecules QED / logP / MW / heavy atoms; 3D molecules atoms / heavy atoms / radius of gyration;
    crystals atoms and elements per cell, volume per atom, density; graphs nodes, degree and
    clustering (per node, pooled, as the MMD statistics see them)."""
    records = [r for r in records if r is not None]
    if not records:
        return {}
    kind = type(records[0])
    if kind in (str, MolGraph):
        return _molecule_properties(records)
    if kind is Molecule3D:
        return _molecule3d_properties(records)
    if kind is Crystal:
        return _crystal_properties(records)
    if kind is Graph:
        return _graph_properties(records)
    raise UsageError(f"no properties to plot for {kind.__name__} records")


def _molecule_properties(records) -> dict[str, list[float]]:
    from rdkit.Chem import QED, Crippen, Descriptors

    from unigen.chem.convert import graph_to_mol, parse_smiles

    # the RDKit functions of unigen.conditioning's qed / logp / mw (draw may not import it)
    functions = {"qed": QED.qed, "logp": Crippen.MolLogP, "mw": Descriptors.MolWt}
    values = {"QED": [], "logP": [], "MW": [], "heavy atoms": []}
    for record in records:
        try:
            mol = parse_smiles(record) if isinstance(record, str) else graph_to_mol(record)
        except Exception:  # an invalid generated molecule has no properties
            continue
        for name, key in (("QED", "qed"), ("logP", "logp"), ("MW", "mw")):
            values[name].append(functions[key](mol))
        values["heavy atoms"].append(mol.GetNumHeavyAtoms())
    return values


def _molecule3d_properties(records) -> dict[str, list[float]]:
    import numpy as np

    values = {"atoms": [], "heavy atoms": [], "radius of gyration (Å)": []}
    for record in records:
        centred = record.positions - record.positions.mean(0)
        values["atoms"].append(record.num_atoms)
        values["heavy atoms"].append(int((record.atomic_numbers > 1).sum()))
        values["radius of gyration (Å)"].append(float(np.sqrt((centred**2).sum(1).mean())))
    return values


def _crystal_properties(records) -> dict[str, list[float]]:
    from unigen.chem.metrics.crystals import crystal_density, num_elements

    values = {
        "atoms per cell": [],
        "elements per cell": [],
        "volume per atom (Å³)": [],
        "density (g/cm³)": [],
    }
    for record in records:
        if record.num_atoms == 0 or record.volume <= 0:
            continue
        values["atoms per cell"].append(record.num_atoms)
        values["elements per cell"].append(num_elements(record))
        values["volume per atom (Å³)"].append(record.volume / record.num_atoms)
        values["density (g/cm³)"].append(crystal_density(record))
    return values


def _graph_properties(records) -> dict[str, list[float]]:
    import networkx as nx

    from unigen.chem.convert import graph_to_networkx

    values = {"nodes": [], "degree": [], "clustering": []}
    for record in records:
        g = graph_to_networkx(record)
        values["nodes"].append(g.number_of_nodes())
        values["degree"].extend(d for _, d in g.degree())
        values["clustering"].extend(nx.clustering(g).values())
    return values


def _bins(values, discrete: bool, count: int = 30):
    import numpy as np

    low, high = float(min(values)), float(max(values))
    if discrete:
        return np.arange(np.floor(low), np.ceil(high) + 2) - 0.5
    return np.linspace(low, high if high > low else low + 1.0, count + 1)


_DRAWERS = {
    MolGraph: molecule_grid,
    str: molecule_grid,
    Molecule3D: atoms_panels,
    Crystal: atoms_panels,
    Graph: graph_panels,
}
