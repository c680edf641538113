"""The training engine: everything between ``model.loss(batch)`` and a finished checkpoint.

AdamW (decay on matrices only) with linear warm-up and cosine decay, gradient clipping, EMA
weights, bf16 autocast on GPU, per-step seeding, a tqdm bar, CSV (optionally TensorBoard)
logs, periodic atomic checkpoints, and exact resume: model, optimizer, EMA and the sampler's
(epoch, position) are restored, and the random generators are reseeded from the step.
Multi-GPU runs are launched with ``torchrun``; rank 0 alone logs and writes checkpoints.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import time
from pathlib import Path

import torch

import unigen.distributed as distributed
from unigen import checkpoint as ckpt
from unigen.config import TrainConfig
from unigen.errors import UnigenError, UsageError
from unigen.models.registry import split_loss
from unigen.training.ema import EMA
from unigen.training.logs import CSVLog, TensorBoardLog
from unigen.training.sampler import EpochSampler
from unigen.training.schedule import lr_at
from unigen.training.state import load_optimizer_state, optimizer_state, seed_everything, step_seed


class Trainer:
    """Train ``model`` (a FamilyModel) on pre-encoded ``examples`` as ``cfg`` says.

    ``card`` holds what every checkpoint card records besides the weights: ``recipe``,
    ``dataset`` and ``parent`` (see :func:`unigen.checkpoint.make_card`).
    """

    def __init__(self, model, examples: list, cfg: TrainConfig, out_dir, card: dict | None = None):
        self.model, self.examples, self.cfg = model, examples, cfg
        self.out_dir = Path(out_dir)
        self.card = card or {}
        self.step = 0
        self.metrics: dict = {}

    # -- the loop ----------------------------------------------------------------------

    def fit(self, resume_from=None, on_step=None) -> Path:
        """Run to ``cfg.steps``; return the final checkpoint directory.

        ``resume_from``: a checkpoint written by this engine. ``on_step(step)`` is called after
        every optimizer step (tests use it to interrupt a run).
        """
        device = pick_device(self.cfg.device)
        world = distributed.init_world(device)
        device = (
            torch.device(f"cuda:{world.local_rank}") if device.type == "cuda" and world.size > 1 else device
        )
        threads = torch.get_num_threads()
        try:
            if self.cfg.cpu_threads and device.type == "cpu":
                torch.set_num_threads(self.cfg.cpu_threads)
            wrapped = self._prepare(device, world, resume_from)
            self._loop(wrapped, device, world, on_step)
        finally:
            torch.set_num_threads(threads)
            distributed.close_world(world)
        return self.out_dir / ckpt.CHECKPOINTS / _step_name(self.step)

    def _prepare(self, device, world, resume_from) -> torch.nn.Module:
        """Optimizer, EMA and sampler, restored from ``resume_from`` if given; the wrapped model."""
        model = self.model.to(device)
        self.optimizer = make_optimizer(model, self.cfg)
        self.ema = EMA(model, self.cfg.ema_decay) if self.cfg.ema_decay > 0 else None
        self.sampler = _make_sampler(len(self.examples), self.cfg, world)
        if resume_from is not None:
            self._restore(Path(resume_from))
        return distributed.wrap(model, world, device)

    def _loop(self, wrapped, device, world, on_step) -> None:
        cfg = self.cfg
        logs = self._open_logs(world)
        autocast = _autocast(device, cfg.precision)
        window: list[dict] = []
        with _progress_bar(cfg, self.step, enabled=cfg.progress and world.is_main) as bar:
            while self.step < cfg.steps:
                window.append(self._train_step(wrapped, device, autocast, world))
                self.step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{window[-1]['loss']:.4f}", refresh=False)
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    self.metrics, window = _mean_row(window, self.step, world, device), []
                    for log in logs:
                        log.write(self.metrics)
                if self.step % cfg.ckpt_every == 0 or self.step == cfg.steps:
                    self._save(world)
                if on_step is not None:
                    on_step(self.step)

    def _train_step(self, wrapped, device, autocast, world) -> dict:
        """One optimizer step; returns the values to log."""
        cfg, model = self.cfg, self.model
        seed_everything(step_seed(cfg.seed, self.step, world.rank))
        lr = lr_at(self.step, cfg.lr, cfg.warmup, cfg.steps, cfg.min_lr_ratio)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        batch = _to_device(model.collate([self.examples[i] for i in self.sampler.next_batch()]), device)
        with autocast:
            loss, extras = split_loss(wrapped(batch))
        if not torch.isfinite(loss):
            raise UnigenError(
                f"training loss became {loss.item()} at step {self.step + 1}; try a lower train.lr or train.grad_clip"
            )
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(
            model.parameters(), cfg.grad_clip if cfg.grad_clip > 0 else math.inf
        )
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.update(model)
        return {"loss": loss.item(), "lr": lr, "grad_norm": float(grad_norm), **extras}

    # -- checkpoints ---------------------------------------------------------------------

    def _save(self, world) -> None:
        """Rank 0 writes checkpoints/step_XXXXXXXX atomically and prunes old ones."""
        if world.is_main:
            raw = dict(self.model.state_dict())
            weights = self.ema.weights(self.model) if self.ema is not None else raw
            card = ckpt.make_card(
                self.model,
                self.card.get("recipe"),
                self.card.get("dataset"),
                self.step,
                dict(self.metrics),
                parent=self.card.get("parent"),
                weights="ema" if self.ema is not None else "raw",
            )
            tensors, meta = self._trainer_state(raw)
            ckpt.write_checkpoint(
                self.out_dir / ckpt.CHECKPOINTS / _step_name(self.step), weights, card, tensors, meta
            )
            _prune(self.out_dir / ckpt.CHECKPOINTS, self.cfg.keep_last)
        distributed.barrier(world)

    def _trainer_state(self, raw: dict) -> tuple[dict, dict]:
        tensors, optim_meta = optimizer_state(self.optimizer)
        tensors.update({f"model.{k}": v for k, v in raw.items()})
        if self.ema is not None:
            tensors.update({f"ema.{k}": v for k, v in self.ema.shadow.items()})
        meta = {
            "step": self.step,
            "sampler": self.sampler.state(),
            "optimizer": optim_meta,
            "ema_updates": self.ema.num_updates if self.ema is not None else None,
            "metrics": self.metrics,
        }
        return tensors, meta

    def _restore(self, directory: Path) -> None:
        """Load raw weights, optimizer moments, EMA and sampler position from a checkpoint."""
        if not (directory / ckpt.TRAINER_JSON).is_file():
            raise UsageError(
                f"checkpoint {directory} has no trainer state to resume from (use 'unigen finetune' to start from it)"
            )
        problem = ckpt.damage(directory)
        if problem:
            raise UsageError(f"checkpoint {directory} cannot be resumed: {problem}")
        tensors = ckpt.read_tensors(directory / ckpt.TRAINER_TENSORS)
        meta = _read_json(directory / ckpt.TRAINER_JSON)
        raw = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
        ckpt.load_weights(self.model, raw, directory)
        try:
            self._restore_state(tensors, meta, directory)
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise UsageError(
                f"checkpoint {directory}: trainer state does not fit this run: {type(err).__name__}: {err}"
            ) from None

    def _restore_state(self, tensors: dict, meta: dict, directory: Path) -> None:
        # Optimizer.load_state_dict moves the moments to their parameters' device itself.
        load_optimizer_state(self.optimizer, tensors, meta["optimizer"])
        if self.ema is not None:
            shadow = {k[len("ema.") :]: v for k, v in tensors.items() if k.startswith("ema.")}
            if not shadow:
                raise UsageError(
                    f"checkpoint {directory} was trained without EMA; resume with train.ema_decay=0"
                )
            self.ema.load(shadow, meta["ema_updates"])
        self.sampler.load(meta["sampler"])
        self.step, self.metrics = int(meta["step"]), meta.get("metrics") or {}

    def _open_logs(self, world) -> list:
        """Rank 0's logs; CSV rows after the current step (work lost in a kill) are dropped."""
        if not world.is_main:
            return []
        self.out_dir.mkdir(parents=True, exist_ok=True)
        logs = [CSVLog(self.out_dir / "metrics.csv", resume_step=self.step)]
        if self.cfg.tensorboard:
            logs.append(TensorBoardLog(self.out_dir / "tensorboard"))
        return logs


