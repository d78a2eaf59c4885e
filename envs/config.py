"""One validated description of an environment, shared by the pogema and torch backends.

`EnvConfig` is a frozen dataclass; `resolve_config` checks every field and the
map, and returns the static facts both backends need (`ResolvedEnv`). All
problems are reported together, each naming the field, the value and the fix.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from envs.errors import EnvConfigError
from envs.relay import RELAY, RELAY_STEPS, relay_problems
from planners.pathfinding import bfs_distances
from maps.errors import MapError
from maps.grid import free_regions, parse_grid
from maps.registry import default_registry

CollisionSystem = Literal["block_both", "soft", "priority"]
OnTarget = Literal["finish", "restart", "nothing"]
PathGuidance = Literal["path", "cost-to-go", "congestion-path"]
"""What channel 0 of the observation carries besides obstacles (-1): the agent's shortest path (+1), its
normalised cost-to-go on every free cell, or the path with ties broken away from other agents
(envs/observation.py defines each)."""


def is_lifelong(on_target: str | None) -> bool:
    """Lifelong MAPF: an agent on its goal gets a new one (pogema's on_target="restart"). The one test of it.

    >>> is_lifelong("restart"), is_lifelong("finish")
    (True, False)
    """
    return on_target == "restart"

RewardScheme = Literal["directional", "sparse", "dense", "directional-negative", "moving-negative", "lifelong"]
LIFELONG_REWARDS = ("lifelong", "directional")
"""Reward schemes of on_target='restart' (+1 per goal, optionally with the `directional` shaping
along the path channel); the other modes take every scheme but `lifelong`."""
NON_LIFELONG_REWARDS: tuple[str, ...] = tuple(r for r in get_args(RewardScheme) if r != "lifelong")
"""Reward schemes of the other on_target modes: the SRMT paper's five Bottleneck schemes (envs/rewards.py)."""
Cell = tuple[int, int]
TaskName = Literal["standard", "relay"]
"""What the agents must do on the map: its own task, or the relay task (envs/relay.py)."""


@dataclass(frozen=True)
class EnvConfig:
    """What an environment is: map, agents, dynamics, observation and reward."""

    map_name: str | None = "bottleneck-8"
    """Registry name of the map (see `srmt maps list`). Ignored when `grid` or `map_pattern` is set."""
    map_pattern: str | None = None
    """Regex over registry names; every episode draws one of the matching maps (seeded)."""
    grid: str | None = None
    """An explicit map in pogema's text format ('.' free, '#' obstacle, one row per line)."""
    maps_dir: str | None = None
    """Extra map collections (YAML) to load, e.g. the POGEMA benchmark; env var SRMT_MAPS_DIR also works."""
    num_agents: int = 2
    seed: int = 0
    """Seed of the first episode; later episodes of a batched env derive their seeds from it."""
    obs_radius: int = 2
    """Half-width r of the (2r+1)x(2r+1) egocentric observation window."""
    guidance: PathGuidance = "path"
    """Channel 0 besides obstacles: 'path' (the shortest path, +1), 'cost-to-go' (every free cell's normalised
    distance to the goal in [0, 1]) or 'congestion-path' (the path, ties broken away from other agents)."""
    collision_system: CollisionSystem = "block_both"
    on_target: OnTarget = "finish"
    max_episode_steps: int = 512
    reward: RewardScheme = "directional"
    starts: tuple[Cell, ...] | None = None
    """Explicit start cells (row, col), one per agent; default: the map's own sampler (bottleneck) or pogema's."""
    goals: tuple[Cell, ...] | None = None
    """Explicit goal cells (row, col), one per agent (not allowed with on_target='restart')."""
    task: TaskName = "standard"
    """'standard': the map's own task (the paper's Bottleneck on bottleneck maps); 'relay': two agents on a
    Bottleneck map whose goals only the partner sees, episodes capped at 7 steps (envs/relay.py, docs/maps.md)."""

    def replace(self, **changes) -> "EnvConfig":
        """A copy with some fields changed; unknown field names are an error."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise EnvConfigError(f"unknown EnvConfig field(s) {sorted(unknown)}; known: {field_names()}")
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, values: dict) -> "EnvConfig":
        """Build from a plain dict (e.g. a saved experiment config), rejecting unknown keys."""
        return cls().replace(**{k: _as_cells(v) if k in ("starts", "goals") else v for k, v in values.items()})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(EnvConfig)]


def _as_cells(value):
    return None if value is None else tuple(tuple(int(x) for x in cell) for cell in value)


@dataclass(frozen=True)
class MapSpec:
    """A parsed map: its name, its text (kept for pogema: '@'/'$' mark possible starts/goals)
    and its obstacle array (True = obstacle)."""

    name: str
    text: str
    obstacles: np.ndarray

    @property
    def free_cells(self) -> int:
        return int((~self.obstacles).sum())


@dataclass(frozen=True)
class ResolvedEnv:
    """A validated config plus the maps it may draw from."""

    config: EnvConfig
    maps: tuple[MapSpec, ...]

    @property
    def window(self) -> int:
        return 2 * self.config.obs_radius + 1


@functools.lru_cache(maxsize=1024)
def start_goal_pairs(text: str, name: str) -> int:
    """Agents pogema can place on a map without markers: each needs a start and a distinct goal
    cell in one connected region, so a region of n free cells holds n // 2 (cached per map)."""
    return sum(size // 2 for size in free_regions(parse_grid(text, name))[1])


def _choices(field: str, value, allowed_type) -> str | None:
    allowed = get_args(allowed_type)
    if value not in allowed:
        return f"{field}={value!r} is not one of {list(allowed)}"
    return None


MAP_SOURCES = ("grid", "map_pattern", "map_name")
"""How an env names its maps, in the order `_resolve_maps` reads them (the first one set wins)."""


def _resolve_maps(cfg: EnvConfig) -> tuple[MapSpec, ...]:
    if cfg.grid is not None:
        return (MapSpec("custom", cfg.grid, parse_grid(cfg.grid, name="grid")),)
    registry = default_registry(cfg.maps_dir)
    if cfg.map_pattern is not None:
        names = registry.match(cfg.map_pattern)
    elif cfg.map_name is not None:
        names = [cfg.map_name]
    else:
        raise EnvConfigError("no map given: set map_name, map_pattern or grid (see `srmt maps list`)")
    texts = [registry.grid(name) for name in names]
    return tuple(MapSpec(name, text, parse_grid(text, name=name)) for name, text in zip(names, texts))


def _check_cells(field: str, cells, cfg: EnvConfig, maps: tuple[MapSpec, ...]) -> list[str]:
    problems = []
    if len(cells) != cfg.num_agents:
        problems.append(f"{field} has {len(cells)} cells but num_agents={cfg.num_agents}; give one per agent")
    if len(set(cells)) != len(cells):
        problems.append(f"{field} repeats a cell: {list(cells)}; every agent needs its own")
    for spec in maps:
        rows, cols = spec.obstacles.shape
        for agent, (r, c) in enumerate(cells):
            if not (0 <= r < rows and 0 <= c < cols):
                problems.append(f"{field}[{agent}]={(r, c)} is outside map {spec.name!r} ({rows}x{cols})")
            elif spec.obstacles[r, c]:
                problems.append(f"{field}[{agent}]={(r, c)} is on an obstacle of map {spec.name!r}; pick a free '.' cell")
    return problems


def resolve_config(cfg: EnvConfig) -> ResolvedEnv:
    """Validate `cfg` and load its maps; raise EnvConfigError listing every problem. With task='relay' the
    resolved config's max_episode_steps is at most RELAY_STEPS.

    Example:
        >>> resolved = resolve_config(EnvConfig(map_name="bottleneck-3"))
        >>> resolved.maps[0].obstacles.shape
        (7, 9)
    """
    problems = [p for p in (
        _choices("collision_system", cfg.collision_system, CollisionSystem),
        _choices("on_target", cfg.on_target, OnTarget),
        _choices("reward", cfg.reward, RewardScheme),
        _choices("guidance", cfg.guidance, PathGuidance),
    ) if p]
    if not isinstance(cfg.num_agents, int) or cfg.num_agents < 1:
        problems.append(f"num_agents={cfg.num_agents!r} must be an integer >= 1")
    if not isinstance(cfg.obs_radius, int) or cfg.obs_radius < 1:
        problems.append(f"obs_radius={cfg.obs_radius!r} must be an integer >= 1 (the window is 2r+1 cells wide)")
    if not isinstance(cfg.max_episode_steps, int) or cfg.max_episode_steps < 1:
        problems.append(f"max_episode_steps={cfg.max_episode_steps!r} must be an integer >= 1")
    if not isinstance(cfg.seed, int) or cfg.seed < 0:
        problems.append(f"seed={cfg.seed!r} must be an integer >= 0")
    fitting = LIFELONG_REWARDS if is_lifelong(cfg.on_target) else NON_LIFELONG_REWARDS
    if cfg.reward in get_args(RewardScheme) and cfg.reward not in fitting:
        problems.append(f"reward={cfg.reward!r} does not fit on_target={cfg.on_target!r}: "
                        f"use one of {list(fitting)}")
    if (cfg.starts is None) != (cfg.goals is None):
        problems.append("give both starts and goals, or neither")
    if cfg.goals is not None and is_lifelong(cfg.on_target):
        problems.append("explicit goals are not supported with on_target='restart' (goals are generated by pogema)")
    if task_problem := _choices("task", cfg.task, TaskName):
        problems.append(task_problem)
    if problems:
        raise EnvConfigError("invalid environment config:\n  - " + "\n  - ".join(problems))

    try:
        maps = _resolve_maps(cfg)
    except MapError as err:
        raise EnvConfigError(str(err)) from err
    for spec in maps:
        if cfg.num_agents > spec.free_cells:
            problems.append(f"num_agents={cfg.num_agents} is more than the {spec.free_cells} free cells of map "
                            f"{spec.name!r}; use fewer agents or a larger map")
        elif cfg.starts is None and not any(mark in spec.text for mark in "@$"):
            pairs = start_goal_pairs(spec.text, spec.name)
            if cfg.num_agents > pairs:
                problems.append(f"map {spec.name!r} has room for {pairs} agents with distinct start and goal cells "
                                f"in one connected region, fewer than num_agents={cfg.num_agents}; use fewer agents "
                                "or larger maps")
    if cfg.task == RELAY:
        problems += relay_problems(cfg.num_agents, cfg.on_target, cfg.obs_radius, cfg.starts is not None,
                                   [spec.name for spec in maps])
    if cfg.starts is not None and not problems:
        problems += _check_cells("starts", cfg.starts, cfg, maps)
        problems += _check_cells("goals", cfg.goals, cfg, maps)
        if not problems:
            problems += _unreachable(cfg, maps)
    if problems:
        raise EnvConfigError("invalid environment config:\n  - " + "\n  - ".join(problems))
    if cfg.task == RELAY:  # the relay task's deadline: the resolved config holds the capped episode length
        cfg = cfg.replace(max_episode_steps=min(cfg.max_episode_steps, RELAY_STEPS))
    return ResolvedEnv(cfg, maps)


def _unreachable(cfg: EnvConfig, maps: tuple[MapSpec, ...]) -> list[str]:
    problems = []
    for spec in maps:
        for agent, (start, goal) in enumerate(zip(cfg.starts, cfg.goals)):
            if bfs_distances(spec.obstacles, goal)[start] < 0:
                problems.append(f"goal {goal} of agent {agent} cannot be reached from its start {start} "
                                f"on map {spec.name!r}; put them in the same connected region")
    return problems
