"""The training recipes shipped inside the package, found by name.

    >>> names()                       # ['gdss/community_small', ..., 'tiny/gdss', ...]
    >>> find("tiny/gdss")             # Path to the packaged tiny/gdss.yaml

``unigen/_recipes`` is a link to the repository's ``recipes/`` directory, so the files exist
once: in a checkout (and an editable install) they are ``recipes/...``; a wheel copies them
into the package (``package-data`` in pyproject.toml). ``find`` accepts an existing path, a
name (``tiny/gdss``), a name with ``.yaml``, or the checkout path (``recipes/tiny/gdss.yaml``),
so the commands in the docs and the model cards work outside the checkout too.
"""

from __future__ import annotations

from pathlib import Path

from unigen.errors import UsageError

ROOT = Path(__file__).resolve().parent / "_recipes"


def names() -> list[str]:
    """Every shipped recipe as ``family/name`` (no ``.yaml``), sorted."""
    return sorted(p.relative_to(ROOT).with_suffix("").as_posix() for p in ROOT.rglob("*.yaml"))


def find(name_or_path) -> Path:
    """The recipe file: an existing path wins, else the shipped recipe of that name."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    name = path.as_posix().removeprefix("recipes/").removesuffix(".yaml")
    shipped = ROOT / f"{name}.yaml"
    if shipped.is_file():
        return shipped
    raise UsageError(f"no recipe file or shipped recipe {name_or_path!r}; see `unigen recipes list`")
