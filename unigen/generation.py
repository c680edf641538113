"""Generate structures with a trained model and summarise them (the API behind ``unigen generate``).

    >>> model = unigen.load("gdss-qm9")                        # a shipped model or a checkpoint
    >>> result = generate(model, 1000, seed=0, steps=50)       # any option of the model's Sampling
    >>> result.summary            # e.g. validity w/o correction, validity, uniqueness, novelty
    >>> result.records            # records of ``model.record_type``

This module knows no family: it validates the options through the model's ``Sampling``
dataclass, batches and seeds, shows progress sized from the sampler's real step count, calls
``model.sample`` / ``model.decode`` (the family contract, ``unigen.models.registry``) and
hands the records to ``unigen.chem.summary``.

Seeds: batch ``k`` of a run with seed ``s`` draws from its own generator (seed ``s`` for the
first batch, a hash of ``(s, k)`` after), so the output depends on ``s``, ``n`` and the batch
size only, not on how many processes share the work. Under ``torchrun`` each rank samples the
batches ``k = rank, rank + world, ...``; rank 0 receives them all, in batch order, and
alone summarises them (the other ranks return an empty result).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from unigen.errors import UsageError


@dataclass
class GenerationResult:
    records: list  # records of model.record_type, after the summary's post-processing
    summary: dict = field(default_factory=dict)


def generate(
    model, n: int, seed: int = 0, batch_size: int = 1000, progress: bool = False, conditions=None, **options
) -> GenerationResult:
    """Draw ``n`` samples in batches of ``batch_size`` and summarise them (rank 0 under torchrun)."""
    from unigen.distributed import batch_seed, gather_objects, init_world

    if n < 1:
        raise UsageError(f"number of samples must be positive, got {n}")
    if batch_size < 1:
        raise UsageError(f"batch size must be positive, got {batch_size}")
    opts = model.sampling_options(**options)
    device = next(model.parameters()).device
    world = init_world(device)
    batches = [(k, min(batch_size, n - start)) for k, start in enumerate(range(0, n, batch_size))]
    mine = batches[world.rank :: world.size]
    bar = _progress_bar(model.num_sampling_steps(opts) * len(mine), progress and world.is_main)
    decoded = {}
    for k, size in mine:
        generator = torch.Generator(device=device).manual_seed(batch_seed(seed, k))
        step = None if bar is None else (lambda _: bar.update(1))
        raw = model.sample(size, generator=generator, options=opts, conditions=conditions, progress=step)
        decoded[k] = model.decode(raw)
    if bar is not None:
        bar.close()
    parts = gather_objects(world, decoded)
    if not world.is_main:  # rank 0 summarises and writes; the others only sampled
        return GenerationResult([], {})
    merged = {k: v for part in parts for k, v in part.items()}
    records = [record for k in sorted(merged) for record in merged[k]]
    from unigen.chem.summary import summarise

    hashes = getattr(model, "train_hashes", None)
    written, summary = summarise(records, None if hashes is None else hashes.cpu().numpy())
    return GenerationResult(written, summary)


def _progress_bar(total_steps: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total_steps, desc="sampling", unit="step", leave=False) if enabled else None
