"""Checks of a training config and its experiment directory, all before any process is spawned.

Each check reports every problem it finds, with the numbers and the fix.
"""
from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path
from typing import Any, Iterator

import torch

from common.actions import NUM_ACTIONS
from envs.backends import BACKENDS
from envs.config import resolve_config
from common.options import NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE, POSITIVE_INT, Range
from common.outputs import DIRECTORY, check_output
from srmt.config import ModelConfig
from train.bridge.checkpoints import latest_checkpoint
from train.config import DEVICES, TrainConfig, TrainConfigError
from train.managed import settable_sf_options, sf_value
from train.mazes import with_training_maps
from train.saved_config import CONFIG_FILE, save_config
from train.warm_start import load_init_policy
from planners.registry import ROLLOUT_SHIELDS

UNIT = Range(0, 1)
SF_RANGES: dict[str, Range] = {
    "learning_rate": Range(0, 1, lo_open=True), "gamma": Range(0, 1, lo_open=True), "gae_lambda": UNIT,
    "ppo_clip_ratio": Range(0, 1, lo_open=True), "ppo_clip_value": POSITIVE,
    "value_loss_coeff": NON_NEGATIVE, "exploration_loss_coeff": NON_NEGATIVE, "kl_loss_coeff": NON_NEGATIVE,
    "max_grad_norm": NON_NEGATIVE, "adam_eps": POSITIVE, "adam_beta1": Range(0, 1, hi_open=True),
    "adam_beta2": Range(0, 1, hi_open=True), "lr_adaptive_min": POSITIVE, "lr_adaptive_max": POSITIVE,
    "lr_schedule_kl_threshold": POSITIVE, "reward_scale": POSITIVE, "reward_clip": POSITIVE,
    "vtrace_rho": POSITIVE, "vtrace_c": POSITIVE,
    **dict.fromkeys(("batch_size", "num_batches_per_epoch", "num_epochs", "rollout", "num_workers",
                     "worker_num_splits", "keep_checkpoints", "stats_avg", "max_policy_lag",
                     "policy_workers_per_policy", "num_batches_to_accumulate", "save_every_sec",
                     "experiment_summaries_interval", "heartbeat_interval"), POSITIVE_INT),
    "seed": NON_NEGATIVE_INT,
}
"""sample-factory options used by srmt train and their allowed values (every other float option: finite)."""
RUN_RANGES = {"train_for_env_steps": POSITIVE_INT, "max_train_seconds": NON_NEGATIVE, "envs_per_batch": POSITIVE_INT}
ENV_RANGES = {"num_agents": POSITIVE_INT, "max_episode_steps": POSITIVE_INT, "obs_radius": POSITIVE_INT,
              "seed": NON_NEGATIVE_INT}


def range_problems(cfg: TrainConfig) -> list[str]:
    """Every numeric option outside its range (field, value and the allowed range)."""
    problems = [RUN_RANGES[k].problem(k, getattr(cfg.run, k)) for k in RUN_RANGES]
    problems += [ENV_RANGES[k].problem(k, getattr(cfg.env, k)) for k in ENV_RANGES]
    for name, option in settable_sf_options().items():
        if name in SF_RANGES:
            problems.append(SF_RANGES[name].problem(f"sf.{name}", sf_value(cfg, name)))
        elif option.convert is float and name in cfg.sf:
            problems.append(Range().problem(f"sf.{name}", cfg.sf[name]))
    return [p for p in problems if p]


