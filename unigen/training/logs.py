"""Training logs: a CSV file (always) and TensorBoard events (optional)."""

from __future__ import annotations

import csv
from pathlib import Path

from unigen.atomic import atomic_write
from unigen.errors import UsageError


class CSVLog:
    """Append rows of ``{column: value}`` to ``metrics.csv``, first dropping rows after ``resume_step``.

    Columns are fixed by the first row written (later unknown keys are ignored) so that the
    file stays rectangular.
    """

    def __init__(self, path, resume_step: int | None = None):
        self.path = Path(path)
        self.columns: list[str] | None = None
        if resume_step is not None and self.path.is_file():
            if resume_step == 0:
                self.path.unlink()  # a fresh run: rows of a run killed before its first checkpoint
            else:
                self._truncate_after(resume_step)

    def write(self, row: dict) -> None:
        new = self.columns is None and not self.path.is_file()
        if self.columns is None:
            self.columns = self._existing_columns() or list(row)
        with self.path.open("a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(
                handle, fieldnames=self.columns, extrasaction="ignore", lineterminator="\n"
            )
            if new:
                writer.writeheader()
            writer.writerow(row)

    def _existing_columns(self) -> list[str] | None:
        if not self.path.is_file():
            return None
        with self.path.open(newline="", encoding="utf-8") as handle:
            return next(csv.reader(handle), None)

    def _truncate_after(self, step: int) -> None:
        with self.path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        columns = self._existing_columns() or []
        with atomic_write(self.path) as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(r for r in rows if int(r["step"]) <= step)


class TensorBoardLog:
    """Scalars to TensorBoard (``torch.utils.tensorboard`` needs the tensorboard package)."""

    def __init__(self, directory):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise UsageError(
                "train.tensorboard=true needs the tensorboard package: pip install tensorboard"
            ) from None
        self.writer = SummaryWriter(str(directory))

    def write(self, row: dict) -> None:
        for key, value in row.items():
            if key != "step" and isinstance(value, (int, float)):
                self.writer.add_scalar(key, value, row["step"])
        self.writer.flush()
