"""A small greedy evaluation on bottleneck corridors, for learning curves during training.

The full evaluation suites (SPEC section 2 test set, confidence intervals,
result files) live in eval/; this loop only answers "what CSR does this
policy reach on these corridors", with the exported policy file and real
pogema, one batched env per corridor length (all seeds at once, argmax
actions, episode length 2L+100 as in the test protocol).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from envs.config import EnvConfig, resolve_config
from envs.pogema_backend import PogemaBatchedEnv
from envs.task import task_for_seed
from maps.bottleneck import map_name
from srmt.checkpoint import load_policy
from srmt.model import SRMTPolicy


@torch.no_grad()
def evaluate_corridor(model: SRMTPolicy, length: int, seeds: Sequence[int],
                      episode_length: int | None = None) -> dict[str, float]:
    """Mean CSR / ISR / SoC of greedy episodes on bottleneck-`length`, one per seed."""
    cfg = EnvConfig(map_name=map_name(length), num_agents=2, obs_radius=model.cfg.obs_radius,
                    max_episode_steps=episode_length or 2 * length + 100)
    resolved = resolve_config(cfg)
    tasks = [task_for_seed(resolved, 0, int(seed)) for seed in seeds]
    env = PogemaBatchedEnv(cfg, num_envs=len(tasks), task_source=lambda e: tasks[e], auto_reset=False)
    obs, _ = env.reset()
    state = model.initial_state(2, env.num_rows)  # (N, S) all-zero: episode start
    results: dict[str, torch.Tensor] = {}
    while not bool(env.frozen.all()):
        logits, _, state = model(obs, state, num_agents=2, grouped=True)
        obs, _, _, _, infos = env.step(logits.argmax(dim=1))
        ended = infos["ended"].repeat_interleave(2)
        for name, values in infos["metrics"].items():
            results.setdefault(name, torch.full((env.num_rows,), float("nan")))
            results[name] = torch.where(ended, values, results[name])
    return {name: float(values[::2].mean()) for name, values in results.items() if name in ("CSR", "ISR", "SoC")}


def evaluate_corridors(policy: str | Path | SRMTPolicy, lengths: Sequence[int],
                       seeds: Sequence[int] = range(10)) -> dict[int, dict[str, float]]:
    """Corridor length -> mean greedy metrics of `policy` (a policy file or a model)."""
    model = load_policy(policy).model if isinstance(policy, (str, Path)) else policy.eval()
    return {length: evaluate_corridor(model, length, seeds) for length in lengths}
