"""A run's sample-factory config: the options srmt train sets itself (`MANAGED_SF`, the one list), the
ones a user may set, and the namespace built from both (`sf_config`)."""
from __future__ import annotations

import argparse
import functools
from dataclasses import dataclass
from typing import Any

from train.bridge.env import ENV_NAME
from train.bridge.options import SFOption, sf_namespace, sf_options
from train.bridge.settings import SRMTSettings
from train.config import TrainConfig


@dataclass(frozen=True)
class Managed:
    """A sample-factory option that srmt train sets itself."""

    reason: str
    """why the user cannot set it, or the option to use instead"""
    value: Any = None
    """what srmt train passes: a constant or a function of the TrainConfig; None: not passed
    (sample-factory's default stays)"""

    def value_for(self, cfg: TrainConfig) -> Any:
        return self.value(cfg) if callable(self.value) else self.value


def _gpu_sampling(cfg: TrainConfig) -> bool:
    """With --device cuda and the torch backend the env steps on the GPU and observations, actions and
    rollout buffers stay there (one GPU, index 0); otherwise rollouts are sampled on the CPU."""
    return cfg.run.device == "cuda" and cfg.run.backend == "torch"


_GPU_SAMPLING = "set by --device and --backend (cuda + torch: the env steps on GPU 0)"
_OBS_AS_THEY_ARE = "observations are used as they are"

MANAGED_SF: dict[str, Managed] = {
    "env": Managed("the env name is fixed by srmt train", ENV_NAME),
    "experiment": Managed("use --experiment DIR", lambda cfg: cfg.run.experiment_dir.name),
    "train_dir": Managed("use --experiment DIR", lambda cfg: str(cfg.run.experiment_dir.parent)),
    "device": Managed("use --device cpu|cuda", lambda cfg: "gpu" if cfg.run.device == "cuda" else "cpu"),
    "actor_worker_gpus": Managed(_GPU_SAMPLING, lambda cfg: 0 if _gpu_sampling(cfg) else None),
    "env_gpu_observations": Managed(_GPU_SAMPLING, _gpu_sampling),
    "env_gpu_actions": Managed(_GPU_SAMPLING, _gpu_sampling),
    "train_for_env_steps": Managed("use --train_for_env_steps N", lambda cfg: cfg.run.train_for_env_steps),
    "train_for_seconds": Managed("it has no effect in sample-factory 2.1.1; use --max_train_seconds S"),
    "batched_sampling": Managed("always True: one env object is the whole E x A batch", True),
    "num_envs_per_worker": Managed("it equals sf.worker_num_splits (one batched env object per split); "
                                   "size the batch with --envs_per_batch",
                                   lambda cfg: sf_value(cfg, "worker_num_splits")),
    "use_rnn": Managed("always False: the SRMT state flows through rnn_states (docs/training.md)", False),
    "recurrence": Managed("always 1 (use_rnn=False: each sample is recomputed from its stored state)", 1),
    "restart_behavior": Managed("always resume: the same command continues the experiment", "resume"),
    "normalize_input": Managed("observations are used as they are (the exported policy has no normalizer)", False),
    "obs_subtract_mean": Managed(_OBS_AS_THEY_ARE, 0.0),
    "obs_scale": Managed(_OBS_AS_THEY_ARE, 1.0),
    "use_env_info_cache": Managed("always False (the cache is keyed by env name only)", False),
    "num_policies": Managed("one shared policy", 1),
    "with_pbt": Managed("no population-based training", False),
    "actor_critic_share_weights": Managed("the actor-critic is one SRMTPolicy"),
    "help": Managed("use `srmt train --help`"),
}
"""sample-factory options that srmt train sets itself: the reason, and the value `sf_config` passes."""


@functools.cache
def settable_sf_options() -> dict[str, SFOption]:
    """sample-factory's options a user may set (the `sf` section): all but MANAGED_SF."""
    return {name: option for name, option in sf_options().items() if name not in MANAGED_SF}


def sf_value(cfg: TrainConfig, name: str) -> Any:
    """A sample-factory option of the config (not a managed one): its own value or sample-factory's default."""
    return cfg.sf[name] if name in cfg.sf else settable_sf_options()[name].default


def sf_config(cfg: TrainConfig) -> argparse.Namespace:
    """sample-factory's config namespace for `cfg`: its options, the ones srmt train manages (MANAGED_SF),
    and the settings the bridge reads (train/bridge/settings.py)."""
    managed = {name: option.value_for(cfg) for name, option in MANAGED_SF.items()}
    ns = sf_namespace({**cfg.sf, "seed": cfg.env.seed, **managed})  # env.seed and sf.seed: one setting (LINKED)
    SRMTSettings(cfg.env, cfg.model, cfg.run.envs_per_batch, cfg.run.backend, cfg.run.shield).attach(ns)
    return ns
