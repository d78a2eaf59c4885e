"""Shared test settings: one thread per process, and where the shipped benchmark maps are."""
import os
from pathlib import Path

import pytest
import torch

from maps.registry import BENCHMARK_DIR as SHIPPED_BENCHMARK

os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)

BENCHMARK_DIR = Path(os.environ.get("SRMT_BENCHMARK_DIR", SHIPPED_BENCHMARK))
"""The POGEMA benchmark suites: the copy srmt ships, or SRMT_BENCHMARK_DIR when set."""


@pytest.fixture
def no_spawn(monkeypatch):
    """Fail the test if training would start (every error must come before)."""
    import train.run

    def spawned(*args, **kwargs):
        raise AssertionError("training started although the input was invalid")
    monkeypatch.setattr(train.run, "run_training", spawned)
