"""``unigen generate`` under torchrun: ranks split the batches, rank 0 writes what one process writes."""

import os
import subprocess
import sys

import pytest

from unigen.pretrained import available

GRAPH_MODEL = "gdss-community-small"


@pytest.mark.slow
@pytest.mark.skipif(GRAPH_MODEL not in available(), reason="graph model not shipped")
def test_two_ranks_write_the_single_process_output(tmp_path):
    args = ["generate", "--model", GRAPH_MODEL, "-n", "6", "--batch-size", "2", "--steps", "3", "--seed", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launcher = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "unigen.cli",
    ]
    run = subprocess.run(
        [*launcher, *args, "-o", str(tmp_path / "two.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[:3000]  # the ranks' own messages come before torchrun's summary
    assert run.stdout.count("wrote 6 structures") == 1  # only rank 0 writes and reports
    single = subprocess.run(
        [sys.executable, "-m", "unigen.cli", *args, "-o", str(tmp_path / "one.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert single.returncode == 0, single.stderr[-2000:]
    assert (tmp_path / "two.json").read_text() == (tmp_path / "one.json").read_text()
