"""Evaluation speed: the batched SRMT agent vs the same agent one episode at a time, same episodes.

Batched: the Bottleneck suite's episodes (580: 58 corridor lengths x 10 seeds;
`--quick`: lengths up to 50) through eval.runner: episodes of one length share
a batched env, one forward pass per step for all of them. Peer, on the same
episodes in the same run: the same agent one episode at a time (a batched env
of one environment), all agents of that episode in one forward pass. Both run
`--rounds` times (fixed before any result is read); the table prints the median
and the spread of each, and the ratio of the medians. Two more rows, one round
each: batched with 2 worker processes, and the reference code's way (one
episode at a time, the model called once per agent; on `--reference-seeds`).
Every run must give the same metrics per episode (printed as a check).

    srmt bench eval [--quick] [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch

from agents import SRMTAgent
from agents.pretrained import default_policy_path, random_init_policy
from agents.spec import AgentSpec
from eval.evaluate import check_agent_fits
from eval.runner import Chunk, make_chunks, run_chunk, run_chunks
from eval.suites import get_suite
from benchmarks.options import ROUNDS, Result, add_ranged, add_result_options
from common.options import Range
from common.device import limit_threads


SUITE_SEEDS = Range(0, max(get_suite("bottleneck").seeds), integer=True)
TARGET_RATIO = 5.0
"""Target: the batched agent at least 5x the same agent one episode at a time (exit code 1 below it)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", metavar="FILE",
                   help="policy file (default: the shipped Bottleneck policy, else a random-init bottleneck model)")
    p.add_argument("--reference-seeds", type=SUITE_SEEDS.argtype("--reference-seeds"), nargs="+", default=[0],
                   metavar="S", help="seeds of the per-agent reference run (default 0: 58 episodes, one per length; "
                                     f"the Bottleneck suite's seeds: {SUITE_SEEDS.describe()})")
    p.add_argument("--quick", action="store_true", help="only corridor lengths up to 50 (smoke run)")
    p.add_argument("--skip-workers", action="store_true", help="do not time the 2-worker run")
    add_ranged(p, "--rounds", ROUNDS, 3, "rounds of the batched run and of its one-episode-at-a-time peer")
    add_result_options(p)


def _policy_file(checkpoint: str | None, tmp: str) -> tuple[str, str]:
    """(path, description): the given file, the shipped policy, or a random-init one saved in `tmp`."""
    if checkpoint:
        return checkpoint, checkpoint
    if default_policy_path().is_file():
        return str(default_policy_path()), str(default_policy_path())
    path = random_init_policy(os.path.join(tmp, "random_init.pt"))
    return str(path), "random-init bottleneck preset (no trained policy yet)"


def _strip(records: list[dict]) -> dict:
    out = {}
    for r in records:
        g = r["env_grid_search"]
        out[(g["map_name"], g["seed"])] = {k: v for k, v in r["metrics"].items() if k != "runtime"}
    return out


