"""``unigen.generation.cpu_threads``: one torch thread per idle core unless the caller chose."""

import pytest
import torch

from unigen import generation


@pytest.fixture
def two_cores(monkeypatch):
    """A 2-core machine whose torch default is 2 threads; the test sets the load average."""
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    monkeypatch.setattr(generation, "_TORCH_DEFAULT_THREADS", 2)
    monkeypatch.setattr(generation.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    yield lambda load: monkeypatch.setattr(generation.os, "getloadavg", lambda: (load, load, load))
    torch.set_num_threads(old)


@pytest.mark.parametrize("load, processes, expected", [(0.1, 1, 2), (1.0, 1, 1), (3.0, 1, 1), (0.0, 2, 1)])
def test_threads_follow_the_idle_cores(two_cores, load, processes, expected):
    two_cores(load)
    with generation.cpu_threads("cpu", processes) as threads:
        assert threads == torch.get_num_threads() == expected
    assert torch.get_num_threads() == 2


def test_a_choice_of_the_caller_is_kept(two_cores, monkeypatch):
    two_cores(1.0)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    with generation.cpu_threads("cpu") as threads:
        assert threads == 2
    monkeypatch.delenv("OMP_NUM_THREADS")
    torch.set_num_threads(1)  # a benchmark's --threads 1 on a quiet machine
    two_cores(0.0)
    with generation.cpu_threads("cpu") as threads:
        assert threads == 1
