"""Shared test settings and fixtures: one thread per process, the benchmark maps, subprocess helpers, results
built once per run for every xdist worker."""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from maps.registry import BENCHMARK_DIR as SHIPPED_BENCHMARK
from common.device import limit_threads

limit_threads(1)

BENCHMARK_DIR = Path(os.environ.get("SRMT_BENCHMARK_DIR", SHIPPED_BENCHMARK))
"""The POGEMA benchmark suites: the copy srmt ships, or SRMT_BENCHMARK_DIR when set."""

ASTAR_EPISODE = {"CSR": 1.0, "ISR": 1.0, "SoC": 99, "makespan": 54, "ep_length": 54}
"""The recorded A* episode of bottleneck-3, seed 0, agent seed 0 (Bottleneck test length 106): agent 1
arrives on step 45, agent 0 on step 54. Pinned here once for every test that plays it (agents, evaluation)."""


@pytest.fixture
def no_spawn(monkeypatch):
    """Fail the test if training would start (every error must come before)."""
    import train.run

    def spawned(*args, **kwargs):
        raise AssertionError("training started although the input was invalid")
    monkeypatch.setattr(train.run, "run_training", spawned)


@pytest.fixture
def no_plot(monkeypatch):
    """evaluate() without drawing plot.png (most of a tiny evaluation's time), for tests that do not read
    it; tests/test_eval_evaluate.py checks the plot where it pins a report."""
    import eval.tables

    monkeypatch.setattr(eval.tables, "plot", lambda rows, suite, algorithms, path, labels=None: path)


ROOT = Path(__file__).resolve().parents[1]


def srmt(*args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, **kwargs)


def finish(proc: subprocess.Popen, timeout: float) -> tuple[int, str, float]:
    """(exit code, stdout + stderr, seconds waited); kills the whole group on timeout (a hang)."""
    started = time.time()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"hung for more than {timeout} s:\n{(out + err)[-3000:]}")
    return proc.returncode, out + err, time.time() - started


def wait_for(predicate, proc: subprocess.Popen, timeout: float = 90, log: Path | None = None) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if proc.poll() is not None:
            err = log.read_text() if log is not None else proc.communicate()[1]  # `log`: where stderr went
            pytest.fail(f"exited early ({proc.returncode}): {err[-2000:]}")
        if time.time() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("timed out waiting for the run to progress")
        time.sleep(0.2)


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]) -> Path:
    """A folder that `build(folder)` fills once per test run however many xdist workers ask for it: the first
    takes a file lock and builds in the run's common temp dir, the others wait for the lock and reuse it."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    with FileLock(f"{folder}.lock"):
        if not (folder / ".built").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / ".built").touch()
    return folder
