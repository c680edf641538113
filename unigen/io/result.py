"""What every reader returns: the good records and one RecordError per bad record."""

from __future__ import annotations

from dataclasses import dataclass, field

from unigen.errors import RecordError, UnigenError


@dataclass
class ReadResult:
    """Records read from ``source``, in file order, and the records that were skipped.

    records: unigen structures (MolGraph, Molecule3D, Crystal, Graph) or raw SMILES strings;
        each structure's ``meta["record"]`` is its 1-based record number in the file, the same
        number an error for that record would carry.
    errors: one ``RecordError`` per skipped record; ``str(error)`` is a one-line message
        naming the file, the record and (for line-based formats) the line.
    """

    records: list
    errors: list[RecordError] = field(default_factory=list)
    source: str = ""

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def raise_if_empty(self) -> "ReadResult":
        """Raise a one-line UnigenError when no record could be read; else return self."""
        if self.records:
            return self
        if not self.errors:
            raise UnigenError(f"{self.source}: no records found")
        more = f" (and {len(self.errors) - 1} more bad records)" if len(self.errors) > 1 else ""
        raise UnigenError(f"no readable records: {self.errors[0]}{more}")

    def summary(self) -> str:
        """One line for a CLI: how many records were read and how many were skipped."""
        line = f"{self.source}: read {len(self.records)} records"
        return line + (f", skipped {len(self.errors)} bad records" if self.errors else "")
