"""`srmt bench env`: agent-steps/s of the torch backend against the pogema backend, same maps and agents.

Three sizes (random actions, maps from seeded generators):
  bottleneck  2 agents on bottleneck-8 (finish, block_both, r=2), 1024 envs
  maze        64 agents on a 21x21 maze (restart, soft, r=5), 64 envs
  random      256 agents on a 64x64 random map, density 0.3 (restart, soft, r=5), 16 envs
For each it prints the torch backend's rate, the pogema backend's rate
(`PogemaBatchedEnv`, observations included), their ratio, and pogema's bare
dynamics (`Pogema.step` without observations): the ceiling of any pogema-backed
env, whatever its observation code. Each rate is the median of `--rounds`
rounds (fixed before any is read) and the ratio is the median of the per-round
ratios, printed with its spread (min-max); the backends' rounds are interleaved
(other processes on the machine slow both alike);
they exclude `reset()`, whose time is printed apart, while episodes that end
during the timed steps restart inside them, in both backends.
"""
from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

import numpy as np
import torch

from benchmarks.options import ENVS, ROUNDS, STEPS, UNTIMED_STEPS, Result, add_ranged, add_result_options
from common.actions import NUM_ACTIONS
from envs.config import EnvConfig, resolve_config
from common.device import resolve_device
from common.options import Range
from envs.pogema_backend import PogemaBatchedEnv, make_pogema
from envs.task import TaskSampler
from envs.torch_backend.env import TorchBatchedEnv
from maps.synthetic import maze_grid, random_grid

POGEMA_ENVS = Range(1, 4096, integer=True)
"""pogema steps its envs one by one in Python: more than a few thousand never finishes a round."""


@dataclass(frozen=True)
class Case:
    title: str
    config: EnvConfig
    envs: int


def cases() -> dict[str, Case]:
    lifelong = {"obs_radius": 5, "collision_system": "soft", "on_target": "restart", "reward": "lifelong"}
    return {
        "bottleneck": Case("2 agents, bottleneck-8, finish/block_both, r=2",
                           EnvConfig(map_name="bottleneck-8", num_agents=2, max_episode_steps=512), 1024),
        "maze": Case("64 agents, 21x21 maze, restart/soft, r=5",
                     EnvConfig(grid=maze_grid(0, rooms=11, loop_fraction=0.1, room=1), num_agents=64, max_episode_steps=256, **lifelong), 64),
        "random": Case("256 agents, 64x64 random 0.3, restart/soft, r=5",
                       EnvConfig(grid=random_grid(0, 64, 64, 0.3), num_agents=256, max_episode_steps=256,
                                 **lifelong), 16),
    }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _Timer:
    """Steps one batched env on seeded random actions and times rounds of it."""

    def __init__(self, env, device: torch.device, rounds: int, steps: int, warmup: int):
        gen = torch.Generator(device=device).manual_seed(0)
        self.env, self.device, self.steps, self.t = env, device, steps, 0
        self.actions = torch.randint(0, NUM_ACTIONS, (warmup + rounds * steps, env.num_rows), generator=gen, device=device)
        start = time.perf_counter()
        env.reset()
        _sync(device)
        self.reset_s = time.perf_counter() - start
        self._run(warmup)

    def _run(self, steps: int) -> None:
        for _ in range(steps):
            self.env.step(self.actions[self.t])
            self.t += 1

    def round(self) -> float:
        """Agent-steps/s of one round."""
        _sync(self.device)
        start = time.perf_counter()
        self._run(self.steps)
        _sync(self.device)
        return self.steps * self.env.num_rows / (time.perf_counter() - start)


class _BarePogema:
    """pogema's own step (no observations) on the same tasks, `num_envs` envs in a loop."""

    def __init__(self, config: EnvConfig, num_envs: int, steps: int, rounds: int):
        resolved = resolve_config(config)
        self.envs = [make_pogema(resolved, TaskSampler(resolved, config.seed, e)()) for e in range(num_envs)]
        self.actions = np.random.default_rng(0).integers(0, NUM_ACTIONS, size=(rounds, steps, num_envs, config.num_agents))
        self.actions, self.r = self.actions.tolist(), 0
        self.rate = num_envs * config.num_agents * steps

    def round(self) -> float:
        start = time.perf_counter()
        for per_env in self.actions[self.r]:
            for env, act in zip(self.envs, per_env):
                env.step(act)
        self.r += 1
        return self.rate / (time.perf_counter() - start)


