"""Space groups of crystals (spglib through pymatgen): one place for the tolerance and the failure rule."""

from __future__ import annotations

import os

SYMPREC = 0.1  # Å; the CSP literature's tolerance for generated cells (CDVAE, DiffCSP, UniGenX)


def space_group(crystal, symprec: float = SYMPREC) -> dict:
    """``{"space_group": symbol, "space_group_number": number}``; both None when spglib fails."""
    os.environ.setdefault("SPGLIB_WARNING", "OFF")  # spglib prints C-level warnings on distorted cells
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from unigen.chem.convert import crystal_to_pymatgen

    try:
        analyzer = SpacegroupAnalyzer(crystal_to_pymatgen(crystal), symprec=symprec)
        return {
            "space_group": analyzer.get_space_group_symbol(),
            "space_group_number": analyzer.get_space_group_number(),
        }
    except Exception:  # spglib fails on degenerate cells; report no symmetry rather than crash
        return {"space_group": None, "space_group_number": None}
