"""The shared backbone: one transformer for every family (see ``transformer.py``).

Public API: :class:`BackboneConfig`, :class:`Backbone`, :class:`BackboneOutput`,
:class:`KVCache`; the scatter kernels live in :mod:`unigen.backbone.scatter` and the
symmetry checks in :mod:`unigen.testing`.

How each family configures it (fields of :class:`BackboneConfig`):

==========  =====================================================================================
family      options
==========  =====================================================================================
GDSS        ``mask_mode="full"``, ``node_in`` = node feature width, ``pair_in`` = adjacency channels
            (e.g. powers of A), ``pair_dim > 0``; a score head reads ``out.pair (B, N, N, p)``
            (symmetrise it there) and ``out.h``.
PARD        ``mask_mode="block_causal"``, ``ppgn=True``, ``pair_dim > 0``; pass ``block_id`` and
            ``is_target`` (the doubled graph's target copies) per call.
Uni-3DAR    ``vocab_size``, ``mask_mode="causal"``, ``rotary="3d"``, ``rotary_resolution=0.01``,
            ``recycle``, ``zero_init_residual=True``; ``pos`` = token cell centres; decode with a
            :class:`KVCache`.
UniGenX     ``mask_mode="causal"``, ``rotary="1d"``; the family embeds tokens and numeric slots itself
            (MLP(3 -> d) replaces the token embedding at slots) and passes ``embeddings (B, N, dim)``;
            decode with a :class:`KVCache`.
3D / E(3)   ``geometry="distance"`` (molecules) or ``"periodic"`` (crystals, with ``lattice``) and
            ``vector_output=True`` for an equivariant coordinate head (``out.vec (B, N, 3)``).
==========  =====================================================================================
"""

from unigen.backbone.config import BackboneConfig
from unigen.backbone.kv_cache import KVCache
from unigen.backbone.transformer import Backbone, BackboneOutput

__all__ = ["Backbone", "BackboneConfig", "BackboneOutput", "KVCache"]
