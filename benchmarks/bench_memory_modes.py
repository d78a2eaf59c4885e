"""Memory modes compared: stored vs learned memory, causal vs full mask, same wall-clock budget.

For every (task, memory, mask, seed), in a fixed order, one training run of
the same wall-clock budget (one at a time, never beside an evaluation), with
the exported policy snapshotted at every checkpoint; then the evaluations:

- bottleneck (`--preset bottleneck --reward sparse`): every snapshot greedily on
  the 16 training corridors (`--train-seeds` seeds each): the wall minutes and env
  steps at which CSR first reaches 0.9; the last snapshot greedily on the test
  corridors L = 400..1000 (10 seeds each, episode length 2L+100);
- lifelong (`--preset lifelong-cpu`): the last snapshot on eval's `validation`
  suite (sampled actions): average throughput, goals per step.

A run already finished in `--experiment` is not trained again (the command
resumes after an interruption); evaluations resume from their episodes files.

    srmt bench modes --experiment /work/exp/modes --out docs/results/memory_modes.json
    srmt bench modes --task lifelong --minutes-lifelong 10 --seeds 3

Ctrl-C / SIGTERM during the evaluations writes the results so far to --out;
rerunning with the same --experiment trains nothing finished again.
"""
from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from benchmarks.bench_lifelong_learning import score
from benchmarks.bench_train_learning import TARGET_CSR, corridor_metrics
from benchmarks.options import (EVAL_SEEDS, MINUTES, SAVE_EVERY, Result, add_experiment, add_ranged,
                                add_result_options, check_training_exit, experiment_root, train_command)
from common.options import Range
from agents.spec import AgentSpec
from maps.bottleneck import map_name
from train.snapshots import snapshot_wall_minutes, train_with_snapshots

TEST_MAPS = "|".join(map_name(length) for length in range(400, 1001, 100))
TRAINING_SEEDS = Range(1, 20, integer=True)
PRESETS = {"bottleneck": ["--preset", "bottleneck", "--reward", "sparse"], "lifelong": ["--preset", "lifelong-cpu"]}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", choices=("bottleneck", "lifelong", "both"), default="both")
    parser.add_argument("--memory", nargs="+", default=["stored", "learned"], help="memory modes to compare")
    parser.add_argument("--mask", nargs="+", default=["causal", "full"], help="attention masks to compare")
    add_ranged(parser, "--seeds", TRAINING_SEEDS, 1, "training seeds per configuration")
    add_ranged(parser, "--minutes-bottleneck", MINUTES, 14.0, "wall-clock budget per run")
    add_ranged(parser, "--minutes-lifelong", MINUTES, 6.0, "wall-clock budget per run")
    add_ranged(parser, "--eval-every", SAVE_EVERY, 90, "seconds between checkpoints / snapshots")
    add_ranged(parser, "--train-seeds", EVAL_SEEDS, 5, "evaluation seeds per training corridor")
    add_experiment(parser)
    add_result_options(parser)


def runs(args: argparse.Namespace) -> list[tuple[str, str, str, int]]:
    """(task, memory, mask, seed) in the fixed order of training."""
    tasks = ["bottleneck", "lifelong"] if args.task == "both" else [args.task]
    return [(task, memory, mask, seed) for task, seed, memory, mask
            in itertools.product(tasks, range(args.seeds), args.memory, args.mask)]


def train_run(root: Path, task: str, memory: str, mask: str, seed: int, args: argparse.Namespace) -> Path:
    """Train one configuration unless its `finished` marker exists; returns its directory."""
    run_dir = root / f"{task}-{memory}-{mask}-seed{seed}"
    if (run_dir / "finished").is_file():
        return run_dir
    minutes = args.minutes_bottleneck if task == "bottleneck" else args.minutes_lifelong
    exp = run_dir / "train"
    command = train_command(*PRESETS[task], "--memory", memory, "--attention_mask", mask, "--seed", str(seed),
                            "--experiment", str(exp), "--max_train_seconds", str(minutes * 60),
                            "--save_every_sec", str(args.eval_every))
    if exp.exists():  # an interrupted run starts over: equal budgets need one uninterrupted run each
        import shutil

        shutil.rmtree(run_dir)
    print(f"training {run_dir.name}: {minutes:g} min", flush=True)
    code = train_with_snapshots(command, exp, run_dir / "snapshots", run_dir / "train.log")
    check_training_exit(code, run_dir / "train.log")
    if code != 0:
        raise SystemExit(f"training {run_dir.name} failed with code {code}; see {run_dir / 'train.log'}")
    (run_dir / "finished").write_text("")
    return run_dir


