"""Lifelong learning benchmark: train `lifelong-cpu` from scratch, score its snapshots on held-out maps.

Trains `srmt train --preset lifelong-cpu` for a wall-clock budget (default 60
minutes), snapshots the exported policy at every checkpoint (--eval-every
seconds), then evaluates every snapshot on eval's `validation` suite (32
generated wall mazes and random maps that training never sees, 16/32/64
agents, 128 steps, soft collisions, restart) with sampled and argmax actions,
and the greedy and A* baselines on the same episodes. Prints env steps, wall
time, average throughput (goals per step), and each evaluation's episodes/s
and agent-steps/s. Training and evaluation never run at the same time.

`--shield pibt|guided-pibt` scores every snapshot through that collision shield,
ranking each agent's actions by logit (argmax decoding, as `srmt eval --shield`
does), beside the shield's planner alone as a third baseline; sampled decoding
under a shield is refused before any training. `--set shield=pibt` is another
thing: the shield inside the training env. The result file records the run's
`--stage` (its step in a training recipe), the scoring shield and decoding, and
the training's own `init_policy` and shield as its `srmt_config.json` says.

    srmt bench lifelong --minutes 60 --out lifelong-curve.json
    srmt bench lifelong --set reward=lifelong --experiment runs/sparse
    srmt bench lifelong --experiment runs/sparse --eval-only   # score an earlier run
    srmt bench lifelong --set init_policy=bc.pt --set shield=pibt --shield pibt --stage appo-shielded \
        --out docs/results/recipe/appo-shielded.json

Ctrl-C / SIGTERM during the evaluations writes the points scored so far to
--out; the snapshots stay in the benchmark directory (--eval-only scores them).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from agents.options import add_shield_option
from agents.spec import AgentSpec
from benchmarks.options import (MINUTES, SAVE_EVERY, WORKERS, Result, add_experiment, add_overrides, add_ranged,
                                add_result_options, check_training_exit, experiment_root, overrides, train_command)
from eval.evaluate import evaluate
from train.saved_config import CONFIG_FILE, saved_config
from train.snapshots import snapshot_wall_minutes, train_with_snapshots

SUITE = "validation"
DECODINGS = {"sample": True, "argmax": False}
"""--decoding's values: an SRMTAgent's `sample`."""
BOTH = "both"
SHIELDED_DECODING = "argmax"
"""The one decoding of a shielded policy: its actions ranked by logit (agents.srmt_agent), as `srmt eval --shield`
ranks them by default."""
BASELINES = ("greedy", "astar")


def score(spec: AgentSpec, out: Path, quick: bool, workers: int, backend: str = "pogema") -> dict[str, float]:
    """Mean average throughput of `spec` on the validation suite, with the evaluation's speed."""
    result = evaluate(SUITE, spec=spec, out_dir=out, quick=quick, workers=workers, progress=False, backend=backend)
    records = result.records
    episodes_per_s, agent_steps_per_s = result.speed or (float("nan"), float("nan"))
    return dict(throughput=sum(r["metrics"]["avg_throughput"] for r in records) / len(records),
                episodes=len(records), episodes_per_s=episodes_per_s, agent_steps_per_s=agent_steps_per_s)


def decodings(decoding: str | None, shield: str | None) -> list[str]:
    """The decodings every snapshot is scored with: --decoding (default both without a shield, argmax with one);
    ValueError for sampled actions under a shield, which ranks by logit.

    >>> decodings(None, None), decodings("sample", None), decodings(None, "pibt")
    (['sample', 'argmax'], ['sample'], ['argmax'])
    """
    if shield is None:
        return list(DECODINGS) if decoding in (None, BOTH) else [decoding]
    if decoding in (None, SHIELDED_DECODING):
        return [SHIELDED_DECODING]
    raise ValueError(f"--decoding {decoding} with --shield {shield}: a shielded policy is scored ranking its actions "
                     f"by logit ({SHIELDED_DECODING} decoding, as `srmt eval --shield` does): drop --decoding or give "
                     f"--decoding {SHIELDED_DECODING}")


def snapshot_spec(path: Path, decoding: str, shield: str | None) -> AgentSpec:
    """The agent a snapshot is scored as: its policy file with `decoding`, through `shield` (None: none)."""
    return AgentSpec(checkpoint=str(path), sample=DECODINGS[decoding], shield=shield)


def stage_name(text: str) -> str:
    """--stage's argparse type: a non-blank, one-line name."""
    if not text.strip() or "\n" in text:
        raise argparse.ArgumentTypeError(f"{text!r}: give a non-blank one-line name, e.g. appo-from-imitation")
    return text.strip()


def add_stage(parser: argparse.ArgumentParser) -> None:
    """--stage NAME: which step of a training recipe the run is, recorded in --out (figures.stage)."""
    parser.add_argument("--stage", type=stage_name, default=None, metavar="NAME",
                        help="which stage of a training recipe this run is, e.g. imitation, appo-from-imitation; "
                             "recorded in --out, and `srmt report` titles the run's learning-curve table with it")


