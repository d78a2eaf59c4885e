"""What the memory attends to: SRMT's pool cross-attention over evaluation episodes, by the grid
distance between reader and read agent, and its entropy as the number of agents grows.

Every step of every episode the batched agent records who read whose memory (srmt.inspect through
`SRMTAgent.record_attention`: row i of `StepAttention.pool` is agent i's weights over the A memories
of its environment; last block, current-observation token, heads averaged). An `AttentionTally`
adds up, over the rows of agents on the grid that read the pool that step:

- the weight on its own memory, on each other agent by distance bin (Chebyshev and Manhattan,
  1, 2, ..., 10, 11-20, >20 cells; an agent at distance 0 counts as 1) and on agents that left the
  grid (Bottleneck: `finish` mode); per bin the mean weight of one pair against the uniform 1/A,
  and the bin's share of the attention mass against its share of the agents (equal if attention
  ignored distance);
- the same split by the reader's observation window (|dr|, |dc| <= obs_radius);
- the entropy of the row (nats) against log A, the entropy of uniform attention.

Runs, fixed before any result is read: the shipped Bottleneck policy on Bottleneck test corridors
(lengths 3, 5, 10, 20, 30, 50, 100 x seeds 0-4, 2 agents, whole episodes), the shipped lifelong
policy on the `validation` suite (its 32 maps x 16/32/64 agents, `--steps` steps) and, for entropy
against A = 8 ... 256, on MovingAI city tiles (the suite's first `--entropy-maps` 64x64 tiles).
Episodes run through eval.runner on `--backend` (default torch).

    srmt bench attention [--quick] [--out FILE] [--distance-figure PNG] [--entropy-figure PNG]
"""
from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from agents import SRMTAgent, default_policy_path
from agents.base import BatchedEnvView
from benchmarks.options import ROOT, STEPS, Result, add_backend, add_ranged, add_result_options
from common.options import Range
from eval.evaluate import check_agent_fits
from eval.runner import make_chunks, run_chunks
from eval.suites import Episode, Suite, get_suite
from common.outputs import PNG, check_output
from common.device import limit_threads

DISTANCE_EDGES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20)
"""Upper edges (cells, inclusive) of the distance bins; one more bin holds the larger distances."""
DISTANCE_LABELS = tuple(str(d) for d in DISTANCE_EDGES[:-1]) + ("11-20", ">20")
METRICS = ("chebyshev", "manhattan")
WINDOW_PARTS = ("self", "inside window", "outside window", "off grid")
"""Where a read memory's agent is, seen from the reader: a partition of every pool row."""
ENTROPY_AGENTS = (8, 16, 32, 64, 128, 256)
MAP_COUNT = Range(1, 128, integer=True)


