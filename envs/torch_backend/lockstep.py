"""Step the torch backend and the pogema backend side by side and demand identical outputs.

Used by tests/test_torch_backend_equivalence.py and benchmarks/bench_env_equivalence_sweep.py;
also handy to check a new map or config before training on the torch backend:

    >>> stats = lockstep(EnvConfig(map_name="bottleneck-3"), num_envs=2, steps=5)  # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from envs.config import EnvConfig
from envs.observation import MOVES
from envs.pogema_backend import PogemaBatchedEnv
from envs.torch_backend.env import TorchBatchedEnv


class Mismatch(AssertionError):
    """The two backends disagree; the message says on what, at which step, for which env."""


@dataclass
class LockstepStats:
    """What happened in a lockstep run: proof that the interesting cases were exercised."""

    env_steps: int = 0
    agent_steps: int = 0
    blocked: int = 0
    """Moves towards a free cell that did not happen (an agent conflict resolved them)."""
    reached: int = 0
    """Goals reached (arrivals in finish mode, new goals in restart mode)."""
    episodes: int = 0
    """Episodes ended (terminated or truncated)."""

    def add(self, other: LockstepStats) -> None:
        for name in ("env_steps", "agent_steps", "blocked", "reached", "episodes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _check(name: str, ours: torch.Tensor, ref: torch.Tensor, step: int, num_agents: int) -> None:
    ours = ours.cpu()
    same = ours.shape == ref.shape and bool(torch.equal(ours, ref) if not ref.is_floating_point()
                                            else torch.equal(torch.nan_to_num(ours, nan=-7.0),
                                                             torch.nan_to_num(ref, nan=-7.0)))
    if not same:
        where = (ours != ref).nonzero()[:3].tolist() if ours.shape == ref.shape else "shape"
        raise Mismatch(f"{name} differs at step {step} (rows are env*{num_agents}+agent): first at {where}")


def lockstep(config: EnvConfig, num_envs: int, steps: int, seed: int = 0, device: str = "cpu",
             stay_prob: float = 0.2) -> LockstepStats:
    """Run both backends for `steps` steps of seeded random actions; raise `Mismatch` at the
    first difference in positions, goals, activity, observations, rewards, terminated,
    truncated, ended or metrics. Returns counters of what the run exercised."""
    ref = PogemaBatchedEnv(config, num_envs)
    ours = TorchBatchedEnv(config, num_envs, device=device)
    a = config.num_agents
    _check("reset observations", ours.reset()[0], ref.reset()[0], 0, a)
    rng = np.random.default_rng(seed)
    stats = LockstepStats()
    obstacles = [torch.from_numpy(m.obstacles) for m in ref.resolved.maps]
    for step in range(1, steps + 1):
        actions = torch.from_numpy(rng.integers(1, 5, size=num_envs * a))
        actions[torch.from_numpy(rng.random(num_envs * a) < stay_prob)] = 0
        before, live = ref.positions.clone(), ~ref.frozen
        was_active = ref.active.clone() & live[:, None]
        out_ref, out = ref.step(actions), ours.step(actions.to(ours.device))
        for name, i in (("observations", 0), ("rewards", 1), ("terminated", 2), ("truncated", 3)):
            _check(name, out[i], out_ref[i], step, a)
        _check("ended", out[4]["ended"], out_ref[4]["ended"], step, a)
        if set(out[4]["metrics"]) != set(out_ref[4]["metrics"]):
            raise Mismatch(f"metric names differ: {sorted(out[4]['metrics'])} vs {sorted(out_ref[4]['metrics'])}")
        for name, value in out_ref[4]["metrics"].items():
            _check(f"metric {name}", out[4]["metrics"][name], value, step, a)
        ended = out_ref[4]["ended"]
        for name in ("positions", "goals", "active", "steps", "frozen"):
            _check(name, getattr(ours, name), getattr(ref, name), step, a)
        # counters, on envs that did not restart this step (their state is a new episode's)
        wanted = before + MOVES[actions.view(num_envs, a)]
        kept = was_active & ~ended[:, None] & (actions.view(num_envs, a) != 0)
        for e in kept.any(dim=1).nonzero().flatten().tolist():
            m = obstacles[ref.tasks[e].map_index]
            r, c = wanted[e, :, 0], wanted[e, :, 1]
            inside = (r >= 0) & (r < m.shape[0]) & (c >= 0) & (c < m.shape[1])
            free = inside & ~m[r.clamp(0, m.shape[0] - 1), c.clamp(0, m.shape[1] - 1)]
            stayed = (ref.positions[e] == before[e]).all(dim=1)
            stats.blocked += int((kept[e] & free & stayed).sum())
        stats.reached += int((out_ref[1] >= 1.0).sum())
        stats.episodes += int(ended.sum())
        stats.env_steps += int(live.sum())
        stats.agent_steps += int(live.sum()) * a
    return stats