def check_config(cfg: TrainConfig) -> None:
    """Options and sizes (no disk access).

    Raises:
        TrainConfigError: listing every problem.
    """
    run = cfg.run
    problems = range_problems(cfg)
    if problems:  # the size arithmetic below needs sane numbers
        raise TrainConfigError("invalid training config:\n  - " + "\n  - ".join(problems))
    if run.backend not in BACKENDS:
        problems.append(f"backend={run.backend!r} is not one of {sorted(BACKENDS)}")
    if run.shield is not None and run.shield not in ROLLOUT_SHIELDS:
        problems.append(f"shield={run.shield!r} is not one of {list(ROLLOUT_SHIELDS)}; pass one of them or none")
    if run.device not in DEVICES:
        problems.append(f"device={run.device!r} is not one of {list(DEVICES)}")
    elif run.device == "cuda" and not torch.cuda.is_available():
        problems.append(f"device='cuda' but no CUDA GPU is usable here (torch {torch.__version__}, "
                        "torch.cuda.is_available() is False); use --device cpu")
    if cfg.model.obs_radius != cfg.env.obs_radius:
        problems.append(f"model.obs_radius={cfg.model.obs_radius} != env.obs_radius={cfg.env.obs_radius}; "
                        "set --obs_radius once")
    if cfg.model.num_actions != NUM_ACTIONS:
        problems.append(f"model.num_actions={cfg.model.num_actions}: pogema has {NUM_ACTIONS} actions")
    problems += _size_problems(cfg)
    if problems:
        raise TrainConfigError("invalid training config:\n  - " + "\n  - ".join(problems))


def _size_problems(cfg: TrainConfig) -> list[str]:
    """Batch / rollout / worker arithmetic that sample-factory would only log (or assert) later."""
    rows = cfg.run.envs_per_batch * cfg.env.num_agents  # rows of one env object (one worker split)
    workers, splits = sf_value(cfg, "num_workers"), sf_value(cfg, "worker_num_splits")
    batch, batches, rollout = sf_value(cfg, "batch_size"), sf_value(cfg, "num_batches_per_epoch"), \
        sf_value(cfg, "rollout")
    problems = []
    iteration = batch * batches
    if batch % rollout:
        problems.append(f"sf.batch_size={batch} must be a multiple of sf.rollout={rollout}")
    if cfg.run.train_for_env_steps < iteration:
        problems.append(f"train_for_env_steps={cfg.run.train_for_env_steps} is smaller than one training "
                        f"batch: sf.batch_size={batch} x sf.num_batches_per_epoch={batches} = {iteration} "
                        "env steps; train for more steps or use a smaller batch")
    if not sf_value(cfg, "async_rl"):
        per_rollout = workers * splits * rows * rollout
        if iteration % per_rollout:
            problems.append(
                f"sync mode (sf.async_rl=False) needs one training batch to be a whole number of rollouts: "
                f"sf.batch_size={batch} x sf.num_batches_per_epoch={batches} = {iteration} is not a multiple of "
                f"sf.num_workers={workers} x sf.worker_num_splits={splits} x envs_per_batch="
                f"{cfg.run.envs_per_batch} x num_agents={cfg.env.num_agents} x sf.rollout={rollout} = {per_rollout}")
    else:
        trajectories = iteration // rollout
        if trajectories % rows and rows % trajectories:
            problems.append(
                f"one training batch holds {iteration} // sf.rollout={rollout} = {trajectories} trajectories and "
                f"one env object {cfg.run.envs_per_batch} x {cfg.env.num_agents} = {rows}; one must divide "
                "the other (change sf.batch_size or envs_per_batch)")
    if cfg.model.memory != "stored":
        agents = cfg.env.num_agents
        if batch % (rollout * agents):
            problems.append(
                f"memory={cfg.model.memory!r} learns from whole rollouts of whole environments: sf.batch_size="
                f"{batch} must be a multiple of sf.rollout={rollout} x num_agents={agents} = {rollout * agents}")
        if sf_value(cfg, "shuffle_minibatches"):
            problems.append(f"memory={cfg.model.memory!r} needs the environments of a minibatch together: "
                            "sf.shuffle_minibatches must be false (or use --memory stored)")
    return problems


WEIGHT_FIELDS = ("num_agents", "obs_radius")
"""env fields that shape the weights or the recurrent state (every model field does too)."""


