"""Shared test set-up: data locations, a fixed seed for every test."""

import os
import random
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("UNIGEN_DATA_DIR", str(REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session", autouse=True)
def _processed_cache(tmp_path_factory):
    """Processed caches go to a fresh temporary directory, never next to the raw data."""
    if "UNIGEN_CACHE_DIR" not in os.environ:
        os.environ["UNIGEN_CACHE_DIR"] = str(tmp_path_factory.mktemp("unigen-cache"))
    yield


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Test models are tiny: one intra-op thread is fastest and avoids oversubscribing CI's 2 cores."""
    import torch

    torch.set_num_threads(1)
    yield


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)
    try:
        import torch

        torch.manual_seed(0)
    except ImportError:  # pragma: no cover
        pass


def data_path(*parts) -> Path:
    return Path(os.environ["UNIGEN_DATA_DIR"]).joinpath(*parts)


def requires_data(*parts):
    """Skip a test when a benchmark file is absent (a user's checkout without ../shared/data)."""
    return pytest.mark.skipif(
        not data_path(*parts).exists(), reason=f"benchmark file {'/'.join(parts)} not available"
    )
