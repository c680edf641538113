"""Benchmark datasets: raw files under ``data_dir()``, processed caches under ``cache_dir()``.

    from unigen.data import load_dataset, load_smiles, list_datasets, dataset_info
    test = load_dataset("qm9", "test")          # MolGraph sequence, GDSS index reading
    smiles = load_smiles("moses", "train")      # list[str], no RDKit

Each dataset lives in one file under ``unigen/data/datasets/`` with a STATS table in its
docstring; ``unigen data list`` shows them all and which files are present.
"""

from unigen.data.registry import dataset_info, get_dataset, list_datasets, load_dataset, load_smiles

__all__ = ["dataset_info", "get_dataset", "list_datasets", "load_dataset", "load_smiles"]
