"""`srmt eval` and `srmt toolbox` (`srmt render` is render/cli.py, `srmt bench eval`
benchmarks/bench_eval_speed.py, `srmt report` eval/report.py).

    srmt eval bottleneck --checkpoint policy.pt --quick
    srmt eval random --algo pibt --agents 8 16 --workers 2
    srmt toolbox maps/data/pogema-benchmark/02-mazes/02-mazes.yaml --algo SRMT PIBT
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path

from agents.options import add_agent_options, add_policy_options, spec_from_args
from envs.backends import BACKENDS
from common.options import NON_NEGATIVE_INT, POSITIVE_INT
from eval.cluster import ENGINES
from eval.evaluate import EvalOptions
from eval.toolbox_names import TOOLBOX_ALGORITHMS
from maps.registry import ENV_VAR

LOCAL_WORKERS = EvalOptions().workers
"""--workers' default (EvalOptions')."""
MAPS_HELP = (f"extra maps directory (default: ${ENV_VAR}); its NN-name/maps.yaml files replace the shipped "
             "benchmark suites")


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Register `eval` and `toolbox`."""
    from eval.suites import SUITES

    p = subparsers.add_parser("eval", help="evaluate a policy or baseline on a benchmark suite",
                              description="Evaluate on a suite; results are appended per episode to "
                                          "OUT/episodes.jsonl, so rerunning the same command resumes.")
    p.add_argument("suite", metavar="SUITE", help=f"one of {', '.join(SUITES)}")
    add_agent_options(p)
    p.add_argument("--maps-dir", metavar="DIR", help=MAPS_HELP)
    p.add_argument("--out", metavar="DIR", help="results directory (default runs/eval/SUITE-ALGORITHM)")
    p.add_argument("--quick", action="store_true", help="a small subset of the suite, for smoke runs")
    p.add_argument("--maps", metavar="REGEX", help="only maps whose whole name matches REGEX")
    p.add_argument("--episodes", type=POSITIVE_INT.argtype("--episodes"), metavar="N", help="only the first N selected episodes")
    p.add_argument("--seeds", type=NON_NEGATIVE_INT.argtype("--seeds"), nargs="+", metavar="S", help="only these seeds")
    p.add_argument("--agents", type=POSITIVE_INT.argtype("--agents"), nargs="+", metavar="N", help="only these agent counts")
    p.add_argument("--backend", choices=tuple(BACKENDS), default="pogema",
                   help="batched env: pogema (the reference) or torch (the same dynamics and episodes, "
                        "several times faster; tests/test_eval_backends.py)")
    p.add_argument("--workers", type=POSITIVE_INT.argtype("--workers"), default=None, metavar="K",
                   help=f"worker processes of the local engine (default {LOCAL_WORKERS}; 1 = inline)")
    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="local: worker processes here (default); dask: the workers of a dask cluster "
                        "(--scheduler; extra .[cluster]; docs/evaluation.md)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="dask scheduler address, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--checkpoints", nargs="+", metavar="FILE",
                   help="evaluate each policy file (e.g. every checkpoint of a run) in one call: results per "
                        "file in OUT/NN-STEM/, one row per file in OUT/checkpoints.md (a learning curve); every "
                        "other agent option applies to each file; --compare: nothing unless given")
    p.add_argument("--compare", nargs="+", default=None, metavar="NAME|FILE",
                   help="results shown beside ours on the episodes we ran (matched by map, agents and seed): "
                        "names of the POGEMA benchmark's published results of the suite (e.g. Follower RHCR), "
                        "results files (POGEMA raw JSON list or JSONL), or none. Default: every published "
                        "result of a lifelong benchmark suite; nothing for bottleneck and validation")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_eval)

    t = subparsers.add_parser("toolbox", help="run a pogema-toolbox YAML config with SRMT / PIBT (extra: toolbox)",
                              description="Register SRMT and PIBT with pogema-toolbox 0.1.1 and run its evaluator "
                                          "on CONFIG (e.g. maps/data/pogema-benchmark/02-mazes/02-mazes.yaml).")
    t.add_argument("config", metavar="CONFIG", help="pogema-toolbox evaluation config (YAML)")
    t.add_argument("--algo", nargs="+", choices=tuple(TOOLBOX_ALGORITHMS), default=[],
                   help="replace the config's algorithms with these (the benchmark's configs name RHCR)")
    t.add_argument("--checkpoint", metavar="FILE",
                   help="SRMT policy file (default: the shipped policy that fits the config's on_target)")
    add_policy_options(t)  # SRMT's entries only: refused when the run has none
    t.add_argument("--maps-dir", metavar="DIR", help=MAPS_HELP)
    t.add_argument("--out", metavar="DIR", help="write the toolbox's raw ALGO.json files here")
    t.set_defaults(func=run_toolbox)


