"""Lifelong learning benchmark: train `lifelong-cpu` from scratch, score its snapshots on held-out maps.

Trains `srmt train --preset lifelong-cpu` for a wall-clock budget (default 60
minutes), snapshots the exported policy at every checkpoint (--eval-every
seconds), then evaluates every snapshot on eval's `validation` suite (32
generated wall mazes and random maps that training never sees, 16/32/64
agents, 128 steps, soft collisions, restart) with sampled and argmax actions,
and the greedy and A* baselines on the same episodes. Prints env steps, wall
time, average throughput (goals per step), and each evaluation's episodes/s
and agent-steps/s. Training and evaluation never run at the same time.

    srmt bench lifelong --minutes 60 --out lifelong-curve.json
    srmt bench lifelong --set reward=lifelong --experiment runs/sparse
    srmt bench lifelong --experiment runs/sparse --eval-only   # score an earlier run

Ctrl-C / SIGTERM during the evaluations writes the points scored so far to
--out; the snapshots stay in the benchmark directory (--eval-only scores them).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchmarks.options import (MINUTES, SAVE_EVERY, WORKERS, Result, add_experiment, add_overrides, add_ranged,
                                add_result_options, check_training_exit, experiment_root, overrides, train_command)
from eval.evaluate import evaluate
from agents.spec import AgentSpec
from train.snapshots import snapshot_wall_minutes, train_with_snapshots

SUITE = "validation"
DECODINGS = {"sample": True, "argmax": False}


def score(spec: AgentSpec, out: Path, quick: bool, workers: int, backend: str = "pogema") -> dict[str, float]:
    """Mean average throughput of `spec` on the validation suite, with the evaluation's speed."""
    result = evaluate(SUITE, spec=spec, out_dir=out, quick=quick, workers=workers, progress=False, backend=backend)
    records = result.records
    episodes_per_s, agent_steps_per_s = result.speed or (float("nan"), float("nan"))
    return dict(throughput=sum(r["metrics"]["avg_throughput"] for r in records) / len(records),
                episodes=len(records), episodes_per_s=episodes_per_s, agent_steps_per_s=agent_steps_per_s)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_ranged(parser, "--minutes", MINUTES, 60.0, "training wall-clock budget")
    add_ranged(parser, "--eval-every", SAVE_EVERY, 300, "seconds between checkpoints / snapshots")
    add_experiment(parser)
    parser.add_argument("--eval-only", action="store_true", help="score the snapshots already in --experiment")
    parser.add_argument("--quick", action="store_true", help="the validation suite's quick subset")
    parser.add_argument("--decoding", choices=("both", *DECODINGS), default="both")
    add_ranged(parser, "--workers", WORKERS, 2, "evaluation worker processes")
    add_overrides(parser, "reward=lifelong")
    add_result_options(parser)


def run(args: argparse.Namespace) -> int:
    if args.eval_only and not args.experiment:
        raise ValueError("--eval-only needs --experiment DIR (a directory an earlier run of this benchmark wrote)")
    result = Result.begin(args)
    root = experiment_root(args, "srmt-lifelong-")
    exp, snapshots = root / "train", root / "snapshots"
    command = train_command("--preset", "lifelong-cpu", "--experiment", str(exp), "--max_train_seconds",
                            str(args.minutes * 60), "--save_every_sec", str(args.eval_every), *overrides(args.set))
    if not args.eval_only:
        print("training:", " ".join(command[2:]), flush=True)
        started = time.time()
        code = train_with_snapshots(command, exp, snapshots, root / "train.log")
        check_training_exit(code, root / "train.log")
        print(f"training exited with code {code} after {(time.time() - started) / 60:.1f} min "
              f"(log: {root / 'train.log'})", flush=True)
    paths = sorted(snapshots.glob("policy-*.pt"))
    if not paths:
        print(f"no snapshots under {snapshots}", file=sys.stderr)
        return 1

    from srmt.checkpoint import load_policy

    decodings = list(DECODINGS) if args.decoding == "both" else [args.decoding]
    print(f"\nvalidation suite{' (quick)' if args.quick else ''}: average throughput, goals per step")
    baselines = {}
    for algo in ("greedy", "astar"):
        baselines[algo] = score(AgentSpec(algo), root / "eval" / algo, args.quick, args.workers)
        b = baselines[algo]
        print(f"  {algo:>8}: {b['throughput']:.3f}  ({b['episodes']} episodes, {b['episodes_per_s']:.2f} episodes/s, "
              f"{b['agent_steps_per_s']:,.0f} agent-steps/s)", flush=True)
    print(f"{'wall min':>8} {'env steps':>12} " + " ".join(f"{d:>8}" for d in decodings) + "   eval agent-steps/s")
    curve = []
    try:
        for path in paths:
            env_steps = load_policy(path).meta.get("env_steps", 0)
            point = dict(wall_minutes=round(snapshot_wall_minutes(path), 2), env_steps=env_steps)
            for decoding in decodings:
                point[decoding] = score(AgentSpec(checkpoint=str(path), sample=DECODINGS[decoding]),
                                        root / "eval" / f"{path.stem}-{decoding}", args.quick, args.workers)
            curve.append(point)
            print(f"{point['wall_minutes']:8.1f} {env_steps:>12,} "
                  + " ".join(f"{point[d]['throughput']:8.3f}" for d in decodings)
                  + "   " + " ".join(f"{point[d]['agent_steps_per_s']:,.0f}" for d in decodings), flush=True)
    finally:  # also on Ctrl-C / SIGTERM: the points scored so far
        result.save(f"Lifelong learning, `validation` suite{' (quick)' if args.quick else ''}: `srmt train --preset "
                    f"lifelong-cpu` for {args.minutes:g} min, snapshots every {args.eval_every} s (baselines: "
                    + ", ".join(f"{algo} {b['throughput']:.3f}" for algo, b in baselines.items()) + ")",
                    ", ".join(f"{point[decodings[0]]['throughput']:.3f} @ {point['wall_minutes']:.1f} min"
                              for point in curve) + f" ({decodings[0]} actions)",
                    dict(training=command[2:], baselines=baselines, curve=curve))
    return 0

