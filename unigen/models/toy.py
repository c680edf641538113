"""``toy``: a tiny masked atom-type model over molecular graphs, for smoke runs and tests.

It hides 15 % of the atom types of a molecule and predicts them back from the rest of the
graph, using the shared backbone (``unigen.backbone``) in its dense ``full`` mode: atom
tokens plus a one-hot of each atom's bond-order sum as node input, one-hot bond types as pair
input. It really learns (valence patterns: a terminal double-bonded atom is mostly O, a
triple-bonded terminal one N), which is what the engine's tests need, and it is small enough
to train on CPU in seconds.

Shapes (B molecules, N atoms after padding, V atom types):
    batch[ATOM_TYPES] (B, N)    int64  1 + index into ``atom_types``; 0 marks [MASK]/padding
    batch[VALENCE]    (B, N)    int64  2 x sum of bond orders (aromatic = 1.5), clipped to 16
    batch[BONDS]      (B, N, N) int64  bond codes 0..4 (unigen.structures)
    batch[NODE_MASK]  (B, N)    bool   True for real atoms

It does not generate: it declares no ``Sampling``, so ``unigen generate`` refuses it in one line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from unigen.backbone import Backbone, BackboneConfig
from unigen.chem.convert import element_symbol
from unigen.data.keys import ATOM_TYPES, BONDS, NODE_MASK, VALENCE
from unigen.heads import TokenHead
from unigen.models.registry import FamilyModel, register_family
from unigen.structures import MolGraph

MASK = 0  # input index of the [MASK] token (also used for padding)
MAX_VALENCE_CODE = 16
_BOND_ORDER_X2 = np.array([0, 2, 4, 6, 3])  # twice the order of bond codes 0..4


@dataclass
class ToyConfig:
    """Model arguments of the ``toy`` family (the recipe's ``model:`` section)."""

    d_model: int = 64  # width of the atom representations
    n_layers: int = 2  # transformer blocks
    n_heads: int = 4  # attention heads (must divide d_model)
    pair_dim: int = 8  # width of the backbone's pair (bond) state
    mask_rate: float = 0.15  # fraction of atoms hidden per molecule (at least one)

    def __post_init__(self):
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if not 0.0 < self.mask_rate <= 1.0:
            raise ValueError(f"mask_rate must be in (0, 1], got {self.mask_rate}")


@register_family("toy")
class MaskedAtomModel(FamilyModel):
    """Predict hidden atom types of molecular graphs (see the module docstring)."""

    Config = ToyConfig
    record_types = (MolGraph,)
    has_unused_parameters = True  # the backbone's final pair norm: the head reads node states only

    def __init__(self, config: ToyConfig, state: dict | None = None):
        super().__init__(config, state)
        self.atom_types = list((state or {}).get("atom_types", []))
        if not self.atom_types:
            raise ValueError("toy model needs a non-empty 'atom_types' state")
        self.backbone = Backbone(self._backbone_config(config, len(self.atom_types)))
        self.head = TokenHead(config.d_model, len(self.atom_types))

    @staticmethod
    def _backbone_config(config: ToyConfig, n_types: int) -> BackboneConfig:
        return BackboneConfig(
            vocab_size=1 + n_types,  # token 0 = [MASK]
            node_in=MAX_VALENCE_CODE + 1,  # one-hot bond-order sum
            pair_in=5,  # one-hot bond code
            pair_dim=config.pair_dim,
            dim=config.d_model,
            depth=config.n_layers,
            heads=config.n_heads,
            mask_mode="full",
        )

    # -- state and vocabulary -----------------------------------------------------------

    @classmethod
    def fit_state(cls, config, records) -> dict:
        numbers = sorted({int(z) for r in records for z in r.atomic_numbers})
        return {"atom_types": [element_symbol(z) for z in numbers]}

    def card_state(self) -> dict:
        return {"atom_types": list(self.atom_types)}

    def unknown_types(self, records) -> dict[str, int]:
        known = set(self.atom_types)
        counts = Counter(element_symbol(z) for r in records for z in r.atomic_numbers)
        return {sym: n for sym, n in sorted(counts.items()) if sym not in known}

    def extend_vocab(self, types: list[str]) -> None:
        """Append new atom types: fresh embedding rows and zero output rows (old logits unchanged)."""
        new = [t for t in types if t not in self.atom_types]
        self.atom_types += new
        self.backbone.token_embed = _grown_embedding(self.backbone.token_embed, len(new))
        self.head.grow(len(new))

    # -- data --------------------------------------------------------------------------

    def encode(self, record) -> dict:
        if not isinstance(record, MolGraph):
            raise ValueError(
                f"family 'toy' trains on molecular graphs (MolGraph), got {type(record).__name__}"
            )
        index = {sym: i + 1 for i, sym in enumerate(self.atom_types)}
        symbols = [element_symbol(z) for z in record.atomic_numbers]
        missing = sorted(set(symbols) - set(index))
        if missing:
            raise ValueError(f"atom types {', '.join(missing)} are not in the model's vocabulary")
        bonds = np.asarray(record.bonds, dtype=np.int64)
        valence = np.minimum(_BOND_ORDER_X2[bonds].sum(axis=1), MAX_VALENCE_CODE)
        return {
            ATOM_TYPES: torch.tensor([index[s] for s in symbols], dtype=torch.long),
            VALENCE: torch.from_numpy(valence),
            BONDS: torch.from_numpy(bonds),
        }

    def collate(self, examples: list[dict]) -> dict:
        n = max(len(e[ATOM_TYPES]) for e in examples)
        batch = {
            ATOM_TYPES: torch.zeros(len(examples), n, dtype=torch.long),
            VALENCE: torch.zeros(len(examples), n, dtype=torch.long),
            BONDS: torch.zeros(len(examples), n, n, dtype=torch.long),
            NODE_MASK: torch.zeros(len(examples), n, dtype=torch.bool),
        }
        for i, e in enumerate(examples):
            k = len(e[ATOM_TYPES])
            batch[ATOM_TYPES][i, :k], batch[VALENCE][i, :k] = e[ATOM_TYPES], e[VALENCE]
            batch[BONDS][i, :k, :k], batch[NODE_MASK][i, :k] = e[BONDS], True
        return batch

    # -- network and loss --------------------------------------------------------------

    def logits(self, atom_types, valence, bonds, node_mask) -> torch.Tensor:
        """Atom-type logits (B, N, V) for inputs whose hidden atoms carry type 0."""
        out = self.backbone(
            tokens=atom_types,
            h=F.one_hot(valence, MAX_VALENCE_CODE + 1).float(),
            node_mask=node_mask,
            pair=F.one_hot(bonds, 5).float(),
        )
        return self.head(out.h)

    def loss(self, batch: dict):
        """Cross-entropy on the hidden atoms; also returns their accuracy."""
        hidden = self._choose_hidden(batch[NODE_MASK])
        inputs = batch[ATOM_TYPES].masked_fill(hidden, MASK)
        logits = self.logits(inputs, batch[VALENCE], batch[BONDS], batch[NODE_MASK])
        target = batch[ATOM_TYPES][hidden] - 1
        loss = F.cross_entropy(logits[hidden].float(), target)
        accuracy = (logits[hidden].argmax(-1) == target).float().mean()
        return loss, {"accuracy": accuracy.item()}

    def _choose_hidden(self, node_mask: torch.Tensor) -> torch.Tensor:
        """(B, N) bool: each real atom hidden with prob. mask_rate, at least one per molecule."""
        scores = torch.rand(node_mask.shape, device=node_mask.device).masked_fill(~node_mask, 2.0)
        hidden = (scores < self.config.mask_rate) & node_mask
        hidden[torch.arange(len(scores), device=scores.device), scores.argmin(dim=1)] = True
        return hidden


def _grown_embedding(old: nn.Embedding, extra: int) -> nn.Embedding:
    new = nn.Embedding(old.num_embeddings + extra, old.embedding_dim).to(old.weight.device)
    with torch.no_grad():
        new.weight[: old.num_embeddings] = old.weight
        new.weight[old.num_embeddings :].normal_(0.0, float(old.weight.std()))
    return new