def evaluate_bottleneck(run_dir: Path, train_seeds: int) -> dict:
    """Time to CSR >= 0.9 on the training corridors and the last snapshot's CSR on the test corridors."""
    from srmt.checkpoint import load_policy

    curve = []
    for path in sorted((run_dir / "snapshots").glob("policy-*.pt")):
        metrics = corridor_metrics(path, train_seeds, run_dir / "eval" / path.stem)
        csr = sum(m["CSR"] for m in metrics.values()) / len(metrics)
        curve.append(dict(wall_minutes=round(snapshot_wall_minutes(path), 2),
                          env_steps=load_policy(path).meta["env_steps"], csr=round(csr, 4)))
    reached = next((c for c in curve if c["csr"] >= TARGET_CSR), None)
    last = sorted((run_dir / "snapshots").glob("policy-*.pt"))[-1]
    test = corridor_metrics(last, 10, run_dir / "eval" / "test", maps=TEST_MAPS)
    return dict(curve=curve, minutes_to_target=reached and reached["wall_minutes"],
                env_steps_to_target=reached and reached["env_steps"],
                final_env_steps=curve[-1]["env_steps"],
                test_csr=round(sum(m["CSR"] for m in test.values()) / len(test), 4),
                test_per_length={L: round(m["CSR"], 2) for L, m in test.items()})


def evaluate_lifelong(run_dir: Path) -> dict:
    """Average throughput of the last snapshot on the validation suite, sampled actions."""
    from srmt.checkpoint import load_policy

    last = sorted((run_dir / "snapshots").glob("policy-*.pt"))[-1]
    result = score(AgentSpec(checkpoint=str(last), sample=True), run_dir / "eval" / "validation", False, 2)
    return dict(throughput=round(result["throughput"], 4), episodes=result["episodes"],
                final_env_steps=load_policy(last).meta["env_steps"])


def run(args: argparse.Namespace) -> int:
    result = Result.begin(args)
    root = experiment_root(args, "srmt-modes-")
    plan = runs(args)
    print(f"{len(plan)} runs into {root}", flush=True)
    dirs = [train_run(root, *config, args) for config in plan]  # all training first: evaluation never overlaps
    results, lines = [], []
    try:
        for (task, memory, mask, seed), run_dir in zip(plan, dirs):
            scored = (evaluate_bottleneck(run_dir, args.train_seeds) if task == "bottleneck"
                      else evaluate_lifelong(run_dir))
            results.append(dict(task=task, memory=memory, mask=mask, seed=seed, **scored))
            lines.append(f"{task} {memory}/{mask} seed {seed}: {summary(task, scored)}")
            print(lines[-1], flush=True)
    finally:  # also on Ctrl-C / SIGTERM: the results so far
        result.save(f"Memory modes ({', '.join(args.memory)} x {', '.join(args.mask)}), same wall-clock budget per "
                    f"run: Bottleneck sparse {args.minutes_bottleneck:g} min, lifelong-cpu {args.minutes_lifelong:g} "
                    f"min, {args.seeds} seed(s)", "; ".join(lines), dict(results=results))
    return 0


def summary(task: str, result: dict) -> str:
    """One line on a configuration's evaluation."""
    if task != "bottleneck":
        return f"validation throughput {result['throughput']:.3f} ({result['final_env_steps']:,} env steps)"
    reached = (f"{result['minutes_to_target']:.1f} min / {result['env_steps_to_target']:,} steps"
               if result["minutes_to_target"] is not None else "not reached")
    return (f"CSR >= {TARGET_CSR} on the training corridors {reached}; test corridors L=400..1000 CSR "
            f"{result['test_csr']:.3f} ({result['final_env_steps']:,} env steps)")
