"""Training presets: the published APPO setups of SRMT ("SRMT: Shared Memory for Multi-agent Lifelong
Pathfinding", Sagirova et al., 2025, and its reference code), sized for this project's CPU budget.

A preset is a one-line summary (`srmt train --help` shows it) and four
sections of defaults, each overridable on the command line (train/config.py,
train/overrides.py and docs/training.md):

- `run`: this project's own training options (backend, device, budget, ...);
- `env`: fields of `envs.config.EnvConfig`;
- `model`: `size`, a model size of srmt/config.py MODEL_SIZES (`ModelConfig.preset`), plus field overrides;
- `sf`: sample-factory 2.1.1 options (its own flag names).

The published values: Adam, rollout 8, PPO clip 0.2, value coefficient 0.5,
GAE lambda 0.95, one epoch, batch 16384 (the reference code's lifelong
default: 4096); Bottleneck lr 1.3e-4 KL-adaptive, gamma 0.9716, entropy
0.0156, 2e7 env steps on 4 workers x 4 envs; lifelong lr 2.2e-4 constant,
gamma 0.9756, entropy 0.023, 1e9 env steps on 8 workers x 4 envs. Where a
preset differs, the comment says why: those runs had a GPU; on 2 CPU cores
the bottleneck preset is tuned for a 30-minute budget (docs/training.md,
"Learning on CPU").
"""
from __future__ import annotations

from typing import Any

from maps.bottleneck import TRAIN_EPISODE_LENGTH, TRAIN_LENGTHS, map_name
from srmt.config import ModelConfig

BOTTLENECK_TRAIN_PATTERN = "(" + "|".join(map_name(length) for length in TRAIN_LENGTHS) + ")"
"""Regex over map names selecting the paper's 16 training corridors (maps/bottleneck.py TRAIN_LENGTHS)."""

LIFELONG_MAP_PATTERN = "train-maze-.*"
"""Names of the maze maps the lifelong preset generates (train/mazes.py)."""
LIFELONG_CPU_MAP_PATTERN = "train-(wallmaze|random)-.*"
"""Names of the wall mazes and random maps the lifelong-cpu preset generates (train/mazes.py)."""

APPO: dict[str, Any] = dict(
    rollout=8, ppo_clip_ratio=0.2, value_loss_coeff=0.5, gae_lambda=0.95, num_epochs=1,
    batch_size=4096,                # paper: 16384 (GPU). Bottleneck: smaller batches learn faster per step
                                    # on CPU; lifelong: the reference code's value (the SRMT state of 64
                                    # agents x 512 floats makes 16384 samples ~2.5 GB)
    num_batches_per_epoch=1,
    num_workers=1, worker_num_splits=1,
    serial_mode=False, async_rl=True,
    save_every_sec=300, keep_checkpoints=2,
)
"""The sample-factory settings every preset shares; each preset's `sf` section names what it changes."""

LIFELONG_APPO: dict[str, Any] = dict(APPO, gamma=0.9756, exploration_loss_coeff=0.023)
"""The paper's lifelong discount and entropy coefficient (both lifelong presets)."""

TRAINING_PRESETS: dict[str, dict[str, Any]] = {
    "bottleneck": {
        "summary": "16 training corridors, 2 agents",
        "run": dict(
            envs_per_batch=128,             # E pogema envs x 2 agents in one batched env object
            train_for_env_steps=20_000_000,  # paper: 2e7 env (agent) steps
        ),
        "env": dict(
            map_name=None, map_pattern=BOTTLENECK_TRAIN_PATTERN, num_agents=2, obs_radius=2,
            collision_system="block_both", on_target="finish",
            max_episode_steps=TRAIN_EPISODE_LENGTH, reward="directional",
        ),
        "model": dict(size="bottleneck"),
        "sf": dict(
            APPO, learning_rate=1.3e-4, lr_schedule="kl_adaptive_epoch", gamma=0.9716,
            exploration_loss_coeff=0.0156, save_every_sec=60,
        ),
    },
    "lifelong-cpu": {
        # Sized for 2 CPU cores by measurement (docs/training.md, "Lifelong on CPU").
        "summary": "lifelong MAPF sized for 2 CPU cores: 64 agents, hidden 32, generated wall mazes and random "
                   "maps, torch backend, 2-hour budget",
        "run": dict(
            backend="torch",                # the torch-native env: ~20x pogema's agent-steps/s
            envs_per_batch=8,               # 8 envs x 64 agents = 512 rows per env object
            train_for_env_steps=1_000_000_000,
            max_train_seconds=7200,         # the preset's default cap (2 hours); the shipped lifelong_srmt.pt
                                            # took 37.5 min in all: 27.3 min PIBT imitation, then 10.2 min
                                            # of APPO (agents/pretrained/lifelong_srmt.json)
        ),
        "env": dict(
            map_name=None, map_pattern=LIFELONG_CPU_MAP_PATTERN, num_agents=64, obs_radius=5,
            collision_system="soft", on_target="restart", max_episode_steps=256,
            reward="directional",           # +0.005 per step along the path channel, +1 per goal
        ),
        "model": dict(size="lifelong", hidden=32, heads=4, filters=8, resnet_blocks=1),
        "sf": dict(
            LIFELONG_APPO,
            learning_rate=3e-4,             # start of the KL-adaptive schedule that worked for bottleneck
            lr_schedule="kl_adaptive_epoch",
        ),
    },
    "lifelong": {
        "summary": "the paper's size: hidden 512, 64 agents on mazes; for a GPU",
        "run": dict(
            envs_per_batch=2,               # 2 maze envs x 64 agents = 128 rows per env object
            train_for_env_steps=1_000_000_000,  # paper: 1e9
        ),
        "env": dict(
            map_name=None, map_pattern=LIFELONG_MAP_PATTERN, num_agents=64, obs_radius=5,
            collision_system="soft", on_target="restart", max_episode_steps=512, reward="lifelong",
        ),
        "model": dict(size="lifelong"),
        "sf": dict(LIFELONG_APPO, learning_rate=2.2e-4, lr_schedule="constant", num_workers=2),
    },
}
"""Training recipes by name (`srmt train --preset`); model sizes are srmt/config.py MODEL_SIZES."""


def preset_sections(preset: str) -> dict[str, dict[str, Any]]:
    """The run / env / model / sf sections of a training preset, model fields resolved."""
    table = TRAINING_PRESETS[preset]
    model = dict(table["model"])
    model_size = model.pop("size")
    return {
        "run": {**table["run"], "preset": preset},
        "env": dict(table["env"]),
        "model": ModelConfig.preset(model_size, **model).to_dict(),
        "sf": dict(table["sf"]),
    }
