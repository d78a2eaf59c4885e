"""The five POGEMA lifelong suites in full: one policy or baseline, every map, agent count and seed.

Runs `srmt eval SUITE` for random, mazes, warehouse, movingai and puzzles
(default: the shipped lifelong policy with its recommended decoding, torch
backend, 2 workers), then prints per suite the mean throughput over agent
counts (how SPEC.md section 3 reports suites) beside the published means of
SPEC.md section 3, and the evaluation's episodes/s and agent-steps/s.
Results stay in OUT/SUITE (per-episode JSONL, summary.md per agent count,
plot.png); rerunning resumes. Ctrl-C / SIGTERM keep the finished episodes and
write the suites finished so far to OUT/suites.json.

    srmt bench suites --out runs/suites
    srmt bench suites --algo astar --suites mazes random --out runs/suites-astar
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.options import WORKERS, add_ranged
from eval.evaluate import evaluate
from eval.report import ALL, aggregate
from eval.runner import AgentSpec
from eval.suites import get_suite
from maps.files import DIRECTORY, check_output

SUITES = ("random", "mazes", "warehouse", "movingai", "puzzles")
PUBLISHED = {  # SPEC.md section 3: mean throughput over each suite's agent counts
    "mazes": {"RHCR": 1.554, "Follower": 1.140, "MATS-LP": 1.125, "QPLEX": 0.881, "MAMBA": 0.599},
    "random": {"RHCR": 2.164, "Follower": 1.637, "MATS-LP": 1.674, "QPLEX": 1.220, "MAMBA": 0.955},
    "movingai": {"RHCR": 3.480, "Follower": 3.271, "MATS-LP": 3.320, "QPLEX": 2.992, "MAMBA": 1.737},
    "puzzles": {"RHCR": 0.538, "Follower": 0.319, "MATS-LP": 0.394, "QPLEX": 0.217, "MAMBA": 0.133},
    "warehouse": {"RHCR": 2.352, "Follower": 2.731, "MATS-LP": 1.701, "QPLEX": 2.017, "MAMBA": 1.510},
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", help="policy file (default: the shipped lifelong policy)")
    parser.add_argument("--algo", default="srmt", help="srmt (default) or a baseline: pibt, astar, greedy, random")
    parser.add_argument("--decoding", choices=("policy", "sample", "argmax"), default="policy",
                        help="policy: the file's recommended decoding (default)")
    parser.add_argument("--suites", nargs="+", default=list(SUITES), choices=SUITES)
    parser.add_argument("--maps-dir", help="directory whose NN-name/maps.yaml files replace the shipped suites")
    parser.add_argument("--backend", default="torch", choices=("pogema", "torch"))
    add_ranged(parser, "--workers", WORKERS, 2, "evaluation worker processes")
    parser.add_argument("--out", default="runs/lifelong-suites", help="results root (one folder per suite)")


def run(args: argparse.Namespace) -> int:
    out = check_output(args.out, "--out", DIRECTORY)
    sample = {"policy": None, "sample": True, "argmax": False}[args.decoding]
    spec = AgentSpec(algo=args.algo, checkpoint=args.checkpoint, sample=sample, lifelong=True)
    table = {}
    try:
        for name in args.suites:
            table[name] = run_suite(name, spec, out / name, args)
    finally:  # also on Ctrl-C / SIGTERM: the suites finished so far
        if table:
            out.mkdir(parents=True, exist_ok=True)
            (out / "suites.json").write_text(json.dumps(table, indent=2))
    methods = list(next(iter(PUBLISHED.values())))
    print("\n| suite | " + f"{args.algo} (measured) | " + " | ".join(methods) + " |")
    print("|---" * (len(methods) + 2) + "|")
    for name, row in table.items():
        print(f"| {get_suite(name).title} | **{row['throughput']:.3f}** | "
              + " | ".join(f"{PUBLISHED[name][m]:.3f}" for m in methods) + " |")
    return 0


def run_suite(name: str, spec: AgentSpec, out: Path, args: argparse.Namespace) -> dict:
    """Evaluate one suite in full (resuming from `out`); print and return its mean throughput and speed."""
    result = evaluate(name, spec=spec, maps_dir=args.maps_dir, out_dir=out, workers=args.workers,
                      backend=args.backend)
    records = result.records
    (score,) = [row.estimate.mean for row in aggregate(get_suite(name), records) if row.group == ALL]
    speed = (f"{result.seconds:.0f} s, {result.speed[0]:.2f} episodes/s, {result.speed[1]:,.0f} agent-steps/s"
             if result.speed else f"{result.skipped} episodes resumed: no speed")
    print(f"{name}: mean throughput {score:.3f} over {len(records)} episodes ({speed})", flush=True)
    return dict(throughput=score, episodes=len(records), seconds=result.seconds,
                episodes_per_s=result.speed and result.speed[0],
                agent_steps_per_s=result.speed and result.speed[1], resumed=result.skipped)
