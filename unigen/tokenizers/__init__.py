"""Tokenizers: structures <-> token sequences for the autoregressive families.

``octree``: Uni-3DAR's hierarchical octree tokenization of 3D molecules and crystals.
``sequence``: UniGenX's token-then-numeric-slot sequences of crystals and 3D molecules.
``blocks``: PARD's structural partial order (graph -> blocks); a pure function, not a
registered Tokenizer.
Every tokenizer implements ``unigen.tokenizers.base.Tokenizer``; ``tokenizer_from_state_dict``
rebuilds one from the JSON state stored in a checkpoint card.
"""

from __future__ import annotations

import importlib

from unigen.errors import UsageError
from unigen.tokenizers.base import Tokenizer

# state["type"] -> "module:Class"; a new tokenizer adds one line here
TOKENIZERS = {
    "octree": "unigen.tokenizers.octree:OctreeTokenizer",
    "sequence_crystal": "unigen.tokenizers.sequence:CrystalSequenceTokenizer",
    "sequence_molecule": "unigen.tokenizers.sequence:MoleculeSequenceTokenizer",
}


def tokenizer_from_state_dict(state: dict) -> Tokenizer:
    """Rebuild any registered tokenizer from its ``state_dict()`` (e.g. from a checkpoint card)."""
    kind = state.get("type") if isinstance(state, dict) else None
    if kind not in TOKENIZERS:
        raise UsageError(f"unknown tokenizer type {kind!r}; known: {', '.join(sorted(TOKENIZERS))}")
    module, name = TOKENIZERS[kind].split(":")
    return getattr(importlib.import_module(module), name).from_state_dict(state)


__all__ = ["TOKENIZERS", "Tokenizer", "tokenizer_from_state_dict"]