def run(args: argparse.Namespace) -> int:
    result = Result.begin(args)
    device = resolve_device(args.device)
    chosen = cases()
    names = args.cases or list(chosen)
    unknown = sorted(set(names) - set(chosen))
    if unknown:
        raise ValueError(f"unknown case(s) {unknown}; choose from {list(chosen)}")
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} intra-op thread(s); random "
          f"actions; agent-steps/s, medians of {args.rounds} interleaved rounds")
    header = f"{'case':<11} {'E torch':>7} {'torch':>12} {'E pogema':>8} {'pogema':>10} {'ratio':>7} " \
             f"{'ratio spread':>15} {'bare pogema':>11} {'reset torch/pogema (s)':>22}"
    print(header)
    print("-" * len(header))
    figures: dict[str, dict] = {}
    for name in names:
        case = chosen[name]
        e_torch, e_pogema = args.envs or case.envs, args.pogema_envs or case.envs
        timers = [_Timer(TorchBatchedEnv(case.config, e_torch, device=device), device, args.rounds, args.steps,
                         args.warmup)]
        if not args.torch_only:
            cpu = torch.device("cpu")
            timers.append(_Timer(PogemaBatchedEnv(case.config, e_pogema), cpu, args.rounds, args.pogema_steps,
                                 min(args.warmup, 2)))
            timers.append(_BarePogema(case.config, e_pogema, args.pogema_steps, args.rounds))
        rounds = [[t.round() for t in timers] for _ in range(args.rounds)]
        median = [statistics.median(rates) for rates in zip(*rounds)]
        figures[name] = dict(title=case.title, envs_torch=e_torch, torch=median[0], rounds=rounds)
        if args.torch_only:
            print(f"{name:<11} {e_torch:>7} {median[0]:>12,.0f}   {case.title}")
            continue
        ratios = [r[0] / r[1] for r in rounds]
        spread = f"{min(ratios):.1f}-{max(ratios):.1f}x"
        print(f"{name:<11} {e_torch:>7} {median[0]:>12,.0f} {e_pogema:>8} {median[1]:>10,.0f} "
              f"{statistics.median(ratios):>6.1f}x {spread:>15} {median[2]:>11,.0f} "
              f"{timers[0].reset_s:>10.2f} / {timers[1].reset_s:<9.2f}  {case.title}")
        figures[name].update(envs_pogema=e_pogema, pogema=median[1], bare_pogema=median[2],
                             ratio=statistics.median(ratios), ratio_min=min(ratios), ratio_max=max(ratios))
        del timers
    result.save(f"Env speed, torch {'backend alone' if args.torch_only else 'vs pogema backend'} (random actions, "
                f"{device}, {torch.get_num_threads()} thread(s), median of {args.rounds} interleaved rounds of "
                f"{args.steps} / {args.pogema_steps} steps)", "; ".join(map(_summary, figures.values())),
                figures, "" if args.torch_only else ">= 20x at every size")
    return 0


def _summary(case: dict) -> str:
    """One case's figures in a sentence."""
    if "ratio" not in case:
        return f"{case['title']}, {case['envs_torch']} envs: {case['torch']:,.0f} agent-steps/s"
    return (f"{case['title']}, {case['envs_torch']} envs: **{case['ratio']:.1f}x** (rounds {case['ratio_min']:.1f}-"
            f"{case['ratio_max']:.1f}x; {case['torch']:,.0f} vs {case['pogema']:,.0f} agent-steps/s)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", help="torch backend device: cpu, cuda, cuda:1 (default cpu)")
    add_ranged(parser, "--envs", ENVS, None,
               "envs of the torch backend for every case (default: 1024 / 64 / 16); e.g. 4096 on a GPU")
    add_ranged(parser, "--pogema-envs", POGEMA_ENVS, None, "envs of the pogema backend (default: as the case)")
    add_ranged(parser, "--steps", STEPS, 100, "timed steps of the torch backend per round")
    add_ranged(parser, "--pogema-steps", STEPS, 10, "timed steps of the pogema backend per round")
    add_ranged(parser, "--warmup", UNTIMED_STEPS, 10, "untimed steps first")
    add_ranged(parser, "--rounds", ROUNDS, 8, "timed rounds per backend, interleaved")
    parser.add_argument("--cases", nargs="*", default=None, help="subset of: bottleneck maze random")
    parser.add_argument("--torch-only", action="store_true", help="skip the pogema backend (large --envs on a GPU)")
    add_result_options(parser)
