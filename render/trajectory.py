"""What a rendered episode looked like, step by step: states, actions, goals reached, attention."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from envs.task import Task


@dataclass
class Trajectory:
    """One played episode (frame t = state after t steps; step t = the action taken in frame t).

    `attention[t]` (A, A): who read whose memory in the shared pool at step t (row i = reading agent,
    column j = agent read; rows sum to 1, or are all zero where the agent did not cross-attend);
    `tokens[t]` (A, T): each agent's current token's attention over [memory; history oldest..newest;
    current] at step t, `token_valid[t]` (A, T) which of those tokens existed. Empty lists when the
    episode was played without recording attention (agents.SRMTAgent.record_attention).
    """

    obstacles: np.ndarray
    task: Task
    on_target: str
    positions: list[np.ndarray] = field(default_factory=list)  # (A, 2) per frame
    goals: list[np.ndarray] = field(default_factory=list)      # (A, 2) per frame
    active: list[np.ndarray] = field(default_factory=list)     # (A,) per frame
    actions: list[list[int]] = field(default_factory=list)     # A actions per step
    metrics: dict = field(default_factory=dict)
    attention: list[np.ndarray] = field(default_factory=list)    # (A, A) per step
    tokens: list[np.ndarray] = field(default_factory=list)       # (A, T) per step
    token_valid: list[np.ndarray] = field(default_factory=list)  # (A, T) bool per step

    @property
    def steps(self) -> int:
        return len(self.actions)

    @property
    def num_agents(self) -> int:
        return len(self.positions[0])

    def reached(self) -> np.ndarray:
        """(frames,) goals reached by all agents up to each frame: an active agent standing after a
        step on the goal it had before that step (envs/pogema_backend.py `step`, the rule that feeds
        envs.metrics: in restart mode one goal reached, even if pogema re-issues the same cell; in
        finish mode the agent's arrival). For on_target='nothing': the agents on their goal now."""
        pos, goals = np.stack(self.positions), np.stack(self.goals)  # (F, A, 2)
        if self.on_target == "nothing":
            return (pos == goals).all(axis=2).sum(axis=1)
        hits = (pos[1:] == goals[:-1]).all(axis=2) & np.stack(self.active)[:-1]  # (F-1, A)
        return np.concatenate([[0], hits.sum(axis=1).cumsum()])
