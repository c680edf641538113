"""Run corpus cases (``fuzz.corpus``) in worker processes, each case under a time limit and an
address-space cap, and sort every outcome into clean / traceback / crash / hang.

A worker imports unigen once and runs cases one after another in-process through
``unigen.cli.main`` (so a thousand cases do not pay a thousand start-ups), reporting each
result over a pipe of its own. A case that kills its worker (SIGSEGV, the memory cap) is a
crash; one that outlives the limit is a hang (the worker is then killed and replaced).

Clean means: exit code 0, 1 or 2, no traceback on stderr and, on failure, exactly one
``error: ...`` line.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

VERDICTS = ("clean", "traceback", "crash", "hang")


@dataclass
class Outcome:
    name: str
    category: str
    argv: list
    verdict: str
    code: int | None
    message: str  # the error line, the traceback's last line, or the signal
    seconds: float
    peak_mb: float  # the worker's peak resident memory during this case (0 if unknown)


def run(cases, root, timeout: float = 60.0, memory_gb: float = 4.0) -> list[Outcome]:
    """Outcomes of ``cases`` in order; workers start in ``root`` (scratch files go there)."""
    outcomes: list[Outcome] = []
    pending = list(cases)
    while pending:
        worker = _Worker(Path(root), timeout, memory_gb)
        try:
            while pending:
                case = pending[0]
                outcome = worker.run(case)
                outcomes.append(outcome)
                pending.pop(0)
                if outcome.verdict in ("crash", "hang"):
                    break  # a fresh worker for the rest
        finally:
            worker.close()
    return outcomes


def counts(outcomes) -> dict:
    return {verdict: sum(o.verdict == verdict for o in outcomes) for verdict in VERDICTS}


class _Worker:
    def __init__(self, root: Path, timeout: float, memory_gb: float):
        self.timeout = timeout
        read, write = os.pipe()
        env = dict(os.environ, UNIGEN_CACHE_DIR=str(root / "cache"), OMP_NUM_THREADS="1")
        self.proc = subprocess.Popen(
            [sys.executable, __file__, str(write), str(timeout), str(memory_gb)],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(write,),
            env=env,
            start_new_session=True,
            text=True,
        )
        os.close(write)
        self.results = os.fdopen(read, "r")
        self._wait_for(300.0)  # the worker says "ready" once the stack is imported

    def run(self, case) -> Outcome:
        started = time.monotonic()
        self.proc.stdin.write(json.dumps(asdict(case)) + "\n")
        self.proc.stdin.flush()
        line = self._wait_for(self.timeout + 15.0)
        seconds = time.monotonic() - started
        if line is None:
            if self.proc.poll() is None:
                return Outcome(
                    case.name,
                    case.category,
                    case.argv,
                    "hang",
                    None,
                    f"over {self.timeout:.0f} s",
                    seconds,
                    0.0,
                )
            signal_ = -self.proc.returncode if self.proc.returncode < 0 else None
            why = f"worker died (signal {signal_})" if signal_ else f"worker exited {self.proc.returncode}"
            return Outcome(
                case.name, case.category, case.argv, "crash", self.proc.returncode, why, seconds, 0.0
            )
        return Outcome(**json.loads(line))

    def _wait_for(self, seconds: float) -> str | None:
        ready, _, _ = select.select([self.results], [], [], seconds)
        if not ready:
            return None
        line = self.results.readline()
        return line or None

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, 9)
        self.proc.wait()
        self.results.close()


# ---------------------------------------------------------------------------------------
# The worker side


class _Hang(BaseException):
    """Raised by the alarm; a BaseException so that no ``except Exception`` swallows it."""


def _worker(fd: int, timeout: float, memory_gb: float) -> None:
    import resource
    import signal

    import pymatgen.core  # noqa: F401  (the heavy imports happen before the cap)
    import rdkit.Chem  # noqa: F401
    import torch  # noqa: F401

    import unigen.cli  # noqa: F401

    cap = int(memory_gb * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    signal.signal(signal.SIGALRM, _on_alarm)
    out = os.fdopen(fd, "w")
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        case = json.loads(line)
        out.write(json.dumps(_run_case(case, timeout)) + "\n")
        out.flush()


def _on_alarm(*_):
    raise _Hang


def _run_case(case: dict, timeout: float) -> dict:
    import signal

    from unigen.cli import main

    _reset_peak_memory()
    stderr, started = io.StringIO(), time.monotonic()
    code, escaped = None, None
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
            code = main(case["argv"])
    except _Hang:
        escaped = "hang"
    except BaseException as err:  # noqa: BLE001  (anything escaping main is the finding)
        escaped = f"{type(err).__name__}: {str(err)[:200]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    verdict, message = _verdict(code, escaped, stderr.getvalue())
    return dict(
        case,
        verdict=verdict,
        code=code,
        message=message,
        seconds=time.monotonic() - started,
        peak_mb=_peak_mb(),
    )


def _verdict(code, escaped, err: str) -> tuple[str, str]:
    if escaped == "hang":
        return "hang", "over the time limit"
    if escaped is not None:
        return "traceback", escaped
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    if "Traceback (most recent call last)" in err:
        return "traceback", err.strip().splitlines()[-1][:200]
    if code not in (0, 1, 2) or (code != 0 and len(errors) != 1):
        return "traceback", f"exit {code} with {len(errors)} error lines: {err.strip()[-200:]!r}"
    return "clean", errors[0][:200] if errors else "ok"


def _reset_peak_memory() -> None:
    with contextlib.suppress(OSError):
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # resets VmHWM, the peak resident set


def _peak_mb() -> float:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


if __name__ == "__main__":
    _worker(int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]))
