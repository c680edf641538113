"""A seeded batch sampler whose whole state is (epoch, position): resumable data order."""

from __future__ import annotations

import torch


class EpochSampler:
    """Yields global batches of dataset indices, reshuffled every epoch with seed + epoch.

    Each global batch holds ``batch_size * world_size`` indices; rank ``r`` takes every
    ``world_size``-th of them starting at ``r``. A batch never spans two epochs (the tail of
    an epoch that cannot fill a batch is skipped), so the order after a resume is the order
    an uninterrupted run would have seen.
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        if n < batch_size * world_size:
            raise ValueError(f"{n} examples cannot fill one batch of {batch_size} x {world_size} processes")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.epoch, self.position = 0, 0
        self._order = self._permutation(0)

    def next_batch(self) -> list[int]:
        """Indices of this rank's share of the next global batch."""
        width = self.batch_size * self.world_size
        if self.position + width > self.n:
            self.epoch, self.position = self.epoch + 1, 0
            self._order = self._permutation(self.epoch)
        chunk = self._order[self.position : self.position + width]
        self.position += width
        return chunk[self.rank :: self.world_size].tolist()

    def state(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._order = self._permutation(self.epoch)

    def _permutation(self, epoch: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.n, generator=generator)
