"""The `relay` task (EnvConfig.task='relay'): a two-agent Bottleneck variant that only shared memory solves.

What an agent needs to know, which end of its room its goal is at, is hidden from the agent and shown to its
partner, on the other side of the corridor (docs/maps.md, "Relay", has the argument in full):

- Cells: agent 0 starts in room A's outer row at the corridor's column, (0, 4); agent 1 in room B's outer row,
  (L+3, 4). Each agent's goal is at the left end (column 0) or the right end (column 8) of its own start row,
  bit a of the seed choosing for agent a (0: left), so the two sides are independent and fair over seeds, and
  seeds 0..4k-1 hold each of the four pairs k times (`relay_starts_goals`).
- Observation (`relay_view`, applied by both backends to their standard observation):
  channel 0 keeps the obstacles (-1) but shows the agent's own guidance (its shortest path) only once its goal
  is inside the window; channel 2 no longer shows goals in view, but the partner's side: a 1 at the middle
  row's left edge (window cell (r, 0)) if the partner's goal is at the left end of the partner's row, at the
  right edge (r, 2r) if at the right end. It is the same on every step of the episode.
- Episodes last at most RELAY_STEPS = 7 steps (`resolve_config` caps max_episode_steps).

An agent that knows its side from step 1 on arrives by step 6 at the latest. One that does not must walk 2
cells towards one end before that end enters its window, and if its goal is at the other end it needs 6 more
steps: 8 > 7. So without its partner's information an agent reaches its goal in at most half of the episodes,
and both agents in at most half (docs/results/memory-task/blind_bound.json computes it exactly). The partner
saw the side at step 0; with SRMT's shared memory pool the agent reads it at step 1.

Rewards and the `directional` shaping still follow the true shortest path: they are not observations.
"""
from __future__ import annotations

import torch
from torch import Tensor

from maps.bottleneck import CORRIDOR_COL, ROOM_ROWS, WIDTH, parse_bottleneck_length, sample_starts_goals

RELAY = "relay"
"""The task's name (`EnvConfig.task`)."""
RELAY_STEPS = 7
"""Episode length cap: the informed agent needs at most 6 steps, a blind one 8 to try both ends."""
RELAY_MAX_RADIUS = 2
"""Largest observation radius that hides both goals for 2 steps (radius 3 sees an end after 1 step: 6 <= 7)."""
RELAY_MIN_LENGTH = 2
"""Shortest corridor: agents that reach their goals in time never see each other (rows 0-1 and L+2-L+3)."""


def relay_starts_goals(length: int, seed: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Starts and goals of the relay task on `bottleneck-{length}` for `seed`, as ([s0, s1], [g0, g1]).

    >>> relay_starts_goals(3, 2)
    ([(0, 4), (6, 4)], [(0, 0), (6, 8)])
    """
    rows = (0, length + 2 * ROOM_ROWS - 1)                     # the outer row of room A and of room B
    ends = (0, WIDTH - 1)
    starts = [(row, CORRIDOR_COL) for row in rows]
    goals = [(row, ends[(seed >> agent) & 1]) for agent, row in enumerate(rows)]
    return starts, goals


def bottleneck_cells(task: str, length: int, seed: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The two agents' starts and goals on a Bottleneck map for a task: relay's, or the paper's sampler."""
    return (relay_starts_goals if task == RELAY else sample_starts_goals)(length, seed)


def relay_problems(num_agents: int, on_target: str, obs_radius: int, explicit_cells: bool,
                   map_names: list[str]) -> list[str]:
    """What keeps a config from playing the relay task (empty: nothing); each names the field and the fix."""
    problems = []
    if num_agents != 2:
        problems.append(f"task='relay' is a two-agent task: num_agents={num_agents} must be 2")
    if on_target != "finish":
        problems.append(f"task='relay' needs on_target='finish' (agents leave at their goal), not {on_target!r}")
    if obs_radius > RELAY_MAX_RADIUS:
        problems.append(f"task='relay' hides goals 4 cells from the start: obs_radius={obs_radius} would show an "
                        f"end of the room after {4 - obs_radius} step(s); use obs_radius <= {RELAY_MAX_RADIUS}")
    if explicit_cells:
        problems.append("task='relay' places its own starts and goals; drop starts and goals")
    for name in map_names:
        length = parse_bottleneck_length(name)
        if length is None or length < RELAY_MIN_LENGTH:
            problems.append(f"task='relay' plays on Bottleneck maps bottleneck-L with L >= {RELAY_MIN_LENGTH}; map "
                            f"{name!r} is not one: use e.g. map_pattern='bottleneck-.*' or map_name='bottleneck-8'")
            break
    return problems


def relay_view(obs: Tensor, positions: Tensor, goals: Tensor, active: Tensor, radius: int) -> Tensor:
    """The relay observation from the standard one, in place (module docstring).

    Args:
        obs: (E*A, 3, w, w) standard observations (row e*A + a), A = 2.
        positions, goals: (E, A, 2) map cells; active: (E, A) agents still on the grid.
    Returns:
        `obs`, edited.
    """
    hidden = ((goals - positions).abs().amax(dim=2) > radius).reshape(-1)              # (N,) goal out of view
    obs[:, 0] = torch.where(hidden[:, None, None], obs[:, 0].clamp(max=0.0), obs[:, 0])
    obs[:, 2] = 0.0
    partner_end = goals.flip(1)[..., 1].reshape(-1)                                    # (N,) column of its goal
    column = torch.where(partner_end < CORRIDOR_COL, 0, 2 * radius)
    rows = active.reshape(-1).nonzero().squeeze(1)
    obs[rows, 2, radius, column[rows]] = 1.0
    return obs


def task_view(env, obs: Tensor) -> Tensor:
    """The observation of `env`'s task (a batched env: config, positions, goals, active): `obs` itself for
    the standard task, `relay_view` of it for relay."""
    if env.config.task != RELAY:
        return obs
    return relay_view(obs, env.positions, env.goals, env.active, env.config.obs_radius)
