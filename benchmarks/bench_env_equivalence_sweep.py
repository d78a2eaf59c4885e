"""Long equivalence sweep: the torch backend against real pogema on many random configs.

Each config draws a map (random or maze, 5..16 cells a side), agents (2 up to
half the free cells), radius (1..6), collision system, on_target mode, reward
and episode length, then steps both backends in lockstep on random actions and
stops at the first difference (exit status 1, with the config to reproduce it).

    OMP_NUM_THREADS=1 srmt bench equivalence --configs 200
    srmt bench equivalence --device cuda
"""
import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from benchmarks.options import STEPS, Result, add_ranged, add_result_options
from envs.config import EnvConfig
from common.options import Range
from envs.errors import EnvConfigError
from envs.torch_backend.lockstep import LockstepStats, Mismatch, lockstep
from maps.synthetic import maze_grid, random_grid
from common.device import limit_threads

CONFIGS = Range(1, 100_000, integer=True)
SWEEP_ENVS = Range(1, 256, integer=True)
SEED = Range(0, 1_000_000, integer=True)
REWARDS = ["directional", "sparse", "dense", "directional-negative", "moving-negative"]


def with_markers(rng: np.random.Generator, grid: str) -> str:
    """Some free cells become pogema's '@' (start only), '$' (goal only) or '!' (neither)."""
    return "".join(c if c != "." else ".@$!"[rng.choice(4, p=[0.6, 0.2, 0.15, 0.05])] for c in grid)


def draw_config(rng: np.random.Generator, index: int) -> EnvConfig:
    size = rng.integers(5, 17, size=2)
    if rng.random() < 0.3:
        grid = maze_grid(index, rooms=(int(size[0]) | 1) // 2 + 1, loop_fraction=0.1, room=1)
    else:
        grid = random_grid(index, int(size[0]), int(size[1]), float(rng.uniform(0.1, 0.4)))
    free = grid.count(".")
    mode = ["finish", "restart", "nothing"][index % 3]
    if mode != "restart" and rng.random() < 0.2:  # (restart: PogemaBatchedEnv misses repeated goals there)
        grid = with_markers(rng, grid)
    return EnvConfig(grid=grid, num_agents=int(rng.integers(2, max(3, free // 2))),
                     obs_radius=int(rng.integers(1, 7)),
                     collision_system=["block_both", "soft", "priority"][index // 3 % 3], on_target=mode,
                     reward="lifelong" if mode == "restart" else REWARDS[int(rng.integers(len(REWARDS)))],
                     max_episode_steps=int(rng.integers(8, 120)), seed=int(rng.integers(10_000)))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_ranged(parser, "--configs", CONFIGS, 90, "random configs to try")
    add_ranged(parser, "--steps", STEPS, 150, "lockstep steps per config")
    add_ranged(parser, "--envs", SWEEP_ENVS, 4, "envs per config")
    add_ranged(parser, "--seed", SEED, 0, "seed of the drawn configs")
    parser.add_argument("--device", default="cpu")
    add_result_options(parser)


def run(args: argparse.Namespace) -> int:
    result = Result.begin(args)
    limit_threads()
    rng = np.random.default_rng(args.seed)
    total, skipped, start, i = LockstepStats(), [], time.perf_counter(), 0
    try:
        for i in range(args.configs):
            cfg = draw_config(rng, args.seed * 100_000 + i)
            try:
                stats = lockstep(cfg, args.envs, args.steps, seed=i, device=args.device)
            except (EnvConfigError, OverflowError) as err:  # pogema cannot place that many agents on this map
                skipped.append(i)
                print(f"[{i}] skipped: {str(err).splitlines()[-1]}")
                continue
            except Mismatch as err:
                print(f"[{i}] MISMATCH: {err}\nconfig: {cfg}")
                result.save(title(args), f"**mismatch** in config {i}: {err}", dict(config=str(cfg), error=str(err)))
                return 1
            total.add(stats)
            print(f"[{i}] ok {cfg.collision_system:<10} {cfg.on_target:<7} A={cfg.num_agents:<3} r={cfg.obs_radius} "
                  f"T={cfg.max_episode_steps:<3} blocked={stats.blocked:<5} reached={stats.reached:<4} "
                  f"episodes={stats.episodes}")
    except KeyboardInterrupt:  # the configs compared so far still count
        print(f"interrupted in config {i}; before it, ", end="")
        summary(total, i - len(skipped), len(skipped), start)
        raise
    line = summary(total, args.configs - len(skipped), len(skipped), start)
    result.save(title(args), line, dict(vars(total), compared=args.configs - len(skipped), skipped=skipped))
    return 0


def title(args: argparse.Namespace) -> str:
    """What the sweep compares, for its result file."""
    return (f"Torch backend vs real pogema in lockstep, {args.configs} random configs x {args.envs} envs x "
            f"{args.steps} steps (seed {args.seed}, {args.device})")


def summary(total: LockstepStats, compared: int, skipped: int, start: float) -> str:
    """Print and return what was compared."""
    line = (f"all equal: {compared} configs, {total.env_steps} env-steps, {total.agent_steps} "
            f"agent-steps, {total.blocked} blocked moves, {total.reached} goals reached, {total.episodes} "
            f"episodes; {skipped} skipped; {time.perf_counter() - start:.0f}s")
    print(line)
    return line
