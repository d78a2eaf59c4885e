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

from agents import ALGORITHMS, INTERVENTIONS, POOL_FIELDS, POOL_KINDS, SHIELDS, algorithms_help
from envs.backends import BACKENDS
from common.options import NON_NEGATIVE_INT, POSITIVE_INT
from eval.cluster import ENGINES
from eval.evaluate import EvalOptions, describe_agent
from eval.toolbox_names import TOOLBOX_ALGORITHMS
from maps.registry import ENV_VAR

MAPS_HELP = (f"extra maps directory (default: ${ENV_VAR}); its NN-name/maps.yaml files replace the shipped "
              "benchmark suites")
SHIELD_CHOICES = ("none", *SHIELDS)
"""What --shield accepts: no shield, or one of agents.SHIELDS (`shield_arg` maps 'none' to None)."""


def agent_args(p: argparse.ArgumentParser) -> None:
    who = p.add_mutually_exclusive_group()
    who.add_argument("--checkpoint", metavar="FILE",
                     help="SRMT policy file (default: the shipped policy that fits: agents/pretrained/"
                          "lifelong_srmt.pt for lifelong suites and maps, lifelong_srmt_shield.pt with --shield, "
                          "bottleneck_srmt.pt otherwise)")
    who.add_argument("--algo", choices=ALGORITHMS, default=None,
                     help=f"{algorithms_help()} (default srmt)")
    p.add_argument("--device", default="cpu", help="torch device of the policy: cpu, cuda, cuda:N (default cpu)")
    decoding = p.add_mutually_exclusive_group()
    decoding.add_argument("--sample", action="store_true", default=None,
                          help="sample actions from the policy (default: the policy file's recommended "
                               "decoding; the shipped lifelong policy samples, the Bottleneck one takes the argmax)")
    decoding.add_argument("--argmax", dest="sample", action="store_false", help="take the most likely action")
    p.add_argument("--shield", choices=SHIELD_CHOICES, default="none",
                   help="pibt: execute SRMT's ranked actions through the PIBT collision shield (conflict-free "
                        "moves; assumes agents exchange intentions with their neighbours; the published SRMT has "
                        "no shield). SRMT only (default none)")
    p.add_argument("--memory-intervention", choices=INTERVENTIONS, default="none",
                   help="replace the shared pool the agents read, at test time, same weights: zero-pool (zeros), "
                        "own-only (each agent its own memory), shuffle-envs (another environment's agents), "
                        "freeze (the pool after the episode's first step); SRMT only (default none)")
    p.add_argument("--pool", choices=POOL_KINDS, default=None,
                   help="read the global pool (every agent) or a local one (the nearest agents) with the same "
                        "weights (default: the policy file's)")
    p.add_argument("--pool-neighbours", type=POSITIVE_INT.argtype("--pool-neighbours"), default=None, metavar="K",
                   help="memories a local pool reads, the agent's own included (default: the policy file's)")
    p.add_argument("--pool-radius", type=NON_NEGATIVE_INT.argtype("--pool-radius"), default=None, metavar="R",
                   help="search radius in cells of a local pool (default: the policy file's)")
    p.add_argument("--agent-seed", type=NON_NEGATIVE_INT.argtype("--agent-seed"), default=0, metavar="S",
                   help="seed of the agent's random streams (sampling, random/A* tie breaks; default 0)")


def agent_spec(args: argparse.Namespace, lifelong: bool):
    """The agent of the command line; says which shipped policy it picked when no --checkpoint is given."""
    from eval.runner import AgentSpec

    algo = args.algo or "srmt"
    pool = tuple((field, getattr(args, field)) for field in POOL_FIELDS if getattr(args, field) is not None)
    spec = AgentSpec(algo=algo, checkpoint=args.checkpoint, device=args.device, sample=args.sample,
                     seed=args.agent_seed, lifelong=lifelong, shield=shield_arg(args),
                     memory_intervention=args.memory_intervention, pool=pool)
    if algo == "srmt" and args.checkpoint is None:
        kind = "lifelong" if lifelong else "Bottleneck"
        print(f"no --checkpoint: using the shipped {kind} policy {spec.policy_path}", file=sys.stderr)
    return spec


