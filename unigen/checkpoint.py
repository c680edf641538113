"""Checkpoints that describe themselves and execute nothing.

A checkpoint is a directory::

    model.safetensors     the weights to use (EMA weights when EMA was on)
    card.yaml             family, model arguments, tokenizer / process state, recipe, dataset,
                          steps, metrics, unigen version, git commit, parent checkpoint
    trainer.safetensors   resume state: raw weights, optimizer moments, EMA, RNG tensors
    trainer.json          resume state: step, data-sampler position, optimizer scalars, RNG

Only ``model.safetensors`` and ``card.yaml`` are needed to load a model. Files are read with
``safetensors`` and ``yaml.safe_load``: nothing in a checkpoint is ever unpickled or executed.
A run directory (``out_dir`` of a recipe) holds ``checkpoints/step_XXXXXXXX/``; passing the run
directory anywhere a checkpoint is expected means its latest checkpoint.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import yaml

from unigen.atomic import current_umask, fsync_path
from unigen.errors import UsageError

FORMAT_VERSION = 1
CARD, WEIGHTS = "card.yaml", "model.safetensors"
TRAINER_TENSORS, TRAINER_JSON = "trainer.safetensors", "trainer.json"
CHECKPOINTS = "checkpoints"
REQUIRED_CARD_KEYS = ("unigen_checkpoint", "family", "model_args", "state", "weights_sha256")


# ---------------------------------------------------------------------------------------
# Loading


def load(path, family: str | None = None, device="cpu"):
    """Load a model (eval mode) from a checkpoint, a run directory or a shipped model name
    (resolved by :func:`resolve`); ``model.card`` holds its card.

    ``family``: refuse a checkpoint of any other family. Every failure (missing files, corrupt
    or truncated weights, a card that does not match the weights) is a one-line UsageError.
    """
    directory = resolve(path)
    card = read_card(directory)
    if family is not None and card["family"] != family:
        raise UsageError(f"checkpoint {directory} is a '{card['family']}' model, expected a '{family}' model")
    _check_hash_count(card, directory)
    model = build_model(card, directory)
    tensors = read_tensors(directory / WEIGHTS, expected_sha256=card["weights_sha256"])
    check_finite(tensors, directory / WEIGHTS)
    load_weights(model, model.upgrade_weights(tensors), directory)
    model.card = card
    return model.to(device).eval()


def resolve(name_or_path) -> Path:
    """The checkpoint directory for a model argument: the one place a model name is resolved.

    Priority, first match wins:

    1. an existing path on disk: a checkpoint directory, a file inside one (its weights or
       card), or a run directory (its latest checkpoint);
    2. a shipped model name (``unigen.pretrained.available()``), e.g. ``"gdss-qm9"``;
    3. otherwise a UsageError that lists the shipped names.

    So a directory ``./gdss-qm9`` shadows the shipped model of that name: what you point at on
    disk is what you get, and a path that is not a checkpoint fails loudly instead of silently
    loading a different model. The shipped copy stays reachable as
    ``unigen.pretrained.ROOT / "gdss-qm9"``.
    """
    from unigen import pretrained

    path = Path(name_or_path)
    if not path.exists():
        shipped = pretrained.shipped_path(name_or_path)
        if shipped is not None:
            return shipped
        names = ", ".join(pretrained.available()) or "none in this installation"
        raise UsageError(
            f"model '{name_or_path}' is neither an existing checkpoint path nor a shipped model; shipped models: {names}"
        )
    if path.is_file():
        path = path.parent
    if (path / CARD).is_file():
        return path
    latest = latest_checkpoint(path)
    if latest is None:
        raise UsageError(
            f"{path} is not a unigen checkpoint (no {CARD}) and holds no {CHECKPOINTS}/ to resume from"
        )
    return latest


def latest_checkpoint(run_dir) -> Path | None:
    """The newest intact checkpoint under ``run_dir/checkpoints`` (None if there is none).

    A damaged newer one (truncated or altered weights or trainer state, a corrupt card: a disk
    that lost writes) is skipped with a one-line warning on stderr, so a resume continues from
    the previous good checkpoint.
    """
    found = sorted(p for p in Path(run_dir, CHECKPOINTS).glob("step_*") if (p / CARD).is_file())
    for directory in reversed(found):
        problem = damage(directory)
        if problem is None:
            return directory
        print(f"warning: skipping damaged checkpoint {directory}: {problem}", file=sys.stderr)
    return None


def damage(directory) -> str | None:
    """Why the checkpoint ``directory`` cannot be used (card, weights or trainer state), or None."""
    try:
        card = read_card(directory)
    except UsageError as err:
        return str(err)
    expected = {WEIGHTS: card["weights_sha256"], **(card.get("trainer_sha256") or {})}
    for name, sha in expected.items():
        file = Path(directory) / name
        if not file.is_file() or file_sha256(file) != sha:
            return f"{name} is missing, truncated or altered (it does not match the card's checksum)"
    return None


def read_card(directory) -> dict:
    """Parse and check ``card.yaml`` of a checkpoint directory."""
    file = Path(directory) / CARD
    if not file.is_file():
        raise UsageError(f"checkpoint {directory} has no {CARD}")
    from unigen.config import parse_yaml

    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise UsageError(f"checkpoint {directory}: {CARD} is corrupt: {_first_line(err)}") from None
    card, problem = parse_yaml(text)  # invalid YAML, duplicate keys, alias bombs, nesting too deep
    if problem:
        raise UsageError(f"checkpoint {directory}: {CARD} is corrupt: {problem}")
    missing = [k for k in REQUIRED_CARD_KEYS if not isinstance(card, dict) or k not in card]
    if missing:
        raise UsageError(f"checkpoint {directory}: {CARD} lacks {', '.join(missing)}")
    if not isinstance(card["unigen_checkpoint"], int) or card["unigen_checkpoint"] > FORMAT_VERSION:
        raise UsageError(
            f"checkpoint {directory} uses format {card['unigen_checkpoint']}; upgrade unigen to read it"
        )
    if not isinstance(card["family"], str) or not isinstance(card["state"], dict):
        raise UsageError(f"checkpoint {directory}: {CARD} has a malformed 'family' or 'state'")
    from unigen.config import check_card

    check_card(card, f"checkpoint {directory}")
    return card


def _check_hash_count(card: dict, directory) -> None:
    """A card's ``num_train_hashes`` sizes a buffer filled from the weights: no more than they hold."""
    claimed = card["state"].get("num_train_hashes", 0)
    weights = Path(directory) / WEIGHTS
    if weights.is_file() and 8 * claimed > weights.stat().st_size:
        raise UsageError(
            f"checkpoint {directory}: {CARD} claims {claimed:,} training hashes, more than "
            f"{WEIGHTS} ({weights.stat().st_size:,} bytes) can hold"
        )


