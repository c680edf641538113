"""Model families (GDSS, PARD, Uni-3DAR, UniGenX, and a tiny ``toy`` family for smoke runs).

Each family is a :class:`FamilyModel` registered by name; see ``unigen.models.registry``.
"""

from unigen.models.registry import FamilyModel, get_family, list_families, register_family

__all__ = ["FamilyModel", "get_family", "list_families", "register_family"]
