"""Training with snapshots: run `srmt train` as a child process and copy its exported policy
each time a checkpoint rewrites it (the learning benchmarks evaluate the copies afterwards,
so evaluation never competes with training for the CPU)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path


def snapshot_path(snapshots: Path, seconds: float) -> Path:
    """Where the snapshot taken `seconds` after the training started goes (`policy-<seconds>s.pt`)."""
    return snapshots / f"policy-{seconds:07.1f}s.pt"


def snapshot_wall_minutes(path: Path) -> float:
    """Wall-clock minutes since the training started, from a snapshot's name (`policy-<seconds>s.pt`)."""
    return float(path.stem.split("-")[1].rstrip("s")) / 60


def train_with_snapshots(command: list[str], experiment: Path, snapshots: Path, log_path: Path,
                         poll_seconds: float = 2.0) -> int:
    """Run `command` (a training that writes `experiment/policy.pt`) with one intra-op thread, logging
    to `log_path`; copy every new policy.pt to `snapshots/policy-<seconds since start>s.pt`.

    Returns:
        The training's exit code.

    On Ctrl-C / SIGTERM (KeyboardInterrupt here) the training gets SIGINT, so it saves and exports as
    `srmt train` does on Ctrl-C, and is waited for before the interrupt goes on.
    """
    snapshots.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    started, seen = time.time(), None
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            while True:
                done = proc.poll() is not None
                policy = experiment / "policy.pt"
                if policy.is_file() and policy.stat().st_mtime != seen:
                    seen = policy.stat().st_mtime
                    shutil.copy(policy, snapshot_path(snapshots, time.time() - started))
                if done:
                    return proc.returncode
                time.sleep(poll_seconds)
        except KeyboardInterrupt:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                proc.wait()
            raise
