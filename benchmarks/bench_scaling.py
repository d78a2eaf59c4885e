"""Scaling: cost per agent-step and peak memory from 256 to 16,384 agents in one lifelong environment.

    srmt bench scaling [--agents 256 1024 4096 16384] [--steps 16] [--pools local global]
                       [--episode-agents 4096] [--out docs/results/scaling/scaling.json]
                       [--plot docs/results/scaling/scaling.png]

Each agent count A runs in a fresh process (so peak memory is its own), on a map large enough
(`map_for`: a 64x64 MovingAI tile for A <= 256, the 128x128 scale warehouse up to 2,048, the 256x256
one beyond), 1 env, r = 5, soft collisions, on_target=restart, 256-step episodes, torch backend:

* reset: the episode's start, path fields of the first goals included;
* env: `--steps` steps with random actions;
* policy (per pool kind): the shipped lifelong SRMT (agents/pretrained/lifelong_srmt.pt) acting on the
  env's observations, `--steps` times on the reset's observations; the local pool is the same weights
  with `pool="local"` (`agents.srmt_agent.with_pool`: dataclasses.replace of the config, same state_dict);
* eval (per pool kind): act + step, `--steps` steps from the reset (the evaluation loop);
* pibt: PIBT (agents.pibt) act + step on the same episode, after a first step timed apart (it builds
  PIBT's distance tables of the first goals: PIBT's own reset).

Each phase reports agent-steps/s, microseconds per agent-step, and the process's peak RSS during
the phase (polled; phases run in this order, so a later phase's peak includes what earlier ones
left, e.g. the env). `--episode-agents A` also runs one whole `srmt eval scale` episode (SRMT, local
pool, all 256 steps, the real evaluation runner) on the 256x256 warehouse and times it: the issue's
"4,096 agents in at most 5 minutes". The ratios printed are each phase's cost per agent-step at A
over its cost at the smallest A (target: local-pool policy and eval at 16,384 at most 2x 256).
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing as mp
import tempfile
import time

import numpy as np
import torch

from benchmarks.bench_model_memory import GB, PeakRSS
from benchmarks.options import STEPS, Result, add_ranged, add_result_options
from common.options import Range
from common.outputs import PNG, check_output
from srmt.config import POOL_KINDS

AGENTS = Range(1, 65536, integer=True)
EPISODE_AGENTS = Range(0, 65536, integer=True)
THREADS = Range(1, 256, integer=True)
EPISODE_MAP = "scale-warehouse-256"
PARTS = ("env", "policy", "eval", "pibt")
TARGET_RATIO = 2.0
"""Target: the local-pool phases' cost per agent-step at 16,384 agents at most 2x their cost at 256."""
TARGET_EPISODE_S = 300
"""Target: the whole 4,096-agent episode in at most 5 minutes."""


def map_for(agents: int) -> str:
    """The map an agent count runs on: a 64x64 tile up to 256 agents, then the scale warehouses."""
    if agents <= 256:
        return "Berlin_1_256_00"
    return "scale-warehouse-128" if agents <= 2048 else EPISODE_MAP


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agents", type=AGENTS.argtype("--agents"), nargs="+", default=[256, 1024, 4096, 16384],
                        help="agent counts, one env each (default 256 1024 4096 16384)")
    add_ranged(parser, "--steps", STEPS, 16, "timed steps of each phase")
    parser.add_argument("--pools", nargs="+", choices=POOL_KINDS, default=list(POOL_KINDS),
                        help="pool kinds of the SRMT phases (default: all)")
    add_ranged(parser, "--global-max", AGENTS, 4096, "largest agent count run with the global pool (O(A^2))")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="phases (default: all)")
    add_ranged(parser, "--episode-agents", EPISODE_AGENTS, 4096,
               f"agents of the one whole `srmt eval scale` episode on {EPISODE_MAP} (0: none)")
    add_ranged(parser, "--threads", THREADS, torch.get_num_threads(), "torch intra-op threads")
    parser.add_argument("--plot", help="also draw the cost per agent-step, log-log, into this PNG")
    add_result_options(parser)


