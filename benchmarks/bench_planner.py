"""PIBT planning speed: the compiled planner against its plain Python reference, in one run.

    srmt bench planner [--agents 64 1024 16384] [--steps 16] [--rounds 3] [--envs 64 16]
                       [--out docs/results/bench/planner.json]

For each agent count A: one env on the map `benchmarks.bench_scaling.map_for(A)` gives (a 64x64 MovingAI
map up to 256 agents, the 128x128 scale warehouse up to 2,048, the 256x256 one beyond), A starts and A goals
drawn (seed 0) as distinct cells of its largest connected region. `--steps` states are made by letting the
fast planner play that many steps from the starts (positions and PIBT's dynamic priorities; goals stay),
untimed. Then, `--rounds` times, each planner plans every state; what is timed is planning only, as
`PIBTPlanner.plan` does it per env: the candidates ranked by distance from the cached distance tables, and
priority inheritance with backtracking (no env step, no table built: the tables of all goals are made first
and shared by both planners). Both planners draw the same ties (a fresh stream per state) and must choose
identical actions at every state of every round (else the benchmark fails).

`--envs E A` also times the loop over envs: `PIBTPlanner.actions` (each env's priorities, then the envs on
one map planned together) on E envs of A agents (torch backend, lifelong, the map of A), both planners on
the same states, `--steps` steps from the same reset per round; the env steps and the tables of new goals
are untimed.

Printed per A: agent-steps per second of both planners (all rounds together) and their ratio, per CPU
second of the planning thread (`time.thread_time`: what one core does, however loaded the machine) and by
the clock. The fast planner's first use in the process (compiling its kernels, or loading them from the
cache beside planners/pibt_jit.py) runs first and is timed apart, as is building the distance tables, and
each planner's first call per world is left out. Targets (issue 31), checked on the CPU-second rates:
at least 1M agent-steps/s at 16,384 agents on one core, and at least 20x the reference in the same run;
the exit code is 1 when one is missed. One thread (`srmt bench` sets it).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks.bench_scaling import AGENTS, map_for
from benchmarks.options import ROUNDS, STEPS, Result, add_ranged, add_result_options
from common.options import Range
from envs.config import EnvConfig, resolve_config
from maps.grid import free_regions
from planners import pibt_jit
from planners.pibt import PIBTPlanner, update_priorities

TARGET_RATE = 1_000_000
"""Agent-steps/s of the fast planner at TARGET_AGENTS agents."""
TARGET_AGENTS = 16384
TARGET_SPEEDUP = 20
SEED = 0
PATHS = ("reference", "fast")
ENVS_OPTION = Range(0, 16384, integer=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agents", type=AGENTS.argtype("--agents"), nargs="+", default=[64, 1024, 16384],
                        help="agent counts, one env each (default 64 1024 16384)")
    add_ranged(parser, "--steps", STEPS, 16, "states planned per round")
    add_ranged(parser, "--rounds", ROUNDS, 3, "rounds: every state planned once per round by each planner")
    parser.add_argument("--envs", type=ENVS_OPTION.argtype("--envs"), nargs=2, default=[64, 16],
                        metavar=("E", "A"), help="also E envs of A agents each on one map, planned by "
                        "PIBTPlanner.actions (the loop over envs); 0 0: not (default 64 16)")
    add_result_options(parser)


def largest_region(agents: int) -> tuple[str, np.ndarray, np.ndarray]:
    """(map name, obstacles, flat cells of its largest connected region) of an agent count; ValueError when
    that region cannot hold a start and a goal per agent."""
    name = map_for(agents)
    obstacles = resolve_config(EnvConfig(map_name=name, num_agents=agents)).maps[0].obstacles
    label, sizes = free_regions(obstacles)
    if 2 * agents > max(sizes):
        raise ValueError(f"--agents {agents}: the largest region of map {name!r} holds {max(sizes) // 2} agents "
                         f"with distinct start and goal cells; use at most that many")
    return name, obstacles, np.flatnonzero(label.reshape(-1) == int(np.argmax(sizes)))


def world(agents: int) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """(map name, obstacles, starts, goals): A starts and A goals, 2A distinct cells of the largest region."""
    name, obstacles, region = largest_region(agents)
    cells = np.random.default_rng(SEED).choice(region, 2 * agents, replace=False)
    starts, goals = (np.stack(np.divmod(part, obstacles.shape[1]), axis=1) for part in np.split(cells, 2))
    return name, obstacles, starts, goals


def _streams(steps: int) -> list[np.random.Generator]:
    """The ties' stream of each state, the same for both planners."""
    return [np.random.default_rng([SEED, step]) for step in range(steps)]


