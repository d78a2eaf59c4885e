"""Shared test settings: one thread per process, and where ../shared's benchmark maps are."""
import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)

BENCHMARK_DIR = Path(os.environ.get(
    "SRMT_BENCHMARK_DIR", Path(__file__).resolve().parents[2] / "shared" / "maps" / "pogema-benchmark"))
"""The POGEMA benchmark suites beside the project (../shared); tests that need them skip without."""


@pytest.fixture
def no_spawn(monkeypatch):
    """Fail the test if training would start (every error must come before)."""
    import train.run

    def spawned(*args, **kwargs):
        raise AssertionError("training started although the input was invalid")
    monkeypatch.setattr(train.run, "run_training", spawned)