def run(args: argparse.Namespace) -> int:
    result = Result.begin(args)
    limit_threads(1)
    suite = get_suite("bottleneck")
    maps = r"bottleneck-([3-9]|[1-4][0-9]|50)" if args.quick else None
    episodes = suite.episodes(maps=maps)
    tmp = tempfile.mkdtemp(prefix="srmt-bench-")
    path, source = _policy_file(args.checkpoint, tmp)
    batched = SRMTAgent.from_checkpoint(path, batched=True)
    if batched.cfg.memory != "stored":
        raise ValueError(f"--checkpoint {path}: the per-agent reference loop needs a memory='stored' policy, this "
                         f"one is {batched.cfg.memory!r}; pass one with --checkpoint (e.g. the shipped policy)")
    check_agent_fits(suite, batched)
    reference = SRMTAgent.from_checkpoint(path, batched=False)
    print(f"policy: {source}; torch threads {torch.get_num_threads()}; {len(episodes)} episodes")

    warm = make_chunks(suite, suite.episodes(maps="bottleneck-3", seeds=[0]), 2, None)
    run_chunk(batched, warm[0], lambda r: None)  # burn-in: imports, first allocations
    run_chunk(reference, warm[0], lambda r: None)

    chunks = make_chunks(suite, episodes, batched.obs_radius, None)
    singles = [Chunk(c.config, c.episodes, 1) for c in make_chunks(suite, episodes, batched.obs_radius, None, max_envs=1)]
    runs: dict[str, list[float]] = {"batched, 1 process": [], "one episode at a time, one forward pass": []}
    records: dict[str, list[dict]] = {}
    for _ in range(args.rounds):  # interleaved, so drifts in machine load hit both alike
        for name, plan in zip(runs, (chunks, singles)):
            out: list[dict] = []
            t0 = time.perf_counter()
            run_chunks(batched, plan, out.append, workers=1)
            runs[name].append(len(out) / (time.perf_counter() - t0))
            records[name] = out
    steps = sum(r["metrics"]["ep_length"] for r in records["batched, 1 process"])

    extra: dict[str, tuple[int, float]] = {}
    if not args.skip_workers:
        parallel: list[dict] = []
        t0 = time.perf_counter()
        run_chunks(AgentSpec("srmt", checkpoint=path), chunks, parallel.append, workers=2)
        extra["batched, 2 worker processes (1 round)"] = (len(parallel), len(parallel) / (time.perf_counter() - t0))
        records["2 workers"] = parallel
    sample = [ep for ep in episodes if ep.seed in set(args.reference_seeds)]
    ref_records: list[dict] = []
    t0 = time.perf_counter()
    for ep in sample:  # one episode at a time, model called per agent
        chunk = make_chunks(suite, [ep], reference.obs_radius, None)[0]
        run_chunk(reference, Chunk(chunk.config, chunk.episodes, 1), ref_records.append)
    extra["per-agent loop, one episode at a time (1 round)"] = (len(ref_records),
                                                                len(ref_records) / (time.perf_counter() - t0))

    base = _strip(records["batched, 1 process"])
    same = all(_strip(r).items() <= base.items() for r in [*records.values(), ref_records])
    print(f"{len(episodes)} episodes ({steps:.0f} env steps), {args.rounds} rounds each")
    print(f"{'run':50s} {'episodes':>8s} {'median episodes/s':>18s} {'spread (min-max)':>18s}")
    for name, speeds in runs.items():
        print(f"{name:50s} {len(episodes):8d} {statistics.median(speeds):18.2f} "
              f"{min(speeds):8.2f} - {max(speeds):<7.2f}")
    for name, (count, speed) in extra.items():
        print(f"{name:50s} {count:8d} {speed:18.2f}")
    batched_median, one = (statistics.median(speeds) for speeds in runs.values())
    print(f"speed-up (median episodes/s), batched vs one episode at a time, same episodes: "
          f"{batched_median / one:.2f}x")
    print(f"every run gives the same metrics on every episode: {'yes' if same else 'NO'}")
    loop_count, loop_speed = extra["per-agent loop, one episode at a time (1 round)"]
    result.save(f"Evaluation speed, Bottleneck suite{', `--quick` lengths 3-50' if args.quick else ''} "
                f"({len(episodes)} episodes), {args.rounds} interleaved rounds",
                f"batched agent **{batched_median:.2f} episodes/s** median ({min(runs['batched, 1 process']):.2f}-"
                f"{max(runs['batched, 1 process']):.2f}) vs the same agent one episode at a time, all agents in one "
                f"forward pass, same episodes: {one:.2f} → **{batched_median / one:.2f}x**; per-agent loop one "
                f"episode at a time {loop_speed:.2f} ({loop_count} episodes); "
                f"{'identical' if same else 'DIFFERENT'} metrics on every episode",
                dict(episodes=len(episodes), env_steps=steps, policy=source, rounds=runs,
                     one_round={k: dict(episodes=n, episodes_per_s=v) for k, (n, v) in extra.items()},
                     ratio=batched_median / one, same_metrics=same), f">= {TARGET_RATIO:g}x")
    return 0 if same and batched_median / one >= TARGET_RATIO else 1