def shield_arg(args: argparse.Namespace) -> str | None:
    """--shield as the agents' value: None for 'none'."""
    return None if args.shield == "none" else args.shield


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Register `eval` and `toolbox`."""
    from eval.suites import SUITES

    p = subparsers.add_parser("eval", help="evaluate a policy or baseline on a benchmark suite",
                              description="Evaluate on a suite; results are appended per episode to "
                                          "OUT/episodes.jsonl, so rerunning the same command resumes.")
    p.add_argument("suite", metavar="SUITE", help=f"one of {', '.join(SUITES)}")
    agent_args(p)
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
    p.add_argument("--workers", type=POSITIVE_INT.argtype("--workers"), default=2, metavar="K",
                   help="worker processes of the local engine (default 2; 1 = inline)")
    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="local: worker processes here (default); dask: the workers of a dask cluster "
                        "(--scheduler; extra .[cluster]; docs/evaluation.md)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="dask scheduler address, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--checkpoints", nargs="+", metavar="FILE",
                   help="evaluate each policy file (e.g. every checkpoint of a run) in one call: results per "
                        "file in OUT/NN-STEM/, one row per file in OUT/checkpoints.md (a learning curve)")
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
    t.add_argument("--checkpoint", metavar="FILE", help="SRMT policy file (default: the shipped lifelong policy)")
    decoding = t.add_mutually_exclusive_group()
    decoding.add_argument("--sample", action="store_true", default=None, help="sample SRMT's actions")
    decoding.add_argument("--argmax", dest="sample", action="store_false", help="take SRMT's most likely action")
    t.add_argument("--shield", choices=SHIELD_CHOICES, default="none",
                   help="pibt: SRMT's ranked actions through the PIBT collision shield (default none)")
    t.add_argument("--maps-dir", metavar="DIR", help=MAPS_HELP)
    t.add_argument("--out", metavar="DIR", help="write the toolbox's raw ALGO.json files here")
    t.set_defaults(func=run_toolbox)


def eval_options(args: argparse.Namespace) -> EvalOptions:
    """The episode selection and run options of `srmt eval`'s command line."""
    return EvalOptions(maps_dir=args.maps_dir, quick=args.quick, maps=args.maps, agents=args.agents, seeds=args.seeds,
                       episodes=args.episodes, workers=args.workers, compare=args.compare,
                       progress=not args.no_progress, backend=args.backend, engine=args.engine,
                       scheduler=args.scheduler)


def run_eval(args: argparse.Namespace) -> int:
    from eval.evaluate import evaluate
    from eval.tables import ALL, aggregate, comparison, text_table
    from eval.suites import get_suite

    suite = get_suite(args.suite)
    try:
        if args.checkpoints:
            return _run_checkpoints(args, suite)
        spec = agent_spec(args, suite.lifelong)
        agent = spec.build()
        if describe_agent(agent):
            print(describe_agent(agent), file=sys.stderr)
        result = evaluate(args.suite, spec=spec, agent=agent, out_dir=args.out, options=eval_options(args))
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
            print(f"  {row.algorithm} {row.metric}: {e.mean:.3f}{ci} over {row.n} episodes")
    for kind, path in result.files.items():
        print(f"  {kind}: {path}")
    return 0


def _run_checkpoints(args: argparse.Namespace, suite) -> int:
    from eval.evaluate import evaluate_checkpoints
    from eval.runner import AgentSpec

    if args.checkpoint or args.algo:
        raise ValueError("--checkpoints evaluates SRMT policy files: drop --checkpoint / --algo")
    out = args.out or f"runs/eval/{suite.name}-checkpoints"
    spec = AgentSpec(device=args.device, sample=args.sample, seed=args.agent_seed, lifelong=suite.lifelong)
    options = dataclasses.replace(eval_options(args), compare=())  # a learning curve: no published results beside it
    evaluate_checkpoints(args.suite, args.checkpoints, spec, out, options)
    print((Path(out) / "checkpoints.md").read_text(), end="")
    print(f"tables: {Path(out) / 'checkpoints.md'}, {Path(out) / 'checkpoints.json'}")
    return 0


def run_toolbox(args: argparse.Namespace) -> int:
    from eval.toolbox import load_config, register, run_config

    register(args.maps_dir)
    config = load_config(args.config, args.algo, checkpoint=args.checkpoint, sample=args.sample,
                         shield=shield_arg(args))
    records = run_config(config, args.out)
    for name in dict.fromkeys(r["algorithm"] for r in records):
        mine = [r["metrics"] for r in records if r["algorithm"] == name]
        metric = "avg_throughput" if "avg_throughput" in mine[0] else "CSR"
        print(f"{name} {metric}: {sum(m[metric] for m in mine) / len(mine):.3f} over {len(mine)} episodes")
    if args.out:
        print(f"raw records: {args.out}")
    return 0
