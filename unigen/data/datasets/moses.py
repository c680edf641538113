"""MOSES: the Molecular Sets benchmark (ZINC Clean Leads), with its standard splits."""

from __future__ import annotations

from unigen.data.datasets._smiles import SmilesDataset, read_lines
from unigen.data.registry import RawFile, register

WHEEL = "https://files.pythonhosted.org/packages/py3/m/molsets/molsets-0.3.1-py3-none-any.whl"


def _moses_file(split: str, sha256: str) -> RawFile:
    return RawFile(f"moses/{split}.csv.gz", WHEEL, sha256, member=f"moses/dataset/data/{split}.csv.gz")


@register
class Moses(SmilesDataset):
    """MOSES (Polykovskiy et al. 2020), copied from the ``molsets==0.3.1`` PyPI wheel.

    Files: ``moses/{train,test,test_scaffolds}.csv.gz`` (header ``SMILES``). ``test`` is the
    random test set; ``test_scaffolds`` holds scaffolds unseen in train.

    The training set is large: ``load_smiles("moses", split)`` is the fast path, and
    ``load_dataset`` is lazy by default (``lazy=True``: each MolGraph is built from its
    SMILES when indexed). ``lazy=False`` converts the whole split once into the processed
    cache (minutes for train). Meta: ``smiles``, ``row`` (0-based data row of the file).

    STATS:

        | split          | structures | source                         |
        |----------------|-----------:|--------------------------------|
        | train          | 1,584,663  | train.csv.gz                   |
        | test           | 176,074    | test.csv.gz                    |
        | test_scaffolds | 176,225    | test_scaffolds.csv.gz          |
    """

    name = "moses"
    splits = ("train", "test", "test_scaffolds")
    files = (
        _moses_file("train", "786f0313aa6b9ba5"),
        _moses_file("test", "f896fbf3764f88d9"),
        _moses_file("test_scaffolds", "adffb2192c1bfe31"),
    )
    defaults = SmilesDataset.defaults | {"lazy": True}

    def files_for(self, split, options):
        return [self.files[self.splits.index(split)]]

    def read(self, path):
        return read_lines(path, header="SMILES")
