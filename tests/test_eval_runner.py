"""eval.runner's shared pieces: the evaluation reward rule, starting a task, the worker thread setting."""
import os
from typing import get_args

import pytest
import torch

from envs.config import EnvConfig, EnvConfigError, OnTarget, resolve_config
from common.device import limit_threads
from envs.pogema_backend import PogemaBatchedEnv
from eval.runner import eval_reward, start_task
from eval.suites import EvalError


EVAL_REWARDS = {"finish": "sparse", "restart": "lifelong", "nothing": "sparse"}


@pytest.mark.parametrize("on_target", get_args(OnTarget))
def test_the_eval_reward_fits_every_on_target(on_target):
    reward = eval_reward(on_target)
    assert reward == EVAL_REWARDS[on_target]
    resolved = resolve_config(EnvConfig(map_name="bottleneck-3", on_target=on_target, reward=reward))
    assert resolved.config.reward == reward
    other = "sparse" if reward == "lifelong" else "lifelong"  # the check can fail: the other family is refused
    with pytest.raises(EnvConfigError, match=f"reward='{other}' does not fit on_target='{on_target}'"):
        resolve_config(EnvConfig(map_name="bottleneck-3", on_target=on_target, reward=other))


def test_start_task_returns_the_task_it_started():
    env = PogemaBatchedEnv(EnvConfig(map_name="bottleneck-3", reward="sparse"), num_envs=2, auto_reset=False)
    task = start_task(env, 1, 0, seed=7)
    assert (task.map_index, task.seed) == (0, 7)
    assert env.positions[1].tolist() == [list(cell) for cell in task.starts]


class Unplaceable(PogemaBatchedEnv):
    def reset_env(self, e, task=None):
        raise OverflowError("Can't create task")


def test_start_task_turns_pogemas_overflow_into_an_eval_error():
    env = Unplaceable(EnvConfig(map_name="bottleneck-3", num_agents=2, reward="sparse"), num_envs=1,
                      auto_reset=False)
    with pytest.raises(EvalError, match=r"pogema cannot place 2 agents on map 'bottleneck-3' \(seed 4\): "
                                        r"Can't create task; use fewer agents"):
        start_task(env, 0, 0, seed=4)


def test_limit_threads_takes_the_environment_unless_told(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    try:
        limit_threads()
        assert torch.get_num_threads() == 2
        limit_threads(1)  # an evaluation worker: one thread whatever the environment says
        assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "2"
    finally:
        torch.set_num_threads(before)
