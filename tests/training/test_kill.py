"""Real kills: SIGKILL a training process (and a 2-process torchrun job), resume, compare.

Slow (each CLI process imports the whole stack); the fast in-process twin is
``test_engine.py::test_a_run_killed_and_resumed_ends_with_the_same_weights``.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "recipes" / "tiny" / "toy.yaml"
SETS = [
    "train.steps=60",
    "train.ckpt_every=5",
    "train.keep_last=20",
    "train.progress=false",
    "shared.width=16",
    "train.batch_size=8",
]

pytestmark = pytest.mark.slow


def _command(out: Path, nproc: int, *extra) -> list[str]:
    launcher = [sys.executable, "-m", "unigen.cli"]
    if nproc > 1:
        launcher = [shutil.which("torchrun") or "torchrun", f"--nproc_per_node={nproc}", "-m", "unigen.cli"]
    sets = [a for s in SETS + [f"train.out_dir={out}"] for a in ("--set", s)]
    return [*launcher, "train", str(TINY), *sets, *extra]


def _run(command):
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]


def _kill_after_first_checkpoint(command, out: Path, checkpoints: int = 1) -> None:
    proc = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        while proc.poll() is None and len(list((out / "checkpoints").glob("step_*"))) < checkpoints:
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode != 0, "the run finished before it could be killed"


@pytest.mark.parametrize("nproc", [1, 2])
def test_sigkilled_run_resumes_to_the_uninterrupted_weights(tmp_path, nproc):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    _run(_command(straight, nproc))
    _kill_after_first_checkpoint(_command(killed, nproc), killed)
    assert not (killed / "checkpoints" / "step_00000060").exists()
    _run(_command(killed, nproc, "--resume", str(killed)))
    for name in ("model.safetensors", "trainer.safetensors"):
        a = load_file(straight / "checkpoints" / "step_00000060" / name)
        b = load_file(killed / "checkpoints" / "step_00000060" / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


def test_a_truncated_latest_checkpoint_resumes_from_the_previous_one(tmp_path):
    """A disk that lost the end of the newest checkpoint's writes: resume skips it, bit-exact."""
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    _run(_command(straight, 1))
    _kill_after_first_checkpoint(_command(killed, 1), killed, checkpoints=2)
    latest = sorted((killed / "checkpoints").glob("step_*"))[-1]
    data = (latest / "trainer.safetensors").read_bytes()
    (latest / "trainer.safetensors").write_bytes(data[: len(data) // 3])
    _run(_command(killed, 1, "--resume", str(killed)))
    for name in ("model.safetensors", "trainer.safetensors"):
        a = load_file(straight / "checkpoints" / "step_00000060" / name)
        b = load_file(killed / "checkpoints" / "step_00000060" / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
