"""Learning proof: train the bottleneck preset on CPU from scratch, print a greedy CSR curve.

Trains `srmt train --preset bottleneck` for a wall-clock budget (default 30
minutes), snapshots the exported policy at every checkpoint (--eval-every
seconds), then evaluates every snapshot greedily on the 16 training corridors
(10 seeds each, episode length 2L+100; the `bottleneck` suite of eval/) and prints env
steps, wall time and mean CSR / ISR. Target: CSR >= 0.9 with the directional
reward within 30 minutes on a 2-core machine.

    srmt bench learning --reward directional --minutes 30
    srmt bench learning --reward sparse --minutes 30 --set learning_rate=3e-4

Ctrl-C / SIGTERM during the evaluations writes the points scored so far to --out.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.options import (EVAL_SEEDS, MINUTES, SAVE_EVERY, Result, add_experiment, add_overrides, add_ranged,
                                add_result_options, check_training_exit, experiment_root, overrides, train_command)
from eval.evaluate import evaluate
from agents.spec import AgentSpec
from maps.bottleneck import TRAIN_LENGTHS, map_name, parse_bottleneck_length
from train.snapshots import snapshot_wall_minutes, train_with_snapshots

TARGET_CSR = 0.9
TRAIN_MAPS = "|".join(map_name(length) for length in TRAIN_LENGTHS)


def corridor_metrics(policy: Path, seeds: int, out: Path, maps: str = TRAIN_MAPS) -> dict[int, dict[str, float]]:
    """Corridor length -> mean greedy CSR / ISR of `policy` on the corridors `maps` (a map-name pattern;
    default the training corridors) of eval's bottleneck suite."""
    result = evaluate("bottleneck", spec=AgentSpec(checkpoint=str(policy)), maps=maps,
                      seeds=range(seeds), out_dir=out, workers=1, progress=False)
    per_length: dict[int, list[dict]] = {}
    for record in result.records:
        per_length.setdefault(parse_bottleneck_length(record["env_grid_search"]["map_name"]), []).append(record)
    return {length: {k: sum(r["metrics"][k] for r in recs) / len(recs) for k in ("CSR", "ISR")}
            for length, recs in sorted(per_length.items())}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reward", default="directional")
    add_ranged(parser, "--minutes", MINUTES, 30.0, "training wall-clock budget")
    add_ranged(parser, "--eval-every", SAVE_EVERY, 180, "seconds between checkpoints / snapshots")
    add_ranged(parser, "--seeds", EVAL_SEEDS, 10, "evaluation seeds per corridor")
    add_experiment(parser)
    add_overrides(parser, "learning_rate=3e-4")
    add_result_options(parser)


def run(args: argparse.Namespace) -> int:
    result = Result.begin(args)
    exp = experiment_root(args, "srmt-learning-") / f"bottleneck-{args.reward}"
    command = train_command("--preset", "bottleneck", "--reward", args.reward, "--experiment", str(exp),
                            "--max_train_seconds", str(args.minutes * 60), "--save_every_sec", str(args.eval_every),
                            *overrides(args.set))
    snapshots = exp.parent / f"snapshots-{args.reward}"
    print("training:", " ".join(command[2:]), flush=True)
    started = time.time()
    code = train_with_snapshots(command, exp, snapshots, exp.parent / f"train-{args.reward}.log")
    check_training_exit(code, exp.parent / f"train-{args.reward}.log")
    print(f"training exited with code {code} after {(time.time() - started) / 60:.1f} min", flush=True)

    from srmt.checkpoint import load_policy

    curve = []
    print(f"{'wall min':>8} {'env steps':>11} {'CSR':>6} {'ISR':>6}   (greedy, {len(TRAIN_LENGTHS)} training "
          f"corridors x {args.seeds} seeds, reward {args.reward})")
    try:
        for path in sorted(snapshots.glob("policy-*.pt")):
            loaded = load_policy(path)
            metrics = corridor_metrics(path, args.seeds, snapshots / f"eval-{path.stem}")
            csr = sum(m["CSR"] for m in metrics.values()) / len(metrics)
            isr = sum(m["ISR"] for m in metrics.values()) / len(metrics)
            wall = snapshot_wall_minutes(path)
            curve.append(dict(wall_minutes=round(wall, 2), env_steps=loaded.meta["env_steps"], csr=round(csr, 4),
                              isr=round(isr, 4), per_length={L: round(m["CSR"], 2) for L, m in metrics.items()}))
            print(f"{wall:8.1f} {loaded.meta['env_steps']:>11,} {csr:6.3f} {isr:6.3f}", flush=True)
    finally:  # also on Ctrl-C / SIGTERM: the points scored so far
        reached = next((c for c in curve if c["csr"] >= TARGET_CSR), None)
        result.save(f"Learning, {args.reward} reward: `srmt train --preset bottleneck` from scratch for "
                    f"{args.minutes:g} min, greedy CSR of its snapshots (every {args.eval_every} s) on the "
                    f"{len(TRAIN_LENGTHS)} training corridors x {args.seeds} seeds", curve_summary(curve, reached),
                    dict(reward=args.reward, training=command[2:], curve=curve),
                    f"CSR >= {TARGET_CSR} within the budget")
    if curve:
        print("per corridor length (last snapshot):", curve[-1]["per_length"])
        print(f"target CSR >= {TARGET_CSR}: " + (f"reached at {reached['wall_minutes']:.1f} min, "
                                                  f"{reached['env_steps']:,} env steps" if reached else "not reached"))
    return 0 if reached else 1


def curve_summary(curve: list[dict], reached: dict | None) -> str:
    """'CSR @ minutes' of every point, the first at the target in bold with its env steps."""
    points = [f"**{c['csr']:.2f} @ {c['wall_minutes']:.1f} min ({c['env_steps'] / 1e6:.1f}M env steps)**"
              if c is reached else f"{c['csr']:.2f} @ {c['wall_minutes']:.1f} min" for c in curve]
    return ", ".join(points) or "no snapshot scored"

