"""Generate structures with a trained model and summarise them (the API behind ``unigen generate``).

    >>> model = unigen.load("gdss-qm9")                        # a shipped model or a checkpoint
    >>> result = generate(model, 1000, seed=0, steps=50)       # any option of the model's Sampling
    >>> result.summary            # e.g. validity w/o correction, validity, uniqueness, novelty
    >>> result.records            # records of ``model.record_type``

This module knows no family: it validates the options through the model's ``Sampling``
dataclass, batches and seeds, shows progress sized from the sampler's real step count
(``--steps`` included; ``unigen.progress``), calls ``model.sample`` / ``model.decode`` (the
family contract, ``unigen.models.registry``) and hands the records to ``unigen.chem.summary``.
``GenerationStream`` yields the records batch by batch (what ``unigen generate`` writes);
``generate`` collects them.

Seeds: batch ``k`` of a run with seed ``s`` draws from its own generator (seed ``s`` for the
first batch, a hash of ``(s, k)`` after), so the output depends on ``s``, ``n`` and the batch
size only, not on how many processes share the work. Under ``torchrun`` each rank samples the
batches ``k = rank, rank + world, ...``; rank 0 receives them all, in batch order, and
alone summarises them (the other ranks return an empty result).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from unigen.errors import UnigenError, UsageError


@dataclass
class GenerationResult:
    records: list  # records of model.record_type, after the summary's post-processing
    summary: dict = field(default_factory=dict)


def generate(
    model, n: int, seed: int = 0, batch_size: int = 1000, progress=False, conditions=None, **options
) -> GenerationResult:
    """Draw ``n`` samples in batches of ``batch_size`` and summarise them (rank 0 under torchrun)."""
    stream = GenerationStream(model, n, seed, batch_size, progress, conditions, **options)
    records = list(stream)
    return GenerationResult(records, stream.summary)


class GenerationStream:
    """The records of a run, yielded batch by batch as each batch is sampled and post-processed.

    Only one batch is held at a time (under torchrun rank 0 gathers every batch, as before).
    Options are checked here, before anything is sampled; ``summary`` is filled once the
    stream is exhausted. ``unigen generate`` hands the stream to ``unigen.io.write``, which
    writes it into a temporary file renamed at the end: a stopped run leaves no file.
    ``progress``: True / None report (a bar on a terminal, a line every ~10 s when piped).
    """

    def __init__(self, model, n: int, seed=0, batch_size=1000, progress=False, conditions=None, **options):
        from unigen.distributed import init_world

        if n < 1:
            raise UsageError(f"number of samples must be positive, got {n}")
        if batch_size < 1:
            raise UsageError(f"batch size must be positive, got {batch_size}")
        self.model, self.seed, self.conditions, self.progress = model, seed, conditions, progress
        self.options = model.sampling_options(**options)
        self.device = next(model.parameters()).device
        self.world = init_world(self.device)
        batches = [(k, min(batch_size, n - start)) for k, start in enumerate(range(0, n, batch_size))]
        self.mine = batches[self.world.rank :: self.world.size]
        self.summary: dict = {}

    def __iter__(self):
        from unigen.chem.summary import Summary
        from unigen.progress import progress_bar

        hashes = getattr(self.model, "train_hashes", None)
        summary = Summary(None if hashes is None else hashes.cpu().numpy())
        total = self.model.num_sampling_steps(self.options) * len(self.mine)
        enabled = self.progress is not False and self.world.is_main
        with (
            cpu_threads(self.device, self.world.size),
            progress_bar(total, "sampling", "step", enabled=None if enabled else False) as bar,
        ):
            for records in self._batches(bar):
                yield from summary.add(records)
        self.summary = summary.result() if self.world.is_main else {}

    def _batches(self, bar):
        """Decoded batches in batch order: one at a time, or all at once on rank 0 under torchrun."""
        from unigen.distributed import gather_objects

        if self.world.size == 1:
            for k, size in self.mine:
                yield self._sample(k, size, bar)
            return
        decoded = {k: self._sample(k, size, bar) for k, size in self.mine}
        parts = gather_objects(self.world, decoded)
        if self.world.is_main:  # rank 0 summarises and writes; the others only sampled
            merged = {k: v for part in parts for k, v in part.items()}
            yield [record for k in sorted(merged) for record in merged[k]]

    def _sample(self, k: int, size: int, bar) -> list:
        from unigen.distributed import batch_seed

        generator = torch.Generator(device=self.device).manual_seed(batch_seed(self.seed, k))
        step = lambda _: bar.update(1)  # samplers call progress(step index) once per step
        raw = self.model.sample(
            size, generator=generator, options=self.options, conditions=self.conditions, progress=step
        )
        _refuse_non_finite(raw, k)
        return self.model.decode(raw)


_TORCH_DEFAULT_THREADS = torch.get_num_threads()  # before any caller's torch.set_num_threads


@contextmanager
def cpu_threads(device, processes: int = 1):
    """Sample with one torch thread per idle core, unless told otherwise (``OMP_NUM_THREADS`` or a
    ``torch.set_num_threads`` call, after this module was imported, that changed torch's default);
    restored afterwards.

    Why not all cores: samplers run thousands of small steps, each a few hundred small operators,
    and every operator waits for its slowest thread. A core busy with another job stalls each of
    them: on the 2-core development VM with one training run, two threads sampled GDSS ~10x
    slower than one (issue 16). Idle cores: usable cores minus the 1-minute load average, shared
    among ``processes`` (torchrun ranks on one machine).
    """
    old = torch.get_num_threads()
    told = "OMP_NUM_THREADS" in os.environ or old != _TORCH_DEFAULT_THREADS
    if torch.device(device).type != "cpu" or told:
        yield old
        return
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    idle = usable - round(os.getloadavg()[0]) if hasattr(os, "getloadavg") else usable
    torch.set_num_threads(max(1, min(old, idle) // max(1, processes)))
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(old)


def _refuse_non_finite(raw, batch: int) -> None:
    """NaN or infinity in sampled tensors would decode to blank records scored valid: refuse them."""
    tensors = raw.values() if isinstance(raw, dict) else raw if isinstance(raw, (list, tuple)) else [raw]
    for tensor in tensors:
        if (
            isinstance(tensor, torch.Tensor)
            and tensor.is_floating_point()
            and not bool(tensor.isfinite().all())
        ):
            raise UnigenError(
                f"sampling batch {batch} produced NaN or infinite values; the model or the sampling "
                "options (e.g. snr, scale_eps, steps) are numerically unstable"
            )