# ---------------------------------------------------------------------------------------
# Pieces


def pick_device(name: str) -> torch.device:
    """``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``; anything else, or a
    CUDA device this machine lacks, is a one-line UsageError."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    kind, _, index = str(name).partition(":")
    if kind not in ("cpu", "cuda") or (index and not index.isdigit()) or (kind == "cpu" and index):
        raise UsageError(f"device '{name}' is not one of auto, cpu, cuda, cuda:N")
    if kind == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"device '{name}' requested but no CUDA device is available (see 'unigen env')")
    if index and int(index) >= torch.cuda.device_count():
        raise UsageError(f"device '{name}': this machine has {torch.cuda.device_count()} CUDA device(s)")
    return torch.device(name)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices / embeddings only (not on biases and norms)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas))


def _make_sampler(n: int, cfg: TrainConfig, world) -> EpochSampler:
    try:
        return EpochSampler(n, cfg.batch_size, cfg.seed, world.rank, world.size)
    except ValueError as err:
        raise UsageError(f"{err}; lower train.batch_size or add data") from None


def _autocast(device: torch.device, precision: str):
    use_bf16 = precision == "bf16" or (
        precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported()
    )
    if not use_bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def _progress_bar(cfg: TrainConfig, start: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=cfg.steps, initial=start, disable=not enabled, desc="train", dynamic_ncols=True)


def _to_device(obj, device):
    if torch.is_tensor(obj):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj


def _mean_row(window: list[dict], step: int, world, device) -> dict:
    """One log row: each value averaged over the steps since the last row and over processes."""
    means = {k: sum(r[k] for r in window) / len(window) for k in window[0]}
    row = {"step": step, **distributed.mean_across(world, means, device)}
    row["lr"] = window[-1]["lr"]
    row["time"] = round(time.time(), 3)
    return row


def _step_name(step: int) -> str:
    return f"step_{step:08d}"


def _prune(directory: Path, keep: int) -> None:
    """Keep the newest ``keep`` checkpoints; drop half-written ones a killed run left behind."""
    found = sorted(p for p in directory.glob("step_*") if p.is_dir())
    stale = [p for p in directory.glob(".step_*") if p.is_dir()]
    for old in found[: max(len(found) - max(keep, 1), 0)] + stale:
        shutil.rmtree(old, ignore_errors=True)


def _read_json(file: Path) -> dict:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UsageError(f"checkpoint {file.parent} is corrupt or truncated: {file.name}: {err}") from None
