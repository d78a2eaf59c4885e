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

from train.bridge.adaptations import install_adaptations
from train.bridge.registration import register_sf_env
from train.bridge.runner import SUCCESS, RunnerControl, make_runner, run_runner
from train.bridge.settings import SRMTSettings
from train.checks import check_config, prepare_experiment
from train.config import TrainConfig
from train.managed import sf_config, sf_value
from train.overrides import build_config


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


def main(argv: list[str]) -> int:
    """Train the stock model with `srmt train` options (no resume of an SRMT experiment)."""
    cfg, _ = build_config(argv)
    check_config(cfg)
    cfg, _ = prepare_experiment(cfg, None, argv)
    install_adaptations()  # in this process, as for srmt train (spawned processes keep sample-factory's own)
    ns = stock_sf_config(cfg)
    register_sf_env()  # sample-factory's own actor-critic: ours is not registered
    runner = make_runner(ns)
    RunnerControl(runner, "srmt_stock_budget", time.time(), cfg.run.max_train_seconds)  # stops at the budget
    status = run_runner(runner)
    return 0 if status == SUCCESS else status or 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