def _phase(steps: int, agents: int, run) -> dict:
    """Time `run(step)` for `steps` steps; cost per agent-step and the peak RSS meanwhile."""
    with PeakRSS() as rss:
        started = time.perf_counter()
        for step in range(steps):
            run(step)
        seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "agent_steps_per_s": round(agents * steps / seconds),
            "us_per_agent_step": round(1e6 * seconds / (agents * steps), 2), "rss_peak_gb": round(rss.peak / GB, 3)}


def env_config(agents: int):
    """The one lifelong environment an agent count runs in (`map_for`)."""
    from envs.config import EnvConfig

    return EnvConfig(map_name=map_for(agents), num_agents=agents, obs_radius=5, collision_system="soft",
                     on_target="restart", max_episode_steps=256, reward="lifelong")


def check_inputs(args: argparse.Namespace) -> None:
    """Every agent count fits its map, and the whole episode's fits the scale suite's map (EnvConfigError /
    EvalError naming the count and the map's room), before any phase runs."""
    from envs.config import resolve_config

    for agents in sorted(set(args.agents)):
        try:
            resolve_config(env_config(agents))
        except ValueError as err:
            raise ValueError(f"--agents {agents}: {err}") from err
    if args.episode_agents:
        whole_episode_plan(args.episode_agents, tempfile.gettempdir())


def whole_episode_plan(agents: int, out: str):
    """The checked `srmt eval scale` episode of `--episode-agents` (eval.evaluate.prepare: nothing written)."""
    from agents.spec import AgentSpec
    from eval.evaluate import prepare

    spec = AgentSpec(algo="srmt", lifelong=True, pool=(("pool", "local"),))
    try:
        return prepare("scale", spec=spec, maps=EPISODE_MAP, agents=[agents], seeds=[0], workers=1,
                       backend="torch", out_dir=out, progress=False, compare=())
    except ValueError as err:
        raise ValueError(f"--episode-agents {agents}: {err}") from err


def measure(agents: int, steps: int, pools: list[str], parts: list[str], global_max: int, threads: int) -> dict:
    """Every phase at one agent count (module docstring), in this process."""
    from agents.pibt import PIBTAgent
    from agents.srmt_agent import SRMTAgent
    from agents import default_policy_path
    from envs.torch_backend import TorchBatchedEnv

    torch.set_num_threads(threads)
    config = env_config(agents)
    name = config.map_name
    env = TorchBatchedEnv(config, 1, auto_reset=False)
    out = {"agents": agents, "map": name}
    with PeakRSS() as rss:
        started = time.perf_counter()
        obs = env.reset(seed=0)[0]
        out["reset"] = {"seconds": round(time.perf_counter() - started, 2), "rss_peak_gb": round(rss.peak / GB, 3)}
    out["path_fields"] = {"bounded": env._observer.table.bounded, "field_bytes": env._observer.table.field_bytes}
    gen = torch.Generator().manual_seed(0)
    if "env" in parts:
        out["env"] = _phase(steps, agents, lambda _: env.step(torch.randint(0, 5, (agents,), generator=gen)))

    def episode(agent) -> list:
        """The reset's observations (fields cached) and `agent` reset for the episode."""
        agent.reset(1, agents, [0])
        return [env.reset(seed=0)[0]]

    for pool in pools if agents <= global_max else [p for p in pools if p != "global"]:
        srmt = SRMTAgent.from_checkpoint(default_policy_path(lifelong=True), pool={"pool": pool})
        if "policy" in parts:
            first = episode(srmt)[0]
            srmt.act(first, env)                                                       # warm-up
            out[f"policy-{pool}"] = _phase(steps, agents, lambda _: srmt.act(first, env))
        if "eval" in parts:
            state = episode(srmt)
            out[f"eval-{pool}"] = _phase(steps, agents, lambda _: state.__setitem__(
                0, env.step(srmt.act(state[0], env))[0]))
    if "pibt" in parts:
        pibt = PIBTAgent(seed=0)
        state = episode(pibt)
        started = time.perf_counter()
        state[0] = env.step(pibt.act(state[0], env))[0]           # the first goals' distance tables: PIBT's reset
        first = round(time.perf_counter() - started, 2)
        out["pibt"] = _phase(steps, agents, lambda _: state.__setitem__(0, env.step(pibt.act(state[0], env))[0]))
        out["pibt"]["first_step_s"] = first
    out["fields_made"] = env._observer.table.num_fields
    return out


