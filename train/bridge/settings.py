"""The settings the sample-factory bridge reads besides sample-factory's own options, as one typed object.

train/managed.py `sf_config` attaches them to sample-factory's config namespace
under one attribute, `srmt`, as a plain dict: sample-factory pickles that
namespace into every process it spawns and json-dumps it into the
experiment's config.json. The env factory (env.py), the actor-critic
(actor_critic.py), `get_rnn_size` (adaptations.py) and the warm start
(checkpoints.py) read them back with `SRMTSettings.of(cfg)`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envs.config import EnvConfig
from srmt.config import ModelConfig
from srmt.state import state_size

SETTINGS_KEY = "srmt"
"""The attribute of sample-factory's config that carries `SRMTSettings` (as a plain dict)."""


@dataclass(frozen=True)
class SRMTSettings:
    """What the bridge (env factory, actor-critic, get_rnn_size, warm start) needs besides
    sample-factory's own options; train/managed.py `sf_config` attaches it."""

    env: EnvConfig
    model: ModelConfig | None
    """the SRMT model; None when sample-factory's own model trains (train/stock_peer.py)"""
    envs_per_batch: int
    """E: environments in one batched env object"""
    backend: str
    """the batched env backend (envs/backends.py)"""
    shield: str | None = None
    """the collision shield the env runs every chosen action through (envs/shielded.py); None: none"""

    @property
    def num_agents(self) -> int:
        return self.env.num_agents

    @property
    def state_size(self) -> int | None:
        """Floats per row of `rnn_states` (None: sample-factory's own model sizes them)."""
        return None if self.model is None else state_size(self.model, self.env.num_agents)

    def attach(self, cfg: Any) -> None:
        """Set this as `cfg.srmt`, a plain JSON-able dict (sample-factory json-dumps its config)."""
        setattr(cfg, SETTINGS_KEY, {"env": self.env.to_dict(), "model": self.model and self.model.to_dict(),
                                    "envs_per_batch": self.envs_per_batch, "backend": self.backend,
                                    "shield": self.shield})

    @classmethod
    def of(cls, cfg: Any) -> SRMTSettings | None:
        """The settings `attach` put on `cfg` (a Namespace, or a dict / AttrDict); None when absent."""
        raw = cfg.get(SETTINGS_KEY) if isinstance(cfg, dict) else getattr(cfg, SETTINGS_KEY, None)
        if raw is None:
            return None
        model = raw["model"]
        return cls(env=EnvConfig.from_dict(raw["env"]), model=None if model is None else ModelConfig.from_dict(model),
                   envs_per_batch=int(raw["envs_per_batch"]), backend=raw["backend"], shield=raw.get("shield"))
