"""The interface every unigen tokenizer implements.

A tokenizer turns one structure into one token sequence and back. Its vocabulary and
settings travel inside a checkpoint card as plain JSON (``state_dict``), so a checkpoint can
rebuild its tokenizer without executing anything (``from_state_dict``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from unigen.errors import UsageError


class Tokenizer(ABC):
    """Structure <-> token sequence, with a JSON-serialisable state.

    Subclasses set ``kind`` (the name stored under ``state["type"]``) and implement the five
    members below. ``decode(encode(x))`` must give back ``x`` up to the tokenizer's stated
    quantisation, and ``from_state_dict(t.state_dict())`` must encode exactly like ``t``.
    """

    kind: ClassVar[str] = ""

    @abstractmethod
    def encode(self, structure) -> Any:
        """One structure -> one token sequence object."""

    @abstractmethod
    def decode(self, sequence) -> Any:
        """One token sequence object -> one structure."""

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of token ids (ids run from 0 to vocab_size - 1)."""

    @abstractmethod
    def state_dict(self) -> dict:
        """Settings and vocabulary as JSON-serialisable values, with ``"type": kind``."""

    @classmethod
    @abstractmethod
    def from_state_dict(cls, state: dict) -> "Tokenizer":
        """Rebuild the tokenizer that wrote ``state``."""


def check_state_keys(state: dict, kind: str, valid: set[str]) -> dict:
    """Validate a tokenizer state: its type must be ``kind`` and unknown keys are refused.

    Returns the state without the ``"type"`` and ``"version"`` entries, ready to pass to the
    constructor. Raises UsageError naming the valid keys (a checkpoint from another tokenizer
    or a newer unigen should fail loudly, not half-load).
    """
    if not isinstance(state, dict):
        raise UsageError(f"tokenizer state must be a mapping, got {type(state).__name__}")
    if state.get("type") != kind:
        raise UsageError(f"tokenizer state has type {state.get('type')!r}, expected {kind!r}")
    settings = {key: value for key, value in state.items() if key not in ("type", "version")}
    unknown = sorted(set(settings) - valid)
    if unknown:
        raise UsageError(
            f"unknown {kind} tokenizer setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}"
        )
    return settings


def check_elements(elements) -> np.ndarray:
    """A tokenizer's element vocabulary: distinct atomic numbers 1..118 (None: all of them)."""
    z = np.arange(1, 119) if elements is None else np.asarray(elements, dtype=np.int64).reshape(-1)
    if len(z) == 0 or len(np.unique(z)) != len(z) or z.min() < 1 or z.max() > 118:
        raise UsageError("elements must be distinct atomic numbers from 1 to 118")
    return z


def check_rotations(rotations, count: int) -> np.ndarray | None:
    """``count`` proper rotation matrices ``(count, 3, 3)`` (None passes through)."""
    if rotations is None:
        return None
    rotations = np.asarray(rotations, np.float64).reshape(count, 3, 3)
    orthonormal = np.abs(rotations @ rotations.transpose(0, 2, 1) - np.eye(3)).max(axis=(1, 2)) < 1e-6
    if not (orthonormal & (np.linalg.det(rotations) > 0)).all():
        raise UsageError("rotation must be a proper rotation matrix (orthonormal, det +1)")
    return rotations