def whole_episode(agents: int, threads: int) -> dict:
    """One `srmt eval scale` episode: SRMT with the local pool, torch backend, all 256 steps, timed."""
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as out, PeakRSS() as rss:
        started = time.perf_counter()
        result = whole_episode_plan(agents, out).run()
        seconds = time.perf_counter() - started
    record = result.records[0]
    return {"agents": agents, "map": EPISODE_MAP, "steps": 256, "seconds": round(seconds, 1),
            "avg_throughput": record["metrics"].get("avg_throughput"), "rss_peak_gb": round(rss.peak / GB, 3)}


def missed_targets(table: dict[str, dict[int, float]], episode: dict | None) -> list[str]:
    """The targets this run measured and missed (the exit code is 1 when there is one)."""
    missed = [f"{key} at 16384 agents: {by_agents[16384]}x the cost at 256 (target <= {TARGET_RATIO:g}x)"
              for key, by_agents in table.items()
              if key.endswith("-local") and min(by_agents) == 256 and by_agents.get(16384, 0) > TARGET_RATIO]
    if episode and episode["agents"] == 4096 and episode["seconds"] > TARGET_EPISODE_S:
        missed.append(f"the 4,096-agent episode took {episode['seconds']} s (target <= {TARGET_EPISODE_S} s)")
    return missed


def _in_fresh_process(fn, *args) -> dict:
    with cf.ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def ratios(cases: list[dict]) -> dict[str, dict[int, float]]:
    """Per phase: cost per agent-step at each agent count over the cost at the smallest count."""
    base, out = cases[0], {}
    for key in [k for k, v in base.items() if isinstance(v, dict) and "us_per_agent_step" in v]:
        out[key] = {c["agents"]: round(c[key]["us_per_agent_step"] / base[key]["us_per_agent_step"], 2)
                    for c in cases if key in c}
    return out


def plot(cases: list[dict], path: str) -> None:
    """Log-log: microseconds per agent-step against agents, one line per phase."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key in ratios(cases):
        points = [(c["agents"], c[key]["us_per_agent_step"]) for c in cases if key in c]
        ax.plot(*zip(*points), marker="o", label=key)
    ax.set(xscale="log", yscale="log", xlabel="agents in one env", ylabel="µs per agent-step",
           title="cost per agent-step (1 env, lifelong, r=5, this CPU)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"plot written to {path}")


def run(args: argparse.Namespace) -> int:
    result = Result.begin(args)
    plot_path = check_output(args.plot, "--plot", PNG) if args.plot else None
    check_inputs(args)
    cases = []
    for agents in sorted(args.agents):
        case = _in_fresh_process(measure, agents, args.steps, args.pools, args.parts, args.global_max, args.threads)
        cases.append(case)
        line = ", ".join(f"{k} {v['us_per_agent_step']} us/agent-step ({v['rss_peak_gb']} GB)"
                         for k, v in case.items() if isinstance(v, dict) and "us_per_agent_step" in v)
        print(f"{agents} agents on {case['map']}: reset {case['reset']['seconds']} s; {line}", flush=True)
    table = ratios(cases)
    for key, by_agents in table.items():
        print(f"cost per agent-step / at {cases[0]['agents']} agents, {key}: "
              + ", ".join(f"{a}: {r}x" for a, r in by_agents.items()))
    episode = _in_fresh_process(whole_episode, args.episode_agents, args.threads) if args.episode_agents else None
    if episode:
        print(f"whole `srmt eval scale` episode, {episode['agents']} agents x 256 steps, SRMT local pool: "
              f"{episode['seconds']} s (target 300 s), peak RSS {episode['rss_peak_gb']} GB")
    if plot_path:
        plot(cases, str(plot_path))
    summary = "; ".join(f"{key}: {by_agents}" for key, by_agents in table.items())
    result.save(f"scaling, 1 env x {sorted(args.agents)} agents, {args.steps} timed steps per phase, "
                f"{args.threads} torch threads", summary,
                {"cases": cases, "ratios": table, "episode": episode},
                target="local-pool cost per agent-step at 16,384 agents <= 2x at 256; a 4,096-agent 256-step "
                       "episode with SRMT in <= 300 s")
    missed = missed_targets(table, episode)
    for line in missed:
        print(f"target missed: {line}")
    return 1 if missed else 0
