"""Read-out heads on top of the shared backbone (``unigen.backbone``).

A head turns backbone states into what a family predicts; it holds no schedule arithmetic
(that belongs to ``unigen.processes``) and no chemistry.

==================  ==========================================================================
head                reads -> returns
==================  ==========================================================================
NodeScoreHead       node states ``h (B, N, d)`` -> per-node scores ``(B, N, F)``, zero on padding
PairScoreHead       pair states ``pair (B, N, N, p)`` -> symmetric scores ``(B, N, N)``, zero
                    diagonal and padding (GDSS's adjacency score)
TokenHead           node / token states ``(..., d)`` -> logits ``(..., V)``; grows new rows
TaskHead            token states ``(..., d)`` -> logits ``(..., C)`` through a zero-initialised MLP
                    (Uni-3DAR's occupancy, atom-type and fine-bin classifiers)
VectorHead          a :class:`~unigen.backbone.BackboneOutput` with geometry -> equivariant
                    vectors ``(B, N, 3)`` | ``(N, 3)`` (EGNN-style)
DiffusionHead       noised slot numbers ``(M, D)``, steps ``(M,)``, hidden states ``(M, d)`` -> noise
                    and learned-variance outputs ``(M, D)`` each (UniGenX / MAR, adaptive norm)
==================  ==========================================================================
"""

from unigen.heads.diffusion import DiffusionHead
from unigen.heads.score import NodeScoreHead, PairScoreHead
from unigen.heads.token import TaskHead, TokenHead
from unigen.heads.vector import VectorHead

__all__ = ["DiffusionHead", "NodeScoreHead", "PairScoreHead", "TaskHead", "TokenHead", "VectorHead"]
