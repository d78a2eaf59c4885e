"""Stock sample-factory APPO on this project's env and batch: the peer of `srmt bench train --peer stock`.

sample-factory's own actor-critic, not SRMT's: its `resnet_impala` conv encoder
(the only stock conv architecture whose strides fit a 5x5 window), a linear
layer of `hidden` units after it, and its GRU core (`rnn_size = hidden`,
`use_rnn=True`, `recurrence = rollout`), with its own heads and
initialisation. Everything else (env, backend, envs per batch, agents,
workers, batch, rollout, lr, ...) is the `srmt train` config built from the
same options, so the two runs differ in the model and its recurrent-state
plumbing only. No policy file is exported (the weights are not an SRMT
policy); the run stops after `--max_train_seconds`.

    python -m train.stock_peer --preset bottleneck --experiment /tmp/stock --max_train_seconds 90
"""
from __future__ import annotations

import argparse
import sys
import time

from sample_factory.algo.runners.runner_parallel import ParallelRunner
from sample_factory.algo.runners.runner_serial import SerialRunner
from sample_factory.algo.utils.misc import ExperimentStatus
from signal_slot.signal_slot import EventLoopObject, Timer

from train.checks import check_config, prepare_experiment
from train.config import TrainConfig, build_config, sf_value
from train.run import sf_config
from train.sf_env import register_sf_env
from train.sf_settings import SRMTSettings


def stock_sf_config(cfg: TrainConfig) -> argparse.Namespace:
    """`sf_config(cfg)` with sample-factory's own conv + GRU model in place of SRMT's."""
    ns = sf_config(cfg)
    ns.use_rnn, ns.rnn_type, ns.rnn_size = True, "gru", cfg.model.hidden
    ns.recurrence = sf_value(cfg, "rollout")
    ns.encoder_conv_architecture, ns.encoder_conv_mlp_layers = "resnet_impala", [cfg.model.hidden]
    settings = SRMTSettings.of(ns)
    SRMTSettings(settings.env, None, settings.envs_per_batch, settings.backend).attach(ns)  # no SRMT model:
    # get_rnn_size is sample-factory's own (the GRU hidden)
    return ns


class _Budget(EventLoopObject):
    """Stops the runner (a checkpoint first, as at train_for_env_steps) once the wall-clock budget is spent."""

    def __init__(self, runner, seconds: float):
        EventLoopObject.__init__(self, runner.event_loop, object_id="srmt_stock_budget")
        self.runner, self.deadline = runner, time.time() + seconds
        self.timer = Timer(runner.event_loop, 1.0)
        self.timer.timeout.connect(self.tick)

    def tick(self) -> None:
        if time.time() > self.deadline and not self.runner.stopped:
            self.runner._stop_training()  # pinned in train/sf_compat.py


def main(argv: list[str]) -> int:
    """Train the stock model with `srmt train` options (no resume of an SRMT experiment)."""
    cfg, _ = build_config(argv)
    check_config(cfg)
    cfg, _ = prepare_experiment(cfg, None, argv)
    ns = stock_sf_config(cfg)
    register_sf_env()  # sample-factory's own actor-critic: ours is not registered
    runner = (SerialRunner if ns.serial_mode else ParallelRunner)(ns)
    if cfg.run.max_train_seconds:
        _Budget(runner, cfg.run.max_train_seconds)
    status = runner.init()
    if status == ExperimentStatus.SUCCESS:
        status = runner.run()
    return 0 if status == ExperimentStatus.SUCCESS else int(status) or 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
