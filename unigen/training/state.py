"""Trainer state as named tensors + JSON, so that resuming never needs pickle.

``optimizer.state_dict()`` mixes tensors with Python scalars. Tensors go to
``trainer.safetensors`` under flat names (``optim.3.exp_avg``); everything else goes to
``trainer.json``. Random generators need no saving: the engine reseeds them at every step
from (seed, step, rank) (see :func:`step_seed`).
"""

from __future__ import annotations

import random

import numpy as np
import torch


def optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """(tensors, json) for ``optimizer``: per-parameter moments and the param-group scalars."""
    full = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, slots in full["state"].items():
        for key, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"optim.{index}.{key}"] = value
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": full["param_groups"], "scalars": scalars}


def load_optimizer_state(optimizer: torch.optim.Optimizer, tensors: dict, meta: dict) -> None:
    """Inverse of :func:`optimizer_state`."""
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for name, value in meta["scalars"].items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in meta["param_groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def step_seed(seed: int, step: int, rank: int) -> int:
    """The seed of all generators for optimizer step ``step`` on process ``rank``.

    Reseeding every step makes the noise a model draws (masks, diffusion times) a function of
    the step alone, so a resumed run draws exactly what an uninterrupted run would have.
    """
    return ((seed * 1_000_003 + step) * 1_009 + rank) % 2**63
