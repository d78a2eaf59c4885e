"""Training speed benchmark: env frames/s and peak memory of a real `srmt train` process tree.

Starts `srmt train` (bottleneck preset by default) in a fresh experiment
directory for warm-up + measured seconds, samples the RSS (and PSS) of the
training process and all its descendants every 0.25 s, and reads the frame
counter sample-factory logs every 5 s. Frames/s is measured between the first
report after the warm-up and the last report, so start-up is not counted.
One frame = one agent step (sample-factory's env_steps). The peer, trained in
the same run on the same env and batch with only the model changed, is the
`gru` variant (a GRU core instead of the shared-memory transformer) by default,
any model fields (`--peer memory=stored`), or stock sample-factory APPO with
its own conv + GRU model (`--peer stock`); the printed ratio is of the two
medians. Peak RSS is printed for the whole tree and for its largest process
(the learner, whose rollout buffers hold the recurrent states).

Ctrl-C / SIGTERM stop the training process tree, remove the run's temporary
directory and print the configurations measured so far.

    srmt bench train --seconds 90 --set envs_per_batch=256
    srmt bench train --rounds 3 --peer gru
    srmt bench train --set memory=learned --peer memory=stored     # memory modes side by side
    srmt bench train --peer stock          # stock sample-factory APPO, its own conv + GRU (train/stock_peer.py)
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import psutil

from benchmarks.options import (ROUNDS, SECONDS, WARMUP, Result, add_overrides, add_ranged, add_result_options,
                                overrides, train_command)
from srmt.config import VARIANTS

REFERENCE_FPS = 2850.0
"""The original implementation, bottleneck preset, this 2-core machine (3.9 GB RAM)."""
TARGET_RATIO = 3.0
RSS_TARGET_GB = 1.5

_REPORT = re.compile(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]\[\d+\] Fps is .*?Total num frames: (\d+)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_ranged(parser, "--seconds", SECONDS, 90.0, "measured seconds after warm-up")
    add_ranged(parser, "--warmup", WARMUP, 25.0, "seconds ignored at the start")
    parser.add_argument("--preset", default="bottleneck", help="training preset")
    parser.add_argument("--peer", default="gru", type=parse_peer,
                        help="trained beside it in the same run, same env and batch: 'stock' (sample-factory's "
                             f"own conv + GRU model, train/stock_peer.py), a model variant {VARIANTS}, or model "
                             "fields KEY=VALUE[,KEY=VALUE] (default gru)")
    add_ranged(parser, "--rounds", ROUNDS, 1, "rounds per configuration, interleaved")
    add_overrides(parser, "envs_per_batch=256")
    add_result_options(parser)


TRAIN = train_command()[1:]
STOCK = ["-m", "train.stock_peer"]
"""How a configuration is started: `srmt train`, or stock sample-factory APPO (train/stock_peer.py)."""


class Peer(NamedTuple):
    label: str
    entry: list[str]
    overrides: list[str]


def parse_peer(text: str) -> Peer:
    """`--peer`: `stock`, a variant name, or model fields KEY=VALUE separated by commas."""
    if text == "stock":
        return Peer("stock sample-factory conv+GRU", STOCK, [])
    if text in VARIANTS:
        return Peer(f"--variant {text}", TRAIN, ["--variant", text])
    try:
        options = overrides(text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither 'stock', a variant {VARIANTS} nor "
                                         "KEY=VALUE[,KEY=VALUE] (e.g. memory=stored)") from None
    return Peer(" ".join(options), TRAIN, options)


def with_overrides(options: list[str], replacing: list[str]) -> list[str]:
    """`options` (--KEY VALUE pairs) with the keys of `replacing` set to its values instead."""
    keys = set(replacing[::2])
    pairs = [(key, value) for key, value in zip(options[::2], options[1::2]) if key not in keys]
    return [part for pair in pairs for part in pair] + replacing


def frame_reports(log_text: str) -> list[tuple[float, int]]:
    """(unix time, total frames) of every sample-factory progress report in a log."""
    reports = []
    for stamp, frames in _REPORT.findall(log_text):
        when = dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        reports.append((when, int(frames)))
    return reports


def steady_fps(reports: list[tuple[float, int]], warmup: float) -> float:
    """Frames/s between the first report at least `warmup` s after the first one, and the last."""
    if len(reports) < 2:
        return float("nan")
    start = next((r for r in reports if r[0] - reports[0][0] >= warmup), reports[0])
    end = reports[-1]
    return (end[1] - start[1]) / (end[0] - start[0]) if end[0] > start[0] else float("nan")


def _tree_memory(proc: psutil.Process) -> tuple[int, int, int, int]:
    """(sum RSS, sum PSS, process count, largest RSS) of a process and its descendants, in bytes."""
    rss = pss = count = largest = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0, 0, 0
    for p in procs:
        try:
            info = p.memory_full_info()
            rss, pss, count = rss + info.rss, pss + getattr(info, "pss", info.rss), count + 1
            largest = max(largest, info.rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return rss, pss, count, largest


def _kill_tree(proc: psutil.Process) -> None:
    """SIGKILL a process and every descendant it started (sample-factory workers included)."""
    try:
        procs = [*proc.children(recursive=True), proc]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass


def measure(options: list[str], seconds: float, warmup: float, preset: str = "bottleneck",
            entry: list[str] = TRAIN) -> dict:
    """Run one training process tree (`entry`: srmt train or the stock peer) and measure it; returns the figures.
    Its directory (experiment and log) stays for inspection, unless the measurement is interrupted."""
    workdir = Path(tempfile.mkdtemp(prefix="srmt-bench-train-"))
    experiment = str(workdir / "experiment")
    command = [sys.executable, *entry, "--preset", preset, "--experiment", experiment,
               "--train_for_env_steps", "1e12", "--max_train_seconds", str(warmup + seconds), *options]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    log_path = workdir / "stdout.txt"
    load_before = os.getloadavg()[0]
    peak_rss = peak_pss = peak_procs = peak_largest = 0
    with open(log_path, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        ps = psutil.Process(proc.pid)
        deadline = time.time() + warmup + seconds + 120
        try:
            while proc.poll() is None:
                rss, pss, count, largest = _tree_memory(ps)
                peak_rss, peak_pss, peak_procs = max(peak_rss, rss), max(peak_pss, pss), max(peak_procs, count)
                peak_largest = max(peak_largest, largest)
                if time.time() > deadline:
                    _kill_tree(ps)
                    break
                time.sleep(0.25)
            proc.wait()
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM (cli/main.py): nothing of this run is kept
            _kill_tree(ps)
            proc.wait()
            shutil.rmtree(workdir, ignore_errors=True)
            print(f"interrupted: stopped the training and removed {workdir}", file=sys.stderr)
            raise
    sf_log = Path(experiment) / "sf_log.txt"
    reports = frame_reports(sf_log.read_text() if sf_log.exists() else "")
    return dict(fps=steady_fps(reports, warmup), frames=reports[-1][1] if reports else 0,
                peak_rss_gb=peak_rss / 2**30, peak_pss_gb=peak_pss / 2**30, processes=peak_procs,
                largest_rss_gb=peak_largest / 2**30,
                returncode=proc.returncode, experiment=str(workdir), load_before=load_before,
                command=" ".join(command[2:]))


def run(args: argparse.Namespace) -> int:
    """Print frames/s, peak memory and settings; exit code 0 if both targets are met."""
    result = Result.begin(args)
    options = overrides(args.set)
    from train.overrides import build_config
    from train.run import describe

    with tempfile.TemporaryDirectory() as probe:  # a config to describe, never an experiment
        settings = describe(build_config(["--preset", args.preset, "--experiment", f"{probe}/x", *options])[0])
    configs = {"srmt (as configured)": (TRAIN, options),
               f"peer: {args.peer.label}": (args.peer.entry, with_overrides(options, args.peer.overrides))}
    results: dict[str, list[dict]] = {name: [] for name in configs}
    print(f"training speed, preset {args.preset}, {settings['backend']} backend, {os.cpu_count()} CPU cores, "
          f"{args.rounds} round(s) of {args.seconds:g} s after a {args.warmup:g} s warm-up per configuration")
    print("settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()), flush=True)
    try:
        for _ in range(args.rounds):  # fixed before any result is read; interleaved
            for name, (entry, extra) in configs.items():
                results[name].append(measure(extra, args.seconds, args.warmup, args.preset, entry))
    except KeyboardInterrupt:
        if any(results.values()):
            print("measured before the interruption:", file=sys.stderr)
            print_table({name: runs for name, runs in results.items() if runs})
        raise
    print_table(results)
    ours, peer = (statistics.median(r["fps"] for r in runs) for runs in results.values())
    print(f"ratio, same run, same env and batch: as configured / peer ({args.peer.label}) = {ours / peer:.2f}x")
    rss, peer_rss = (max(r["peak_rss_gb"] for r in runs) for runs in results.values())
    target = REFERENCE_FPS * TARGET_RATIO
    goal = (f">= {target:,.0f} frames/s (3x the original implementation's {REFERENCE_FPS:,.0f}, measured "
            f"outside this run) and < {RSS_TARGET_GB} GB")
    print(f"targets (README): {goal}: {ours:,.0f} frames/s, {rss:.2f} GB")
    last = results["srmt (as configured)"][-1]
    print(f"command: python -m {last['command']}; logs in {last['experiment']}")
    result.save(f"Training speed, preset {args.preset}, {settings['backend']} backend, against a peer trained in "
                f"the same run (same env and batch): {args.peer.label}; {args.rounds} round(s) of "
                f"{args.seconds:g} s after {args.warmup:g} s warm-up",
                f"**srmt {ours:,.0f} vs peer {peer:,.0f} frames/s → {ours / peer:.2f}x**; peak RSS {rss:.2f} / "
                f"{peer_rss:.2f} GB", dict(settings=settings, runs=results, ratio=ours / peer), goal)
    return 0 if ours >= target and rss < RSS_TARGET_GB else 1


def print_table(results: dict[str, list[dict]]) -> None:
    """One line per configuration: median frames/s, spread, peak RSS of the tree and of its largest process."""
    print(f"{'configuration':32s} {'median frames/s':>16s} {'spread (min-max)':>20s} {'peak RSS GB':>12s} "
          f"{'largest process GB':>19s}")
    for name, runs in results.items():
        fps = [r["fps"] for r in runs]
        print(f"{name:32s} {statistics.median(fps):16,.0f} {min(fps):9,.0f} - {max(fps):<9,.0f} "
              f"{max(r['peak_rss_gb'] for r in runs):12.2f} {max(r['largest_rss_gb'] for r in runs):19.2f}")
