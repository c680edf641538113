"""Progress of long jobs: a tqdm bar on a terminal, a plain line every ~10 s when piped.

    >>> with progress_bar(total=500, desc="sampling", unit="step") as bar:
    ...     for _ in range(500):
    ...         bar.update(1)

``enabled=None`` (the default) means "always report": a bar when stderr is a terminal, plain
lines (``sampling: 120/500 step (24 %), 31 s, ~98 s left``) every ``interval`` seconds
otherwise, so a job under ``nohup`` or in CI shows it is alive. ``enabled=False`` is silent.
A total is allowed to be an estimate (autoregressive samplers stop when their sequences end): a
job that runs past it grows the total instead of reporting more than 100 %.
"""

from __future__ import annotations

import sys
import time

INTERVAL_S = 10.0


def progress_bar(total: int, desc: str, unit: str = "it", enabled: bool | None = None, interval=None):
    """A bar (terminal), a :class:`LineProgress` (piped) or a silent :class:`NoProgress`."""
    if enabled is False or total <= 0:
        return NoProgress()
    if sys.stderr.isatty():
        from tqdm.auto import tqdm

        class GrowingBar(tqdm):
            def update(self, n=1):
                self.total = max(self.total, self.n + n)
                return super().update(n)

        return GrowingBar(total=total, desc=desc, unit=unit, leave=False)
    return LineProgress(total, desc, unit, INTERVAL_S if interval is None else interval)


class NoProgress:
    """Accepts the calls a bar gets and prints nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LineProgress(NoProgress):
    """One plain line on stderr at most every ``interval`` seconds, and one at the end of a job
    that printed any (a job shorter than ``interval`` prints nothing)."""

    def __init__(self, total: int, desc: str, unit: str = "it", interval: float = INTERVAL_S, stream=None):
        self.total, self.desc, self.unit, self.interval = total, desc, unit, interval
        self.stream = stream or sys.stderr
        self.done, self.start = 0, time.monotonic()
        self.last = self.start
        self.closed, self.printed = False, False

    def update(self, n: int = 1) -> None:
        self.done += n
        self.total = max(self.total, self.done)
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self._print(now)

    def close(self) -> None:
        if not self.closed and self.printed:
            self._print(time.monotonic())
        self.closed = True

    def _print(self, now: float) -> None:
        elapsed = now - self.start
        line = f"{self.desc}: {self.done}/{self.total} {self.unit} ({100 * self.done / self.total:.0f} %), {elapsed:.0f} s"
        if 0 < self.done < self.total:
            line += f", ~{elapsed * (self.total - self.done) / self.done:.0f} s left"
        print(line, file=self.stream, flush=True)
        self.printed = True