def measure(agents: int, steps: int, rounds: int) -> dict:
    """Both planners on the same `steps` states of one world, `rounds` times (module docstring)."""
    name, obstacles, positions, goals = world(agents)
    fast, reference = PIBTPlanner(), PIBTPlanner(reference=True)
    reference.distances = fast.distances                                      # one store of tables for both
    started = time.perf_counter()
    fast.distances.build(obstacles, goals)
    tables_s = time.perf_counter() - started
    ties = np.random.default_rng(SEED).permutation(agents) / agents
    priorities = ties.copy()
    first = {}                                                                # untimed: one call each first
    for path, planner in zip(PATHS, (reference, fast)):
        started = time.perf_counter()
        planner.plan(obstacles, positions, goals, priorities, np.random.default_rng(SEED))
        first[path] = round(time.perf_counter() - started, 4)
    states = []
    for rng in _streams(steps):                                               # untimed: the states to plan
        states.append((positions, priorities))
        actions = fast.plan(obstacles, positions, goals, priorities, rng)
        positions = positions + pibt_jit.STEPS[actions]
        priorities = update_priorities(priorities, (positions == goals).all(1), ties)
    wall, cpu = ({path: [] for path in PATHS} for _ in range(2))
    chosen = {}
    for _ in range(rounds):
        for path, planner in zip(PATHS, (reference, fast)):
            streams = _streams(steps)
            started, started_cpu = time.perf_counter(), time.thread_time()
            chosen[path] = [planner.plan(obstacles, p, goals, q, rng) for (p, q), rng in zip(states, streams)]
            wall[path].append(time.perf_counter() - started)
            cpu[path].append(time.thread_time() - started_cpu)
        if any((a != b).any() for a, b in zip(chosen["fast"], chosen["reference"])):
            raise RuntimeError(f"{agents} agents on {name}: the fast planner chose other moves than the reference")
    rate = {path: agents * steps * rounds / sum(cpu[path]) for path in PATHS}
    return {"agents": agents, "map": name, "steps": steps, "rounds": rounds, "identical_moves": True,
            "moves_per_state": round(float(np.mean([(a != 0).sum() for a in chosen["fast"]])), 1),
            "tables_s": round(tables_s, 2), "first_call_s": first,
            **{path: {"agent_steps_per_s": round(rate[path]), "us_per_agent_step": round(1e6 / rate[path], 3),
                      "wall_agent_steps_per_s": round(agents * steps * rounds / sum(wall[path])),
                      "round_cpu_s": [round(s, 4) for s in cpu[path]],
                      "round_wall_s": [round(s, 4) for s in wall[path]]} for path in PATHS},
            "speedup": round(rate["fast"] / rate["reference"], 1),
            "wall_speedup": round(sum(wall["reference"]) / sum(wall["fast"]), 1)}


def measure_envs(envs: int, agents: int, steps: int, rounds: int) -> dict:
    """Both planners' `actions` on the same `steps` states of E envs (torch backend, lifelong), `rounds`
    times from the same reset: the per-env loop, ranking and planning; the env steps (with the fast actions)
    and the distance tables of new goals are untimed."""
    from envs.torch_backend import TorchBatchedEnv

    name = map_for(agents)
    env = TorchBatchedEnv(EnvConfig(map_name=name, num_agents=agents, on_target="restart", reward="lifelong",
                                    collision_system="soft", obs_radius=5, max_episode_steps=256), envs,
                          auto_reset=False)
    obstacles = env.resolved.maps[0].obstacles
    planners = dict(zip(PATHS, (PIBTPlanner(reference=True), PIBTPlanner())))
    planners["reference"].distances = planners["fast"].distances
    cpu = {path: 0.0 for path in PATHS}
    for _ in range(rounds):
        env.reset(seed=SEED)
        streams = {path: [np.random.default_rng([SEED, e]) for e in range(envs)] for path in PATHS}
        for path, planner in planners.items():
            planner.reset(envs, agents, streams[path])
        for _ in range(steps):
            planners["fast"].distances.build(obstacles, env.goals.numpy().reshape(-1, 2))
            chosen = {}
            for path, planner in planners.items():
                started = time.thread_time()
                chosen[path] = planner.actions(env, streams[path])
                cpu[path] += time.thread_time() - started
            if (chosen["fast"] != chosen["reference"]).any():
                raise RuntimeError(f"{envs} envs x {agents} agents: the fast planner chose other moves")
            env.step(torch.from_numpy(chosen["fast"]))
    rate = {path: envs * agents * steps * rounds / cpu[path] for path in PATHS}
    return {"envs": envs, "agents": agents, "map": name, "steps": steps, "rounds": rounds, "identical_moves": True,
            **{path: {"agent_steps_per_s": round(rate[path]), "cpu_s": round(cpu[path], 3),
                      "us_per_env_step": round(1e6 * cpu[path] / (envs * steps * rounds), 1)} for path in PATHS},
            "speedup": round(rate["fast"] / rate["reference"], 1)}