def resume_differences(saved: dict[str, Any], cfg: TrainConfig) -> tuple[list[str], list[str]]:
    """(incompatible, other) differences between a saved config and a new one, as 'key: old -> new'."""
    new = cfg.to_dict()
    incompatible, other = [], []
    for section in ("run", "env", "model", "sf"):
        old_section, new_section = saved.get(section, {}), new[section]
        if section == "model":  # fields added since the save take their defaults (train/saved_config.py
            old_section = ModelConfig.from_dict(old_section).to_dict()  # upgraded the older formats)
        for key in sorted(set(old_section) | set(new_section)):
            old, value = old_section.get(key), new_section.get(key)
            if _plain(old) == _plain(value):
                continue
            line = f"{section}.{key}: {old!r} -> {value!r}"
            if section == "model" or (section == "env" and key in WEIGHT_FIELDS):
                incompatible.append(line)
            else:
                other.append(line)
    return incompatible, other


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))


def prepare_experiment(cfg: TrainConfig, saved: dict[str, Any] | None, command: list[str]) -> tuple[TrainConfig, list[str]]:
    """Check the experiment directory, generate maps, validate the env; write srmt_config.json.

    Returns:
        The final config (maps_dir filled in for the lifelong mazes) and notes
        on settings changed since the saved config (empty for a fresh run).

    Raises:
        OutputPathError: the directory cannot be created or written (common.outputs.check_output).
        TrainConfigError: not a srmt experiment, or a checkpoint that the new config cannot continue.
        EnvConfigError: the environment config (maps, agents, reward ...) is invalid.
    """
    exp = check_output(cfg.run.experiment_dir, "--experiment", DIRECTORY)
    if saved is None and exp.is_dir() and any(exp.iterdir()):
        raise TrainConfigError(f"experiment directory {exp} is not empty and holds no {CONFIG_FILE}: it is not "
                               "a srmt experiment; pass --experiment with a new or empty directory")
    with removed_on_refusal(exp):
        exp.mkdir(parents=True, exist_ok=True)
        return _prepare(cfg, saved, command, exp)


@contextlib.contextmanager
def removed_on_refusal(directory: Path) -> Iterator[None]:
    """When the block raises (a refusal, or Ctrl-C), remove what it created at `directory`: the directory
    and any parent it created when it did not exist before, else the entries it added there. Nothing
    that existed before is touched."""
    top = directory
    while not top.parent.exists():
        top = top.parent
    before = set(directory.iterdir()) if directory.is_dir() else None
    try:
        yield
    except BaseException:
        if before is None:
            shutil.rmtree(top, ignore_errors=True)
        elif directory.is_dir():
            for path in set(directory.iterdir()) - before:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        raise


def _prepare(cfg: TrainConfig, saved: dict[str, Any] | None, command: list[str],
             exp: Path) -> tuple[TrainConfig, list[str]]:
    notes: list[str] = []
    if saved is not None:
        incompatible, notes = resume_differences(saved, cfg)
        if incompatible and latest_checkpoint(exp) is not None:
            saved_memory = ModelConfig.from_dict(saved.get("model", {})).memory
            what = (f"in memory mode {saved_memory!r}, not {cfg.model.memory!r}"
                    if saved_memory != cfg.model.memory else "with another model/state size")
            raise TrainConfigError(
                f"cannot resume {exp}: its checkpoint was trained {what} "
                f"({'; '.join(incompatible)}); use the saved settings to continue, or a new --experiment "
                "directory to train this config")
    if cfg.run.init_policy:
        started_from = (saved or {}).get("run", {}).get("init_policy")
        if latest_checkpoint(exp) is not None and started_from != cfg.run.init_policy:
            raise TrainConfigError(f"--init_policy starts a new experiment, but {exp} already holds checkpoints; "
                                   "drop --init_policy to resume it, or pass a new --experiment directory")
        if sf_value(cfg, "optimizer") != "adam":
            raise TrainConfigError(f"--init_policy starts sample-factory's adam optimizer, not "
                                   f"--optimizer {sf_value(cfg, 'optimizer')}; drop --optimizer or --init_policy")
        load_init_policy(cfg.run.init_policy, cfg.model, cfg.env.guidance)  # CheckpointError: missing, corrupt, another model / guidance
    env = with_training_maps(cfg.env, exp / "maps")
    resolve_config(env)  # EnvConfigError with every problem of the env
    cfg = TrainConfig(cfg.run, env, cfg.model, cfg.sf)
    save_config(exp, cfg, command)
    return cfg, notes
