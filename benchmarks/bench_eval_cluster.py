"""Evaluation on a dask cluster vs the local engine, on the same machine and episodes, in one run.

    srmt bench cluster [--maps REGEX] [--rounds 3] [--backend torch]

Runs the shipped lifelong policy on a Mazes subset (default: 16 maps x 8-48
agents x seed 0 = 80 episodes of mixed cost; 64 agents left out so a round
stays short) with: the local engine
inline (1 process) and with 2 worker processes, a LocalCluster of 1 dask
worker process and one of 2 (scheduler and workers are separate processes
started here). Each configuration runs the
same fixed number of rounds into fresh output directories; the script prints
episodes/s per round, the median, and each median's ratio to the local
engine's. Records of every configuration are checked to be identical
(runtime aside). The cluster's start-up is not timed (a real cluster is
already up); the policy transfer and worker-side loading are.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.options import ROUNDS, Result, add_backend, add_ranged, add_result_options
from eval.evaluate import evaluate
from eval.tables import episode_key
from agents.spec import AgentSpec


def _metrics(records: list[dict]) -> dict:
    return {episode_key(r): {k: v for k, v in r["metrics"].items() if k != "runtime"} for r in records}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--maps", default="validation-mazes-seed-0(0[0-9]|1[0-5])", help="Mazes maps (regex)")
    add_ranged(parser, "--rounds", ROUNDS, 3, "rounds per configuration, fixed up front")
    add_backend(parser)
    add_result_options(parser)


def run(args: argparse.Namespace) -> int:
    try:
        from distributed import LocalCluster
    except ImportError as err:
        raise ValueError(f"srmt bench cluster needs dask.distributed ({err}): pip install -e \".[cluster]\"") from err

    result = Result.begin(args)

    spec = AgentSpec(algo="srmt", lifelong=True)
    selection = dict(maps=args.maps, agents=[8, 16, 24, 32, 48], seeds=[0], backend=args.backend, progress=False)
    speeds: dict[str, list[float]] = {}
    reference = None
    with tempfile.TemporaryDirectory() as tmp:
        def measure(name: str, **engine) -> None:
            nonlocal reference
            for r in range(args.rounds):
                started = time.perf_counter()
                result = evaluate("mazes", spec=spec, out_dir=Path(tmp) / f"{name}-{r}", **selection, **engine)
                speeds.setdefault(name, []).append(len(result.records) / (time.perf_counter() - started))
                metrics = _metrics(result.records)
                reference = reference or metrics
                if metrics != reference:
                    raise SystemExit(f"{name}: records differ from the first configuration's")
                print(f"{name} round {r + 1}: {speeds[name][-1]:.2f} episodes/s", flush=True)

        measure("local engine, 1 process", workers=1)
        measure("local engine, 2 processes", workers=2)
        for workers in (1, 2):
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                              silence_logs=40) as cluster:
                measure(f"dask, {workers} worker{'s' * (workers > 1)}", engine="dask",
                        scheduler=cluster.scheduler_address)

    medians = {name: statistics.median(values) for name, values in speeds.items()}
    base = medians["local engine, 1 process"]
    print(f"\n{len(reference)} Mazes episodes, backend {args.backend}, {args.rounds} rounds each; "
          "records identical across configurations")
    print("| configuration | median episodes/s | rounds | vs local |\n|---|---|---|---|")
    for name, values in speeds.items():
        print(f"| {name} | {medians[name]:.2f} | {', '.join(f'{v:.2f}' for v in values)} | "
              f"{medians[name] / base:.2f}x |")
    result.save(f"Evaluation on a dask cluster, {len(reference)} Mazes episodes (8-48 agents), "
                f"{args.backend} backend, median of {args.rounds} rounds",
                "; ".join(f"{name} {median:.2f} episodes/s ({median / base:.2f}x)" for name, median in medians.items())
                + "; records identical in every configuration",
                dict(maps=args.maps, episodes=len(reference), rounds=speeds, medians=medians),
                "1 and 2 dask workers vs the local engine, same machine, one run")
    return 0

