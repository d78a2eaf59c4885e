"""Evaluation suites: which maps, agent counts, seeds and episode lengths.

`bottleneck` is the SRMT test set (SPEC section 2): 58 corridor lengths x 10
seeds, 2 agents, episode length 2L+100, block_both collisions, agents leave
the grid at their goal. Its maps ship with srmt (maps/data).

`validation` is this project's held-out lifelong set (maps/lifelong.py, shipped
in maps/data): 16 wall mazes and 16 random maps of 17-24 cells a side, 16, 32
and 64 agents, 128 steps, the benchmark's dynamics; training never sees these
maps and it is not a benchmark suite (the lifelong learning benchmark scores
checkpoints on it).

`scale` runs thousands of agents per episode (docs/scale.md): the two 256x256 maps of the
generated scale collection (maps/synthetic.py, shipped in maps/data/scale.yaml: a warehouse and
a random map), 1,024 to 16,384 agents, one seed, 256 steps, the lifelong dynamics below.

The five lifelong suites are the POGEMA benchmark (SPEC section 3), copied
from its experiment configs (``NN-name/NN-name.yaml``, checked against them by
tests/test_eval_suites.py): soft collisions, on_target=restart, metric
avg_throughput. Their maps are the benchmark's ``NN-name/maps.yaml`` files,
shipped in maps/data/pogema-benchmark (Apache-2.0); a maps directory given
with --maps-dir / SRMT_MAPS_DIR that holds ``NN-name/maps.yaml`` replaces them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from envs.config import CollisionSystem, OnTarget, is_lifelong
from envs.metrics import METRICS
from maps.bottleneck import TEST_LENGTHS, episode_length_for_test, map_name, parse_bottleneck_length
from maps.lifelong import VALIDATION_MAPS, VALIDATION_PREFIX, lifelong_map_names
from maps.synthetic import scale_map_names

BENCHMARK_URL = "https://github.com/CognitiveAISystems/pogema-benchmark"
"""The POGEMA benchmark repository; raw_data_LMAPF/NN-name/ holds each suite's maps.yaml and configs."""


class EvalError(ValueError):
    """Bad evaluation input (suite, filters, maps, output directory); the message says how to fix it."""


NOT_REPORTED = ("makespan", "ep_length")
"""Metrics every record holds that tables leave out."""
REPORTED: dict[str, tuple[str, ...]] = {mode: tuple(m for m in names if m not in NOT_REPORTED)
                                        for mode, names in METRICS.items()}
"""The metrics tables report per on_target mode, the main one first: the env's metrics (envs.metrics.METRICS)
but makespan and episode length. restart: avg_throughput; finish, nothing: CSR, ISR, SoC."""


def main_metric(on_target: str) -> str:
    """The metric a suite of this dynamics is scored by: avg_throughput (lifelong) or CSR.

    >>> main_metric("restart"), main_metric("finish")
    ('avg_throughput', 'CSR')
    """
    return REPORTED[on_target][0]


@dataclass(frozen=True)
class Episode:
    """One evaluation episode; `key` identifies it in result files."""

    map_name: str
    num_agents: int
    seed: int
    max_episode_steps: int

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.map_name, self.num_agents, self.seed)


@dataclass(frozen=True)
class Suite:
    """A set of episodes evaluated under one dynamics."""

    name: str
    """name on the command line"""
    title: str
    collection: str | None
    """benchmark folder holding maps.yaml (e.g. '01-random', shipped in maps/data/pogema-benchmark); None: maps/data"""
    maps: tuple[str, ...]
    agents: tuple[int, ...]
    seeds: tuple[int, ...]
    max_episode_steps: int | None
    """None: per map (bottleneck: 2L+100)"""
    on_target: OnTarget
    collision_system: CollisionSystem
    quick: dict = field(default_factory=dict, hash=False, compare=False)
    """--quick subset: values for maps / agents / seeds"""

    @property
    def lifelong(self) -> bool:
        return is_lifelong(self.on_target)

    @property
    def metrics(self) -> tuple[str, ...]:
        """Metrics reported in tables, the main one first (REPORTED; records hold all of the env's metrics)."""
        return REPORTED[self.on_target]

    @property
    def main_metric(self) -> str:
        return main_metric(self.on_target)

    @property
    def only_map(self) -> str | None:
        """The map of a one-map suite (Warehouse), which records may leave unnamed; None otherwise."""
        return self.maps[0] if len(self.maps) == 1 else None

    @property
    def default_obs_radius(self) -> int:
        """Radius of the baselines' windows (a policy uses its own): SPEC Bottleneck 2, lifelong 5."""
        return 5 if self.lifelong else 2

    def steps_for(self, map_name: str) -> int:
        if self.max_episode_steps is not None:
            return self.max_episode_steps
        return episode_length_for_test(parse_bottleneck_length(map_name))

    def episodes(self, *, quick: bool = False, maps: str | None = None, agents: Sequence[int] | None = None,
                 seeds: Sequence[int] | None = None, limit: int | None = None) -> list[Episode]:
        """The selected episodes, ordered by agent count, map, seed.

        Args:
            quick: start from the --quick subset instead of the full suite.
            maps: regular expression a map name must fully match.
            agents: agent counts (other counts than the suite's are allowed: extra experiments).
            seeds: seeds (any non-negative integers).
            limit: keep the first `limit` episodes.
        """
        map_list = list(self.quick.get("maps", self.maps) if quick else self.maps)
        agent_list = list(self.quick.get("agents", self.agents) if quick else self.agents)
        seed_list = list(self.quick.get("seeds", self.seeds) if quick else self.seeds)
        if maps is not None:
            try:
                regex = re.compile(maps)
            except re.error as err:
                raise EvalError(f"--maps {maps!r} is not a valid regular expression: {err}") from err
            map_list = [m for m in map_list if regex.fullmatch(m)]
            if not map_list:
                raise EvalError(f"--maps {maps!r} matches no map of suite {self.name!r} "
                                f"(e.g. {', '.join(self.maps[:3])}); it must match whole names")
        if agents is not None:
            bad = [a for a in agents if not isinstance(a, int) or a < 1]
            if bad:
                raise EvalError(f"--agents {bad} must be integers >= 1")
            if self.name == "bottleneck" and any(a != 2 for a in agents):
                raise EvalError(f"--agents {list(agents)}: the bottleneck suite has exactly 2 agents")
            agent_list = list(dict.fromkeys(agents))
        if seeds is not None:
            bad = [s for s in seeds if not isinstance(s, int) or s < 0]
            if bad:
                raise EvalError(f"--seeds {bad} must be integers >= 0")
            seed_list = list(dict.fromkeys(seeds))
        out = [Episode(m, a, s, self.steps_for(m)) for a in agent_list for m in map_list for s in seed_list]
        if limit is not None:
            if limit < 1:
                raise EvalError(f"--episodes {limit} must be >= 1")
            out = out[:limit]
        return out


