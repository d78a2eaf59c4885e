"""`srmt eval`, `srmt render` and `srmt toolbox` (`srmt bench eval` is benchmarks/bench_eval_speed.py,
`srmt report` is eval/tables.py).

    srmt eval bottleneck --checkpoint policy.pt --quick
    srmt eval random --algo pibt --agents 8 16 --workers 2
    srmt render --map bottleneck-20 --agents 2 --seed 3 --path-channel
    srmt toolbox maps/data/pogema-benchmark/02-mazes/02-mazes.yaml --algo SRMT PIBT
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path

from typing import get_args

from agents import ALGORITHMS, INTERVENTIONS, POOL_FIELDS, POOL_KINDS, SHIELDS, algorithms_help
from envs.backends import BACKENDS
from envs.config import CollisionSystem, OnTarget
from envs.options import NON_NEGATIVE_INT, POSITIVE_INT, Range
from eval.cluster import ENGINES
from eval.evaluate import EvalOptions, describe_agent
from maps.registry import ENV_VAR

_MAPS_HELP = (f"extra maps directory (default: ${ENV_VAR}); its NN-name/maps.yaml files replace the shipped "
              "benchmark suites")
FPS = Range(1, 60, integer=True)
SHIELD_CHOICES = ("none", *SHIELDS)
"""What --shield accepts: no shield, or one of agents.SHIELDS (`shield_arg` maps 'none' to None)."""
TOOLBOX_ALGORITHMS = {"SRMT": "srmt", "PIBT": "pibt"}
"""Names eval/toolbox.py registers with pogema-toolbox (what `srmt toolbox --algo` accepts) -> this
project's --algo; here so that the command line needs no pogema-toolbox."""


def _agent_args(p: argparse.ArgumentParser) -> None:
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


def _spec(args: argparse.Namespace, lifelong: bool):
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
    """Register `eval`, `render` and `toolbox`."""
    from eval.suites import SUITES

    p = subparsers.add_parser("eval", help="evaluate a policy or baseline on a benchmark suite",
                              description="Evaluate on a suite; results are appended per episode to "
                                          "OUT/episodes.jsonl, so rerunning the same command resumes.")
    p.add_argument("suite", metavar="SUITE", help=f"one of {', '.join(SUITES)}")
    _agent_args(p)
    p.add_argument("--maps-dir", metavar="DIR", help=_MAPS_HELP)
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

    r = subparsers.add_parser("render", help="play one episode and write SVG, MP4 and GIF animations")
    _agent_args(r)
    r.add_argument("--map", required=True, metavar="NAME", help="map name (see `srmt maps list`)")
    r.add_argument("--agents", type=POSITIVE_INT.argtype("--agents"), default=2, metavar="N", help="number of agents (default 2)")
    r.add_argument("--seed", type=NON_NEGATIVE_INT.argtype("--seed"), default=0, metavar="S", help="task seed (default 0)")
    r.add_argument("--maps-dir", metavar="DIR", help=_MAPS_HELP)
    r.add_argument("--out", default="runs/render", metavar="DIR", help="output directory (default runs/render)")
    r.add_argument("--path-channel", action="store_true", help="draw every agent's shortest path to its goal")
    r.add_argument("--max-steps", type=POSITIVE_INT.argtype("--max-steps"), metavar="T", help="stop after T steps (default: the episode length)")
    r.add_argument("--on-target", choices=get_args(OnTarget),
                   help="override the map's suite dynamics (default: bottleneck finish, benchmark maps restart)")
    r.add_argument("--collision-system", choices=get_args(CollisionSystem), help="override collisions")
    r.add_argument("--fps", type=FPS.argtype("--fps"), default=6, help="video frames per second, 1-60 (default 6)")
    r.add_argument("--formats", nargs="+", choices=("svg", "mp4", "gif"), default=["svg", "mp4", "gif"],
                   help="files to write (default all three)")
    r.add_argument("--attention", action="store_true",
                   help="draw who reads whose memory in the shared pool at every step, and the focused agent's "
                        "attention over its memory, history and current tokens (an SRMT policy of variant srmt)")
    r.add_argument("--focus", type=NON_NEGATIVE_INT.argtype("--focus"), metavar="K",
                   help="with --attention: the agent whose reads are all drawn, with its token strip (default 0)")
    r.add_argument("--links", type=NON_NEGATIVE_INT.argtype("--links"), metavar="N",
                   help="with --attention: the N strongest reads of every agent, if strong enough (default 2)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.set_defaults(func=run_render)

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
    t.add_argument("--maps-dir", metavar="DIR", help=_MAPS_HELP)
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
    from eval.report import ALL, aggregate, comparison, text_table
    from eval.suites import get_suite

    suite = get_suite(args.suite)
    try:
        if args.checkpoints:
            return _run_checkpoints(args, suite)
        spec = _spec(args, suite.lifelong)
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


def run_render(args: argparse.Namespace) -> int:
    from eval.frames import AttentionView
    from eval.render import render, render_config
    from eval.suites import EvalError, suite_of_map

    if not args.attention and (args.focus is not None or args.links is not None):
        raise EvalError("--focus and --links choose what --attention draws: add --attention")
    suite = suite_of_map(args.map)
    lifelong = args.on_target == "restart" if args.on_target else bool(suite and suite.lifelong)
    agent = _spec(args, lifelong).build()
    if describe_agent(agent):
        print(describe_agent(agent), file=sys.stderr)
    if suite is not None and args.on_target is None:
        from eval.evaluate import check_agent_fits

        check_agent_fits(suite, agent)
    radius = agent.obs_radius or (suite.default_obs_radius if suite else 2)
    config = render_config(args.map, args.agents, maps_dir=args.maps_dir, obs_radius=radius,
                           on_target=args.on_target, collision_system=args.collision_system,
                           max_steps=args.max_steps)
    attention = None
    if args.attention:  # AttentionView's defaults for what is not given
        attention = AttentionView(**{k: v for k, v in (("focus", args.focus), ("links", args.links)) if v is not None})
    files = render(agent, config, args.seed, Path(args.out), path_channel=args.path_channel, fps=args.fps,
                   svg="svg" in args.formats, mp4="mp4" in args.formats, gif="gif" in args.formats,
                   progress=not args.no_progress, attention=attention)
    for kind, path in files.items():
        print(f"{kind}: {path}")
    return 0