def eval_options(args: argparse.Namespace) -> EvalOptions:
    """The episode selection and run options of `srmt eval`'s command line; --workers with the dask engine
    (whose workers are the cluster's) is refused."""
    if args.engine != "local" and args.workers is not None:
        raise ValueError(f"--workers sets the local engine's processes; with --engine {args.engine} the cluster's "
                         "workers run the episodes: drop --workers")
    return EvalOptions(maps_dir=args.maps_dir, quick=args.quick, maps=args.maps, agents=args.agents, seeds=args.seeds,
                       episodes=args.episodes, workers=args.workers or LOCAL_WORKERS, compare=args.compare,
                       progress=not args.no_progress, backend=args.backend, engine=args.engine,
                       scheduler=args.scheduler)


def run_eval(args: argparse.Namespace) -> int:
    from eval.evaluate import prepare
    from eval.tables import ALL, aggregate, comparison, text_table
    from eval.suites import get_suite

    suite = get_suite(args.suite)
    if args.checkpoints:
        return _run_checkpoints(args, suite)
    plan = prepare(args.suite, spec=spec_from_args(args, suite.lifelong), out_dir=args.out, options=eval_options(args))
    if plan.description:
        print(plan.description, file=sys.stderr)
    try:
        result = plan.run()
    except KeyboardInterrupt:
        print("finished episodes are saved; rerun the same command to resume", file=sys.stderr)
        raise
    print(f"{result.ran} episodes run, {result.skipped} already done; results in {result.out_dir}")
    if result.speed:
        episodes_per_s, agent_steps_per_s = result.speed
        print(f"  {result.seconds:.0f} s: {episodes_per_s:.2f} episodes/s, {agent_steps_per_s:,.0f} agent-steps/s")
    if result.compare_note:
        print(f"  {result.compare_note}")
    for name, (matched, total) in result.compared.items():
        print(f"  compared with {name}: {matched} of our {len(result.records)} episodes matched by map, agents "
              f"and seed ({total} episodes in its file)")
    if result.compared:
        rows, algorithms = comparison(suite, result.records, result.others)
        print(text_table(rows, suite, algorithms))
    for row in aggregate(suite, result.records):
        if row.group == ALL:
            e = row.estimate
            ci = "" if math.isnan(e.lo) else f" [{e.lo:.3f}, {e.hi:.3f}]"
            full = len(suite.episodes())
            of = "" if row.n == full else f" (of the suite's {full})"
            print(f"  {row.algorithm} {row.metric}: {e.mean:.3f}{ci} over {row.n} episodes{of}")
    for kind, path in result.files.items():
        print(f"  {kind}: {path}")
    return 0


def _run_checkpoints(args: argparse.Namespace, suite) -> int:
    from eval.evaluate import evaluate_checkpoints

    if args.checkpoint or args.algo:
        raise ValueError("--checkpoints evaluates SRMT policy files: drop --checkpoint / --algo")
    out = args.out or f"runs/eval/{suite.name}-checkpoints"
    spec = spec_from_args(args, suite.lifelong, checkpoint=args.checkpoints[0], announce=False)
    options = eval_options(args)
    if args.compare is None:  # a learning curve: no published results beside it unless asked for
        options = dataclasses.replace(options, compare=())
    try:
        evaluate_checkpoints(args.suite, args.checkpoints, spec, out, options)
    except KeyboardInterrupt:
        print("finished episodes are saved; rerun the same command to resume", file=sys.stderr)
        raise
    print((Path(out) / "checkpoints.md").read_text(), end="")
    print(f"tables: {Path(out) / 'checkpoints.md'}, {Path(out) / 'checkpoints.json'}")
    return 0


def run_toolbox(args: argparse.Namespace) -> int:
    from eval.suites import main_metric
    from eval.toolbox import dynamics, load_config, register, run_config

    register(args.maps_dir)
    spec = spec_from_args(args, lifelong=True, algo="srmt", announce=False)  # lifelong: set per config
    config = load_config(args.config, args.algo, spec=spec)
    records = run_config(config, args.out)
    for name in dict.fromkeys(r["algorithm"] for r in records):
        mine = [r["metrics"] for r in records if r["algorithm"] == name]
        for metric in dict.fromkeys(main_metric(on_target) for on_target in dynamics(config)):
            values = [m[metric] for m in mine if metric in m]
            if values:
                print(f"{name} {metric}: {sum(values) / len(values):.3f} over {len(values)} episodes")
    if args.out:
        print(f"raw records: {args.out}")
    return 0