def _numbered(prefix: str, count: int, width: int = 3) -> tuple[str, ...]:
    return tuple(f"{prefix}{i:0{width}d}" for i in range(count))


_CITIES = ("Berlin_1_256", "Boston_0_256", "London_2_256", "Milan_0_256",
           "Moscow_0_256", "NewYork_1_256", "Paris_1_256", "Paris_2_256")
_LIFELONG = dict(on_target="restart", collision_system="soft")

SUITES: dict[str, Suite] = {s.name: s for s in [
    Suite("bottleneck", "Bottleneck", None, tuple(map_name(L) for L in TEST_LENGTHS), (2,), tuple(range(10)),
          None, "finish", "block_both",
          quick=dict(maps=tuple(map_name(L) for L in (3, 10, 30, 100)), seeds=(0, 1))),
    Suite("validation", "Lifelong validation", None, lifelong_map_names(VALIDATION_PREFIX, VALIDATION_MAPS),
          (16, 32, 64), (0,), 128, **_LIFELONG,
          quick=dict(maps=lifelong_map_names(VALIDATION_PREFIX, VALIDATION_MAPS)[::8], agents=(16, 32))),
    Suite("random", "Random", "01-random", _numbered("validation-random-seed-", 128),
          (8, 16, 24, 32, 48, 64), (0,), 256, **_LIFELONG,
          quick=dict(maps=_numbered("validation-random-seed-", 2), agents=(8, 16))),
    Suite("mazes", "Mazes", "02-mazes", _numbered("validation-mazes-seed-", 128),
          (8, 16, 24, 32, 48, 64), (0,), 128, **_LIFELONG,
          quick=dict(maps=_numbered("validation-mazes-seed-", 2), agents=(8, 16))),
    Suite("warehouse", "Warehouse", "03-warehouse", ("wfi_warehouse",), tuple(range(32, 193, 32)),
          tuple(range(128)), 256, **_LIFELONG, quick=dict(agents=(32,), seeds=(0, 1))),
    Suite("movingai", "MovingAI tiles", "04-movingai",
          tuple(f"{city}_{i:02d}" for city in _CITIES for i in range(16)), (64, 128, 192, 256), (0,), 256,
          **_LIFELONG, quick=dict(maps=("Berlin_1_256_00",), agents=(64,))),
    Suite("puzzles", "Puzzles", "05-puzzles", tuple(f"puzzle-{i:02d}" for i in range(16)), (2, 3, 4),
          tuple(range(10)), 256, **_LIFELONG, quick=dict(maps=("puzzle-00", "puzzle-01"), agents=(2, 3),
                                                          seeds=(0,))),
    Suite("scale", "Scale (256x256)", None, tuple(n for n in scale_map_names() if n.endswith("-256")),
          (1024, 2048, 4096, 8192, 16384), (0,), 256, **_LIFELONG,
          quick=dict(maps=("scale-warehouse-256",), agents=(1024,))),
]}


def get_suite(name: str) -> Suite:
    """The suite called `name`; EvalError listing the known ones otherwise."""
    if name not in SUITES:
        raise EvalError(f"unknown suite {name!r}; choose one of {list(SUITES)}")
    return SUITES[name]


def suite_of_map(name: str) -> Suite | None:
    """The suite a map belongs to (its dynamics are used by `srmt render`), or None."""
    if parse_bottleneck_length(name) is not None:
        return SUITES["bottleneck"]
    for suite in SUITES.values():
        if name in suite.maps:
            return suite
    return None


def group_by_config(episodes: Iterable[Episode]) -> dict[tuple[int, int], list[Episode]]:
    """Episodes that can share one batched env: same agent count and episode length."""
    groups: dict[tuple[int, int], list[Episode]] = {}
    for ep in episodes:
        groups.setdefault((ep.num_agents, ep.max_episode_steps), []).append(ep)
    return groups
