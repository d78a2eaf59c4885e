"""The training configuration: four sections, what `srmt_config.json` holds.

- `run`: this project's own training options (`RunConfig`);
- `env`: `envs.config.EnvConfig`;
- `model`: `srmt.config.ModelConfig`;
- `sf`: sample-factory 2.1.1's own options by their own names, only those a
  preset or the user set (train/managed.py: the ones srmt train sets itself).

A run's config is a preset (train/presets.py) or a saved config
(train/saved_config.py) with the command line over it (train/overrides.py),
checked before anything starts (train/checks.py).
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from envs.backends import Backend
from envs.config import EnvConfig
from srmt.config import ModelConfig

SECTIONS = ("run", "env", "model", "sf")
LINKED = {"obs_radius": ("env", "model"), "seed": ("env", "sf")}
"""Fields that are one setting across sections: any spelling sets all of them."""
Device = Literal["cpu", "cuda"]
DEVICES: tuple[str, ...] = get_args(Device)


class TrainConfigError(ValueError):
    """A training config that cannot run; the message lists every problem and its fix."""


@dataclass(frozen=True)
class RunConfig:
    """This project's own training options (sample-factory's are in the `sf` section)."""

    preset: str = "bottleneck"
    """training preset: a name of train/presets.py TRAINING_PRESETS"""
    backend: Backend = "pogema"
    """batched environment backend (envs/backends.py BACKENDS)"""
    device: Device = "cpu"
    """where the learner and inference run"""
    experiment: str | None = None
    """experiment directory (config, checkpoints, summaries, log, policy.pt); default experiments/<preset>"""
    train_for_env_steps: int = 20_000_000
    """stop after this many env steps (one step of one agent counts 1, as in sample-factory)"""
    max_train_seconds: float = 0.0
    """wall-clock budget of this run in seconds (0: none); training stops and saves when it is spent"""
    envs_per_batch: int = 128
    """E: environments in one batched env object (E x num_agents rows)"""
    init_policy: str | None = None
    """policy file whose weights start a new experiment (e.g. from `srmt imitate`); train/warm_start.py"""
    shield: str | None = None
    """collision shield inside the env: None, or a name of planners.registry.ROLLOUT_SHIELDS ("pibt"): every agent's
    chosen action goes through it (envs/shielded.py), so APPO optimises the shielded team"""

    @property
    def experiment_dir(self) -> Path:
        return Path(self.experiment or f"experiments/{self.preset}").expanduser().resolve()


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; `to_dict` is what `srmt_config.json` holds."""

    run: RunConfig
    env: EnvConfig
    model: ModelConfig
    sf: dict[str, Any] = field(default_factory=dict)
    """sample-factory options by their own names (only the ones set by the preset or the user)"""

    def to_dict(self) -> dict[str, Any]:
        return {"run": dataclasses.asdict(self.run), "env": self.env.to_dict(),
                "model": self.model.to_dict(), "sf": dict(self.sf)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        unknown = set(values) - set(SECTIONS)
        if unknown:
            raise TrainConfigError(f"unknown config section(s) {sorted(unknown)}; known: {list(SECTIONS)}")
        return cls(run=_dataclass_from_dict(RunConfig, values.get("run", {})),
                   env=EnvConfig.from_dict(values.get("env", {})),
                   model=ModelConfig.from_dict(values.get("model", {})), sf=dict(values.get("sf", {})))


def _dataclass_from_dict(cls, values: dict[str, Any]):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise TrainConfigError(f"unknown {cls.__name__} field(s) {unknown}; known: {sorted(names)}")
    return cls(**values)


def field_hints(section: str) -> dict[str, Any]:
    """Field name -> type of the run, env or model section."""
    cls = {"run": RunConfig, "env": EnvConfig, "model": ModelConfig}[section]
    return typing.get_type_hints(cls)