def training_settings(experiment: Path) -> dict:
    """The run's `init_policy` and training `shield` from its srmt_config.json (train/saved_config.py);
    ValueError when the experiment has none (no training of this benchmark ran there)."""
    config = saved_config(experiment)
    if config is None:
        raise ValueError(f"{experiment} has no {CONFIG_FILE}: no `srmt train` of this benchmark ran there; give "
                         "the --experiment DIR an earlier run of this benchmark wrote")
    return {key: config["run"].get(key) for key in ("init_policy", "shield")}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_ranged(parser, "--minutes", MINUTES, 60.0, "training wall-clock budget")
    add_ranged(parser, "--eval-every", SAVE_EVERY, 300, "seconds between checkpoints / snapshots")
    add_experiment(parser)
    parser.add_argument("--eval-only", action="store_true", help="score the snapshots already in --experiment")
    parser.add_argument("--quick", action="store_true", help="the validation suite's quick subset")
    parser.add_argument("--decoding", choices=(BOTH, *DECODINGS), default=None,
                        help=f"how snapshots act (default {BOTH}; with --shield {SHIELDED_DECODING}, the only one "
                             "it takes)")
    add_shield_option(parser, "score every snapshot through this collision shield, actions ranked by logit, with "
                              "the shield's planner alone as a baseline (default none; --set shield=pibt puts the "
                              "shield in the training env instead)")
    add_stage(parser)
    add_ranged(parser, "--workers", WORKERS, 2, "evaluation worker processes")
    add_overrides(parser, "reward=lifelong")
    add_result_options(parser)


def run(args: argparse.Namespace) -> int:
    if args.eval_only and not args.experiment:
        raise ValueError("--eval-only needs --experiment DIR (a directory an earlier run of this benchmark wrote)")
    scored = decodings(args.decoding, args.shield)
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
    trained = training_settings(exp)

    from srmt.checkpoint import load_policy

    shielded = f", {args.shield} shield" if args.shield else ""
    print(f"\nvalidation suite{' (quick)' if args.quick else ''}: average throughput, goals per step")
    baselines = {}
    for algo in BASELINES + ((args.shield,) if args.shield else ()):
        baselines[algo] = score(AgentSpec(algo), root / "eval" / algo, args.quick, args.workers)
        b = baselines[algo]
        print(f"  {algo:>11}: {b['throughput']:.3f}  ({b['episodes']} episodes, {b['episodes_per_s']:.2f} "
              f"episodes/s, {b['agent_steps_per_s']:,.0f} agent-steps/s)", flush=True)
    print(f"{'wall min':>8} {'env steps':>12} " + " ".join(f"{d:>8}" for d in scored) + f"{shielded}   "
          "eval agent-steps/s")
    curve = []
    try:
        for path in paths:
            env_steps = load_policy(path).meta.get("env_steps", 0)
            point = dict(wall_minutes=round(snapshot_wall_minutes(path), 2), env_steps=env_steps)
            for decoding in scored:
                point[decoding] = score(snapshot_spec(path, decoding, args.shield),
                                        root / "eval" / f"{path.stem}-{decoding}", args.quick, args.workers)
            curve.append(point)
            print(f"{point['wall_minutes']:8.1f} {env_steps:>12,} "
                  + " ".join(f"{point[d]['throughput']:8.3f}" for d in scored)
                  + "   " + " ".join(f"{point[d]['agent_steps_per_s']:,.0f}" for d in scored), flush=True)
    finally:  # also on Ctrl-C / SIGTERM: the points scored so far
        stage = f" ({args.stage})" if args.stage else ""
        warm = f" from {trained['init_policy']}" if trained["init_policy"] else ""
        inside = f", {trained['shield']} shield in the training env" if trained["shield"] else ""
        result.save(f"Lifelong learning{stage}, `validation` suite{' (quick)' if args.quick else ''}: `srmt train "
                    f"--preset lifelong-cpu`{warm} for {args.minutes:g} min{inside}, snapshots every "
                    f"{args.eval_every} s, scored with {scored[0] if len(scored) == 1 else ' and '.join(scored)} "
                    f"actions{shielded} (baselines: "
                    + ", ".join(f"{algo} {b['throughput']:.3f}" for algo, b in baselines.items()) + ")",
                    ", ".join(f"{point[scored[0]]['throughput']:.3f} @ {point['wall_minutes']:.1f} min"
                              for point in curve) + f" ({scored[0]} actions{shielded})",
                    dict(stage=args.stage, init_policy=trained["init_policy"], training_shield=trained["shield"],
                         shield=args.shield, decodings=scored, training=command[2:], baselines=baselines,
                         curve=curve))
    return 0