def check_finite(tensors: dict, file) -> None:
    """Refuse weights holding NaN or infinity: they sample silently wrong structures."""
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not bool(v.isfinite().all())]
    if bad:
        raise UsageError(f"{file} holds NaN or infinite values in {_few(sorted(bad))}")


def build_model(card: dict, directory):
    """A freshly initialised model of the card's family, arguments and tokenizer state."""
    from unigen.construct import from_dict
    from unigen.models.registry import get_family

    try:
        cls = get_family(card["family"])
    except UsageError as err:
        raise UsageError(f"checkpoint {directory}: {err}") from None
    args = (
        cls.upgrade_model_args(card["model_args"])
        if isinstance(card["model_args"], dict)
        else card["model_args"]
    )
    config = from_dict(cls.Config, args, "model_args", f"checkpoint {directory}")
    try:
        return cls(config, card["state"])
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise UsageError(
            f"checkpoint {directory}: cannot build a '{cls.family}' model from its card: {err}"
        ) from None


def read_tensors(file: Path, expected_sha256: str | None = None) -> dict:
    """All tensors of a safetensors file; corrupt, truncated or altered files give a UsageError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not file.is_file():
        raise UsageError(f"checkpoint {file.parent} has no {file.name}")
    if expected_sha256 is not None and file_sha256(file) != expected_sha256:
        raise UsageError(
            f"checkpoint {file.parent} is corrupt or truncated: {file.name} does not match the card's checksum"
        )
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise UsageError(
            f"checkpoint {file.parent} is corrupt or truncated: {file.name}: {_first_line(err)}"
        ) from None


def load_weights(model, tensors: dict, directory) -> None:
    """Copy ``tensors`` into ``model``, naming any missing, unexpected or mis-shaped tensor."""
    expected = model.state_dict()
    problems = []
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing:
        problems.append(f"missing {_few(missing)}")
    if unexpected:
        problems.append(f"unexpected {_few(unexpected)}")
    shapes = [
        f"{k} {tuple(tensors[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in tensors and tensors[k].shape != v.shape
    ]
    if shapes:
        problems.append(f"shape mismatch {_few(shapes)}")
    if problems:
        raise UsageError(
            f"checkpoint {directory} does not match a '{model.family}' model built from its card: {'; '.join(problems)}"
        )
    model.load_state_dict(tensors)


# ---------------------------------------------------------------------------------------
# Writing


def write_checkpoint(
    directory,
    weights: dict,
    card: dict,
    trainer_tensors: dict | None = None,
    trainer_json: dict | None = None,
) -> Path:
    """Write a checkpoint directory atomically: it appears complete or not at all."""
    import json

    from safetensors.torch import save_file

    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    mask = current_umask()
    tmp.chmod(0o777 & ~mask)  # mkdtemp makes 0700 directories
    try:
        save_file(_contiguous(weights), str(tmp / WEIGHTS))
        card = {**card, "weights_sha256": file_sha256(tmp / WEIGHTS)}
        if trainer_tensors is not None:
            save_file(_contiguous(trainer_tensors), str(tmp / TRAINER_TENSORS))
            (tmp / TRAINER_JSON).write_text(json.dumps(trainer_json, indent=1), encoding="utf-8")
            card["trainer_sha256"] = {
                name: file_sha256(tmp / name) for name in (TRAINER_TENSORS, TRAINER_JSON)
            }
        (tmp / CARD).write_text(yaml.safe_dump(card, sort_keys=False), encoding="utf-8")
        for file in tmp.iterdir():
            file.chmod(0o666 & ~mask)  # safetensors creates its files 0600
            fsync_path(file)
        fsync_path(tmp)
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
        fsync_path(directory.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def make_card(
    model,
    recipe: dict | None,
    dataset: dict | None,
    steps: int,
    metrics: dict,
    parent: dict | None = None,
    weights: str = "raw",
) -> dict:
    """The human-readable description written next to the weights."""
    import dataclasses

    import torch

    from unigen._version import __version__

    return {
        "unigen_checkpoint": FORMAT_VERSION,
        "family": model.family,
        "model_args": dataclasses.asdict(model.config),
        "state": model.card_state(),
        "weights": weights,
        "steps": steps,
        "metrics": metrics,
        "dataset": dataset,
        "recipe": recipe,
        "parent": parent,
        "unigen_version": __version__,
        "torch_version": str(torch.__version__),
        "git_commit": git_commit(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def git_commit() -> str:
    """HEAD of the unigen source tree, or "unknown" outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def file_sha256(file) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _contiguous(tensors: dict) -> dict:
    # safetensors refuses views and shared storage; store independent contiguous copies.
    return {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}


def _few(items, n: int = 3) -> str:
    shown = ", ".join(items[:n])
    return shown + (f" (+{len(items) - n} more)" if len(items) > n else "")


def _first_line(err) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
