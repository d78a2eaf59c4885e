"""sample-factory's runner, as a training run drives it: build, run, watch every second, stop, read progress.

`RunnerControl` lives in the runner's event loop and ticks every second; it
stops training the way reaching `train_for_env_steps` does (a checkpoint
first, then every component stops: `Runner._stop_training`, pinned) once the
wall-clock budget is spent. train/run.py extends its tick (Ctrl-C, the
watchdog, exports, the progress line); train/stock_peer.py uses it as it is.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from sample_factory.algo.runners.runner import Runner
from sample_factory.algo.runners.runner_parallel import ParallelRunner
from sample_factory.algo.runners.runner_serial import SerialRunner
from sample_factory.algo.utils.misc import ExperimentStatus
from sample_factory.utils import utils as sf_utils
from signal_slot.signal_slot import EventLoopObject, Timer

SUCCESS = ExperimentStatus.SUCCESS
log = sf_utils.log
"""sample-factory's logger: its lines reach sf_log.txt and, with every process's output, train.log."""


def make_runner(ns: argparse.Namespace) -> Runner:
    """sample-factory's serial runner (one process) or parallel runner (spawned workers) for `ns`."""
    return (SerialRunner if ns.serial_mode else ParallelRunner)(ns)


def run_runner(runner: Runner) -> int:
    """Initialise and run; sample-factory's status (SUCCESS is 0)."""
    status = runner.init()
    if status == SUCCESS:
        status = runner.run()
    return int(status)


class RunnerControl(EventLoopObject):
    """Ticks every second in the runner's event loop; stops training once the wall-clock budget
    (`budget` seconds after `started`; 0: none) is spent."""

    def __init__(self, runner: Runner, object_id: str, started: float, budget: float):
        EventLoopObject.__init__(self, runner.event_loop, object_id=object_id)
        self.runner, self.started, self.budget = runner, started, budget
        self.stopping = False
        self.timer = Timer(runner.event_loop, 1.0)
        self.timer.timeout.connect(self.tick)

    def budget_spent(self) -> bool:
        return bool(self.budget) and time.time() - self.started > self.budget

    def stop_training(self) -> None:
        """Save a checkpoint, then stop every component (as at train_for_env_steps)."""
        self.stopping = True
        self.runner._stop_training()

    def tick(self) -> None:
        if not self.stopping and self.budget_spent():
            self.stop_training()


def runner_progress(runner: Runner) -> tuple[int, dict[str, float]]:
    """Env steps of policy 0 and the mean of each episode statistic (reward, CSR, avg_throughput, ...)
    over the runner's recent episodes, as its stats handlers keep them (run as they are by
    tests/test_train_bridge.py)."""
    averages = {key: float(np.mean(per_policy[0])) for key, per_policy in runner.policy_avg_stats.items()
                if len(per_policy[0])}
    return int(runner.env_steps.get(0, 0)), averages