def jit_warmup() -> dict:
    """The fast planner's first use in this process, on a tiny world: compiling its kernels (or loading them
    from the cache beside planners/pibt_jit.py), timed apart from everything else."""
    obstacles = np.zeros((2, 3), dtype=bool)
    started = time.perf_counter()
    PIBTPlanner().plan(obstacles, np.array([(0, 0), (1, 2)]), np.array([(1, 2), (0, 0)]), np.zeros(2), None)
    return {"seconds": round(time.perf_counter() - started, 2), "from_cache": pibt_jit.from_cache()}


def missed_targets(cases: list[dict]) -> list[str]:
    """The targets this run measured and missed."""
    at = [c for c in cases if c["agents"] == TARGET_AGENTS]
    return ([f"{c['agents']} agents: {c['speedup']}x the reference (target >= {TARGET_SPEEDUP}x)"
             for c in at if c["speedup"] < TARGET_SPEEDUP]
            + [f"{c['agents']} agents: {c['fast']['agent_steps_per_s']:,} agent-steps/s (target >= {TARGET_RATE:,})"
               for c in at if c["fast"]["agent_steps_per_s"] < TARGET_RATE])


def run(args: argparse.Namespace) -> int:
    result = Result.begin(args)
    for agents in args.agents + args.envs[1:]:                                # every count fits its map
        if agents:
            largest_region(agents)
    warmup = jit_warmup()
    print(f"JIT warm-up: {warmup['seconds']} s ({'loaded from the cache' if warmup['from_cache'] else 'compiled'})")
    cases = []
    for agents in sorted(args.agents):
        case = measure(agents, args.steps, args.rounds)
        cases.append(case)
        print(f"{agents} agents on {case['map']}: reference {case['reference']['agent_steps_per_s']:,} "
              f"agent-steps/s, fast {case['fast']['agent_steps_per_s']:,} agent-steps/s ({case['speedup']}x) per "
              f"CPU second; by the clock {case['reference']['wall_agent_steps_per_s']:,} and "
              f"{case['fast']['wall_agent_steps_per_s']:,} ({case['wall_speedup']}x); identical moves; "
              f"distance tables {case['tables_s']} s (untimed)", flush=True)
    loop = measure_envs(*args.envs, args.steps, args.rounds) if args.envs[0] and args.envs[1] else None
    if loop:
        print(f"{loop['envs']} envs x {loop['agents']} agents on {loop['map']} (PIBTPlanner.actions): reference "
              f"{loop['reference']['agent_steps_per_s']:,} agent-steps/s ({loop['reference']['us_per_env_step']} us "
              f"per env), fast {loop['fast']['agent_steps_per_s']:,} ({loop['fast']['us_per_env_step']} us per env), "
              f"{loop['speedup']}x per CPU second; identical moves", flush=True)
    summary = "; ".join(f"{c['agents']} agents: fast {c['fast']['agent_steps_per_s']:,} agent-steps/s, "
                        f"{c['speedup']}x the reference" for c in cases) + " (per CPU second of the planning thread)"
    result.save(f"PIBT planning only (ranking from cached distance tables + priority inheritance with "
                f"backtracking), compiled vs plain Python reference, {args.steps} states x {args.rounds} rounds "
                f"per agent count, 1 thread", summary, {"jit_warmup": warmup, "cases": cases, "envs": loop},
                target=f">= {TARGET_RATE:,} agent-steps/s at {TARGET_AGENTS:,} agents on one core; "
                       f">= {TARGET_SPEEDUP}x the reference in the same run")
    missed = missed_targets(cases)
    for line in missed:
        print(f"target missed: {line}")
    return 1 if missed else 0
