"""Generate structures with a trained model and summarise them (the API behind ``unigen generate``).

    >>> model = unigen.load("gdss-qm9")                        # a shipped model or a checkpoint
    >>> result = generate(model, 1000, seed=0)
    >>> result.summary            # validity w/o correction, validity, uniqueness, novelty
    >>> result.records            # MolGraph (valid molecules after GDSS post-processing) or Graph

For molecules the post-processing is GDSS's (``unigen.chem.validity.gdss_postprocess``):
the +1 charge rule, valency correction, largest fragment. "validity_wo_correction" is GDSS's
number (denominator: all generated graphs); uniqueness is over the valid molecules; novelty is
over the unique valid ones, against the hashes of the training set stored in the checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from unigen.errors import UsageError


@dataclass
class GenerationResult:
    records: list  # MolGraph (meta["smiles"] = canonical SMILES) or Graph
    summary: dict = field(default_factory=dict)


def generate(model, n: int, seed: int = 0, batch_size: int = 1000, progress: bool = False, **sampling) -> GenerationResult:
    """Draw ``n`` samples in batches (fixed seed -> same output) and post-process them."""
    if n < 1:
        raise UsageError(f"number of samples must be positive, got {n}")
    if batch_size < 1:
        raise UsageError(f"batch size must be positive, got {batch_size}")
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    raw = []
    bar = _progress_bar(model, n, batch_size, progress)
    for start in range(0, n, batch_size):
        x, adj, mask = model.sample(min(batch_size, n - start), generator=generator, progress=(lambda _: bar.update(1)) if bar else None, **sampling)
        raw.extend(model.decode(x.cpu(), adj.cpu(), mask.cpu()))
    if bar:
        bar.close()
    if model.config.kind == "molecule":
        return _molecule_result(model, raw)
    return GenerationResult(raw, {"generated": len(raw), "mean_nodes": sum(g.num_nodes for g in raw) / len(raw)})


def _progress_bar(model, n, batch_size, enabled):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    steps = model.config.sampling.steps or model.sde_adj.N
    return tqdm(total=steps * -(-n // batch_size), desc="sampling", unit="step", leave=False)


def _molecule_result(model, graphs) -> GenerationResult:
    from rdkit import Chem, RDLogger

    from unigen.chem.convert import mol_to_graph

    RDLogger.DisableLog("rdApp.*")  # invalid samples are counted, not printed one by one
    from unigen.chem.validity import gdss_postprocess

    valid_wo_correction, records = 0, []
    for graph in graphs:
        ok, mol = gdss_postprocess(graph)
        valid_wo_correction += bool(ok)
        if mol is not None:
            record = mol_to_graph(mol)
            record.meta["smiles"] = Chem.MolToSmiles(mol)
            records.append(record)
    smiles = [r.meta["smiles"] for r in records]
    unique = set(smiles)
    novel = [s for s in unique if model.is_novel(s)] if model.train_hashes.numel() else None
    summary = {
        "generated": len(graphs),
        "validity_wo_correction": valid_wo_correction / len(graphs),
        "validity": len(records) / len(graphs),
        "uniqueness": len(unique) / max(len(records), 1),
        "novelty": None if novel is None else len(novel) / max(len(unique), 1),
    }
    return GenerationResult(records, summary)