@dataclass
class AttentionTally:
    """Sums of pool attention over reader rows: by distance bin, by window part, and entropy.

    `add` counts a row (reader i of env e at one step) when agent i is on the grid and read the pool
    (a nonzero row: frozen envs and episode starts have zero rows). Each counted row spreads weight 1
    over the A agents, so the masses of each partition (self + distance bins + off grid; the window
    parts) add up to `rows`, and the pair counts to `rows * A`.
    """

    num_agents: int
    obs_radius: int
    rows: int = 0
    entropy: float = 0.0
    """sum of the rows' entropies (nats)"""
    bin_mass: dict[str, np.ndarray] = field(default_factory=dict)
    bin_pairs: dict[str, np.ndarray] = field(default_factory=dict)
    part_mass: np.ndarray = field(default_factory=lambda: np.zeros(len(WINDOW_PARTS)))
    part_pairs: np.ndarray = field(default_factory=lambda: np.zeros(len(WINDOW_PARTS), dtype=np.int64))

    def __post_init__(self) -> None:
        for metric in METRICS:
            self.bin_mass.setdefault(metric, np.zeros(len(DISTANCE_LABELS)))
            self.bin_pairs.setdefault(metric, np.zeros(len(DISTANCE_LABELS), dtype=np.int64))

    def add(self, pool: Tensor, positions: Tensor, active: Tensor) -> None:
        """Count one step: pool (E, A, A) weights, positions (E, A, 2) cells, active (E, A) bool on the grid."""
        E, A, _ = pool.shape
        if A != self.num_agents:
            raise ValueError(f"pool of {A} agents, the tally is for {self.num_agents}")
        pool = pool.double()
        readers = active & (pool.sum(dim=-1) > 0.5)  # (E, A)
        weights = pool[readers]  # (R, A) rows that count
        if weights.shape[0] == 0:
            return
        offset = (positions[:, None, :, :] - positions[:, :, None, :]).abs()[readers]  # (R, A, 2) |dr|, |dc|
        own = torch.eye(A, dtype=torch.bool).expand(E, A, A)[readers]  # (R, A)
        gone = (~active)[:, None, :].expand(E, A, A)[readers] & ~own  # (R, A) read agent off the grid
        other = ~own & ~gone
        distance = {"chebyshev": offset.amax(dim=-1), "manhattan": offset.sum(dim=-1)}  # (R, A) each
        edges = torch.tensor(DISTANCE_EDGES, dtype=offset.dtype)
        for metric, d in distance.items():
            bins = torch.bucketize(d[other], edges)  # (P,) bin of each other agent on the grid
            self.bin_mass[metric] += np.bincount(bins.numpy(), weights[other].numpy(), len(DISTANCE_LABELS))
            self.bin_pairs[metric] += np.bincount(bins.numpy(), minlength=len(DISTANCE_LABELS))
        inside = other & (distance["chebyshev"] <= self.obs_radius)
        for k, part in enumerate((own, inside, other & ~inside, gone)):
            self.part_mass[k] += float(weights[part].sum())
            self.part_pairs[k] += int(part.sum())
        self.entropy += float(-torch.special.xlogy(weights, weights).sum())
        self.rows += weights.shape[0]

    def summary(self) -> dict:
        """The tables: mean weights and shares per distance bin and window part, entropy against log A."""
        A, rows = self.num_agents, max(self.rows, 1)

        def line(mass: float, pairs: int) -> dict:
            mean = mass / pairs if pairs else float("nan")
            return dict(pairs=int(pairs), mean_weight=mean, vs_uniform=mean * A, mass_share=mass / rows,
                        agent_share=pairs / (rows * A))

        entropy = self.entropy / rows
        return dict(
            agents=A, obs_radius=self.obs_radius, reader_rows=self.rows, uniform_weight=1 / A,
            distance={m: [dict(bin=label, **line(mass, pairs)) for label, mass, pairs
                          in zip(DISTANCE_LABELS, self.bin_mass[m], self.bin_pairs[m])] for m in METRICS},
            window={part: line(mass, pairs) for part, mass, pairs in zip(WINDOW_PARTS, self.part_mass,
                                                                        self.part_pairs)},
            entropy=dict(mean_nats=entropy, uniform_nats=math.log(A),
                         normalised=entropy / math.log(A) if A > 1 else float("nan"),
                         effective_agents=math.exp(entropy)))


class AttentionRecorder:
    """An SRMTAgent (recording its attention) that adds every step's pool to a tally: the Agent
    interface, forwarded explicitly, so eval.runner plays the episodes unchanged."""

    def __init__(self, agent: SRMTAgent, tally: AttentionTally):
        agent.record_attention = True
        self.agent, self.tally = agent, tally
        self.name, self.obs_radius = agent.name, agent.obs_radius

    def reset(self, num_envs: int, num_agents: int, seeds: Sequence[int] | None = None) -> None:
        self.agent.reset(num_envs, num_agents, seeds)

    def reset_envs(self, envs: Sequence[int], seeds: Sequence[int] | None = None) -> None:
        self.agent.reset_envs(envs, seeds)

    def act(self, obs: Tensor, env: BatchedEnvView) -> Tensor:
        actions = self.agent.act(obs, env)  # before env.step: positions are those the agents saw
        self.tally.add(self.agent.attention.pool, env.positions.cpu(), env.active.cpu())
        return actions


def tally_attention(agent: SRMTAgent, suite: Suite, episodes: Sequence[Episode],
                    backend: str = "torch") -> AttentionTally:
    """Play `episodes` (one agent count) of `suite` with `agent` and tally its pool attention."""
    counts = {ep.num_agents for ep in episodes}
    if len(counts) != 1:
        raise ValueError(f"one agent count per tally, got {sorted(counts)}")
    tally = AttentionTally(counts.pop(), agent.obs_radius)
    chunks = make_chunks(suite, episodes, agent.obs_radius, None, backend=backend)
    run_chunks(AttentionRecorder(agent, tally), chunks, lambda record: None)
    return tally


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bottleneck-checkpoint", metavar="FILE", default=str(default_policy_path()),
                   help="Bottleneck policy (default: the shipped one)")
    p.add_argument("--lifelong-checkpoint", metavar="FILE", default=str(default_policy_path(lifelong=True)),
                   help="lifelong policy (default: the shipped one)")
    add_ranged(p, "--steps", STEPS, 128, "steps of each lifelong episode")
    add_ranged(p, "--entropy-maps", MAP_COUNT, 8, "MovingAI tiles (the suite's first N) per agent count")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 2 corridors, 4 validation maps, 2 tiles, 32 steps, A up to 64")
    p.add_argument("--distance-figure", metavar="PNG", help="plot weight vs distance here")
    p.add_argument("--entropy-figure", metavar="PNG", help="plot entropy vs number of agents here")
    add_backend(p)
    add_result_options(p)


