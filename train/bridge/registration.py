"""What sample-factory's processes receive from srmt: the env factory and the actor-critic factory.

sample-factory pickles its registered factories into every process it spawns
(learner, inference and rollout workers, the process that reads the env's
spaces). The actor-critic factory registered here installs the adaptations
in each process that unpickles it (adaptations.py), before any of
sample-factory's code runs there.
"""
from __future__ import annotations

from typing import Any

from sample_factory.algo.utils.context import global_env_registry, global_model_factory
from sample_factory.envs.env_utils import register_env

from train.bridge.actor_critic import SRMTActorCritic, make_actor_critic
from train.bridge.adaptations import install_adaptations
from train.bridge.env import ENV_NAME, make_sf_env


class RegisteredFactory:
    """`make_actor_critic` as registered with sample-factory; unpickling it installs the adaptations."""

    def __call__(self, cfg: Any, obs_space: Any, action_space: Any) -> SRMTActorCritic:
        return make_actor_critic(cfg, obs_space, action_space)

    def __reduce__(self):
        return _unpickled_factory, ()


def _unpickled_factory() -> RegisteredFactory:
    install_adaptations()
    return RegisteredFactory()


def register_sf_env() -> None:
    """Register the batched env with sample-factory under ENV_NAME (idempotent)."""
    if global_env_registry().get(ENV_NAME) is not make_sf_env:
        register_env(ENV_NAME, make_sf_env)


def register() -> None:
    """Register the env and the SRMT actor-critic with sample-factory (idempotent)."""
    register_sf_env()
    global_model_factory().register_actor_critic_factory(RegisteredFactory())
