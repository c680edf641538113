"""torch.distributed set-up for runs launched with ``torchrun`` (one process per GPU).

``torchrun --nproc_per_node=8 -m unigen.cli train RECIPE`` sets ``WORLD_SIZE``, ``RANK`` and
``LOCAL_RANK``; a plain ``unigen train`` is a world of one and never touches torch.distributed.
"""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from dataclasses import dataclass

import torch


@dataclass
class World:
    rank: int = 0
    local_rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_world(device: torch.device) -> World:
    """Join the process group when launched by torchrun; a world of one otherwise."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    import torch.distributed as dist

    world = World(rank=int(os.environ["RANK"]), local_rank=int(os.environ.get("LOCAL_RANK", "0")), size=size)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return world


def wrap(model: torch.nn.Module, world: World, device: torch.device) -> torch.nn.Module:
    """DistributedDataParallel around ``model`` when the world has more than one process."""
    if world.size <= 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    unused = getattr(model, "has_unused_parameters", False)
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=unused)


def mean_across(world: World, values: dict, device: torch.device) -> dict:
    """Average numeric ``values`` over all processes (what a log row should report)."""
    if world.size <= 1:
        return values
    import torch.distributed as dist

    keys = list(values)  # the same order on every rank: insertion order of the same code
    stacked = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(stacked)
    return dict(zip(keys, (stacked / world.size).tolist()))


def barrier(world: World) -> None:
    if world.size > 1:
        import torch.distributed as dist

        dist.barrier()


def close_world(world: World) -> None:
    if world.size > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


@contextmanager
def joined_world(device: torch.device):
    """``init_world`` for the length of a command, leaving the process group at its end.

    Leaving explicitly matters: a gloo group still alive at interpreter exit can abort the
    process in its teardown (a CI run lost a torchrun ``generate`` rank to SIGABRT that way)."""
    world = init_world(device)
    try:
        yield world
    finally:
        close_world(world)


def gather_objects(world: World, obj) -> list:
    """``obj`` of every rank, in rank order (``[obj]`` for a world of one).

    Uses ``all_gather_object`` (pickle) between the processes of this one job, never on files."""
    if world.size <= 1:
        return [obj]
    import torch.distributed as dist

    out = [None] * world.size
    dist.all_gather_object(out, obj)
    return out


def batch_seed(seed: int, k: int) -> int:
    """The seed of batch ``k``: ``seed`` itself for the first, a 63-bit hash of ``(seed, k)`` after."""
    if k == 0:
        return seed
    digest = hashlib.blake2b(f"{seed}:{k}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)