def _capped(episodes: list[Episode], steps: int) -> list[Episode]:
    return [dataclasses.replace(ep, max_episode_steps=min(ep.max_episode_steps, steps)) for ep in episodes]


def _lifelong_steps(args: argparse.Namespace) -> int:
    return 32 if args.quick else args.steps


def _shown(path: str) -> str:
    """A policy path as recorded: relative to the repository when inside it."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else path


def _plan(args: argparse.Namespace) -> dict[str, tuple[str, Suite, list[Episode]]]:
    """run name -> (policy file, suite, episodes): everything measured, fixed before anything runs."""
    steps = _lifelong_steps(args)
    bottleneck, validation, movingai = get_suite("bottleneck"), get_suite("validation"), get_suite("movingai")
    corridors = bottleneck.episodes(maps=r"bottleneck-(3|10)" if args.quick else r"bottleneck-(3|5|10|20|30|50|100)",
                                    seeds=[0, 1] if args.quick else [0, 1, 2, 3, 4])
    plan = {"bottleneck A=2": (args.bottleneck_checkpoint, bottleneck, corridors)}
    validation_maps = validation.maps[::8] if args.quick else validation.maps
    for A in validation.agents:
        plan[f"validation A={A}"] = (args.lifelong_checkpoint, validation,
                                     _capped(validation.episodes(agents=[A], maps="|".join(validation_maps)), steps))
    tiles = "|".join(movingai.maps[:2 if args.quick else args.entropy_maps])
    for A in ENTROPY_AGENTS[:4] if args.quick else ENTROPY_AGENTS:
        plan[f"movingai A={A}"] = (args.lifelong_checkpoint, movingai,
                                   _capped(movingai.episodes(agents=[A], maps=tiles), steps))
    return plan


def _print_tables(name: str, s: dict) -> None:
    print(f"\n{name}: {s['reader_rows']} reader rows, uniform weight 1/A = {s['uniform_weight']:.4f}")
    print(f"  {'chebyshev':>9s} {'pairs':>9s} {'mean weight':>11s} {'x uniform':>9s} {'mass':>6s} {'agents':>6s}")
    for row in s["distance"]["chebyshev"]:
        if row["pairs"]:
            print(f"  {row['bin']:>9s} {row['pairs']:9d} {row['mean_weight']:11.4f} {row['vs_uniform']:9.2f} "
                  f"{row['mass_share']:6.3f} {row['agent_share']:6.3f}")
    print("  " + ", ".join(f"{part} mass {v['mass_share']:.3f} / agents {v['agent_share']:.3f}"
                           for part, v in s["window"].items() if v["pairs"]))
    e = s["entropy"]
    print(f"  entropy {e['mean_nats']:.3f} nats vs log A {e['uniform_nats']:.3f} (H/log A {e['normalised']:.3f}, "
          f"effective agents {e['effective_agents']:.1f})")


def plot_distance(runs: dict[str, dict], path: Path, min_pairs: int = 50) -> None:
    """Mean weight on another agent's memory / (1/A) against Chebyshev distance, own memory first;
    bins with fewer than `min_pairs` pairs are left out (they stay in the JSON)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    xs = list(range(len(DISTANCE_LABELS) + 1))
    for name, s in runs.items():
        rows = s["distance"]["chebyshev"]
        ys = [s["window"]["self"]["vs_uniform"]] + [r["vs_uniform"] if r["pairs"] >= min_pairs else np.nan
                                                     for r in rows]
        ax.plot(xs, ys, marker="o", markersize=3, label=name)
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label="uniform (1/A)")
    for radius in sorted({s["obs_radius"] for s in runs.values()}):
        ax.axvline(radius + 0.5, color="grey", linestyle=":", linewidth=1)
        ax.annotate(f"window edge r={radius}", (radius + 0.55, 0.02), xycoords=("data", "axes fraction"),
                    fontsize=7, color="grey")
    ax.set_xticks(xs, ["own"] + list(DISTANCE_LABELS))
    low, high = ax.get_ylim()
    ax.set_ylim(min(low, 0.9), max(high, 1.1))
    ax.set_xlabel("Chebyshev distance between reader and read agent (cells)")
    ax.set_ylabel("mean pool weight x A  (1 = uniform)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_entropy(runs: dict[str, dict], path: Path) -> None:
    """Mean row entropy and log A against A; and H / log A."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agents = [s["agents"] for s in runs.values()]
    entropy = [s["entropy"]["mean_nats"] for s in runs.values()]
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 3.4))
    left.plot(agents, entropy, marker="o", label="SRMT pool rows")
    left.plot(agents, [math.log(a) for a in agents], "k--", label="uniform: log A")
    left.set_ylabel("entropy (nats)")
    right.plot(agents, [s["entropy"]["normalised"] for s in runs.values()], marker="o")
    right.set_ylabel("H / log A")
    right.set_ylim(0, 1.05)
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xticks(agents, [str(a) for a in agents])
        ax.set_xlabel("agents per environment (MovingAI tiles)")
        ax.grid(alpha=0.3)
    left.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    result = Result.begin(args)
    figures = {flag: check_output(getattr(args, flag), f"--{flag.replace('_', '-')}", PNG)
               for flag in ("distance_figure", "entropy_figure") if getattr(args, flag)}
    limit_threads(1)
    plan = _plan(args)
    agents = {path: SRMTAgent.from_checkpoint(path) for path in {path for path, _, _ in plan.values()}}
    for name, (path, suite, _) in plan.items():  # every policy records attention and fits its runs' suite
        try:
            agents[path].record_attention = True
            check_agent_fits(suite, agents[path])
        except ValueError as err:
            flag = "--bottleneck-checkpoint" if suite.name == "bottleneck" else "--lifelong-checkpoint"
            raise ValueError(f"{flag} {path} (run {name!r}): {err}") from err
    runs = {}
    for name, (path, suite, episodes) in plan.items():
        runs[name] = tally_attention(agents[path], suite, episodes, args.backend).summary()
        _print_tables(name, runs[name])
    entropy = {name: s for name, s in runs.items() if name.startswith("movingai")}
    print(f"\n{'A':>5s} {'H (nats)':>9s} {'log A':>7s} {'H/log A':>8s} {'exp H':>7s} {'own weight':>10s} "
          f"{'mass in window':>14s} {'agents in window':>16s}")
    for s in entropy.values():
        e, w = s["entropy"], s["window"]
        print(f"{s['agents']:5d} {e['mean_nats']:9.3f} {e['uniform_nats']:7.3f} {e['normalised']:8.3f} "
              f"{e['effective_agents']:7.1f} {w['self']['mean_weight']:10.3f} "
              f"{w['inside window']['mass_share']:14.3f} {w['inside window']['agent_share']:16.3f}")
    if "distance_figure" in figures:
        shown = [n for n in runs if not n.startswith("movingai")] + ["movingai A=64", "movingai A=256"]
        plot_distance({n: runs[n] for n in shown if n in runs}, figures["distance_figure"])
    if "entropy_figure" in figures:
        plot_entropy(entropy, figures["entropy_figure"])
    settings = dict(backend=args.backend, lifelong_steps=_lifelong_steps(args), quick=args.quick,
                    checkpoints=dict(bottleneck=_shown(args.bottleneck_checkpoint),
                                     lifelong=_shown(args.lifelong_checkpoint)),
                    episodes={name: [ep.key for ep in episodes] for name, (_, _, episodes) in plan.items()},
                    distance_edges=DISTANCE_EDGES)
    own = runs["bottleneck A=2"]["window"]["self"]["mean_weight"]
    validation = runs["validation A=64"]["window"]["inside window"]
    largest = list(entropy.values())[-1]
    result.save("Pool attention by distance (Bottleneck, validation) and entropy vs agents (MovingAI tiles)",
                f"Bottleneck: {own:.3f} on the agent's own memory (uniform 0.5); "
                f"validation A=64: {validation['mass_share']:.3f} of the attention mass on the "
                f"{validation['agent_share']:.3f} of agents inside the reader's window; MovingAI A="
                f"{largest['agents']}: H/log A = {largest['entropy']['normalised']:.3f}",
                dict(settings=settings, runs=runs))
    return 0


if __name__ == "__main__":  # `python -m benchmarks.bench_attention ...`, the same as `srmt bench attention ...`
    import sys

    parser = argparse.ArgumentParser(prog="srmt bench attention", description=__doc__.splitlines()[0])
    add_arguments(parser)
    sys.argv.insert(1, "attention")  # recorded as the command a person types: srmt bench attention ...
    sys.exit(run(parser.parse_args(sys.argv[2:], argparse.Namespace(bench="attention"))))
