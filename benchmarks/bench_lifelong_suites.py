"""The five POGEMA lifelong suites in full: one policy or baseline, every map, agent count and seed.

Runs `srmt eval SUITE` for random, mazes, warehouse, movingai and puzzles
(default: the shipped lifelong policy with its recommended decoding, torch
backend, 2 workers), then prints per suite the mean throughput over agent
counts (how the POGEMA benchmark paper reports suites) beside the published means
(computed from the benchmark's per-episode files shipped with the maps,
eval.report.published), and the evaluation's episodes/s and agent-steps/s.
Results stay in OUT/SUITE (per-episode JSONL, summary.md per agent count,
plot.png); rerunning resumes. Ctrl-C / SIGTERM keep the finished episodes and
write the suites finished so far to OUT/suites.json.

    srmt bench suites --out runs/suites
    srmt bench suites --algo astar --suites mazes random --out runs/suites-astar
"""
from __future__ import annotations

import argparse

from agents import ALGORITHMS
from agents.spec import AgentSpec
from benchmarks.options import WORKERS, Result, add_backend, add_note, add_ranged, partial_title
from eval.evaluate import EvalPlan, prepare
from eval.tables import ALL, aggregate
from eval.suites import get_suite
from eval.report import PUBLISHED, published, published_label
from common.outputs import DIRECTORY, check_output

SUITES = ("random", "mazes", "warehouse", "movingai", "puzzles")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", help="policy file (default: the shipped lifelong policy)")
    parser.add_argument("--algo", default="srmt", choices=ALGORITHMS,
                        help="srmt (default) or a baseline: pibt, astar, greedy, random")
    parser.add_argument("--decoding", choices=("policy", "sample", "argmax"), default="policy",
                        help="policy: the file's recommended decoding (default); SRMT only")
    parser.add_argument("--suites", nargs="+", default=list(SUITES), choices=SUITES)
    parser.add_argument("--maps-dir", help="directory whose NN-name/maps.yaml files replace the shipped suites")
    add_backend(parser)
    add_ranged(parser, "--workers", WORKERS, 2, "evaluation worker processes")
    parser.add_argument("--out", default="runs/lifelong-suites",
                        help="results root (one folder per suite, and the result file suites.json)")
    add_note(parser)


def run(args: argparse.Namespace) -> int:
    out = check_output(args.out, "--out", DIRECTORY)
    result = Result.begin(args, out / "suites.json")
    if args.algo != "srmt" and (args.decoding != "policy" or args.checkpoint):
        raise ValueError(f"--decoding and --checkpoint are for --algo srmt (a policy file), not {args.algo!r}: "
                         "drop them")
    sample = {"policy": None, "sample": True, "argmax": False}[args.decoding]
    spec = AgentSpec(algo=args.algo, checkpoint=args.checkpoint, sample=sample, lifelong=True)
    suites = list(dict.fromkeys(args.suites))
    plans = {name: prepare(name, spec=spec, maps_dir=args.maps_dir, out_dir=out / name, workers=args.workers,
                           backend=args.backend) for name in suites}  # every suite checked before any runs
    table = {}
    try:
        for name, plan in plans.items():
            table[name] = run_suite(name, plan)
    finally:  # also on Ctrl-C / SIGTERM: the suites finished so far
        if table:
            result.save(partial_title(f"The lifelong suites in full, {args.algo} ({args.decoding} decoding), "
                                      f"{args.backend} backend", len(table), len(suites), "suites"),
                        ", ".join(f"{get_suite(name).title} {row['throughput']:.3f}" for name, row in table.items()),
                        table, "the published means (eval.report.published)")
    print("\n| suite | " + f"{args.algo} (measured) | " + " | ".join(map(published_label, PUBLISHED)) + " |")
    print("|---" * (len(PUBLISHED) + 2) + "|")
    for name, row in table.items():
        theirs = published(get_suite(name))
        print(f"| {get_suite(name).title} | **{row['throughput']:.3f}** | "
              + " | ".join(f"{theirs[m].suite:.3f}" if m in theirs else "-" for m in PUBLISHED) + " |")
    return 0


def run_suite(name: str, plan: EvalPlan) -> dict:
    """Evaluate one suite in full (resuming from its results folder); print and return its mean throughput
    and speed."""
    result = plan.run()
    records = result.records
    (score,) = [row.estimate.mean for row in aggregate(get_suite(name), records) if row.group == ALL]
    speed = (f"{result.seconds:.0f} s, {result.speed[0]:.2f} episodes/s, {result.speed[1]:,.0f} agent-steps/s"
             if result.speed else f"{result.skipped} episodes resumed: no speed")
    print(f"{name}: mean throughput {score:.3f} over {len(records)} episodes ({speed})", flush=True)
    return dict(throughput=score, episodes=len(records), seconds=result.seconds,
                episodes_per_s=result.speed and result.speed[0],
                agent_steps_per_s=result.speed and result.speed[1], resumed=result.skipped)
