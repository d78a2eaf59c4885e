"""Training speed benchmark: env frames/s and peak memory of a real `srmt train` process tree.

Starts `srmt train` (bottleneck preset by default) in a fresh experiment
directory for warm-up + measured seconds, samples the RSS (and PSS) of the
training process and all its descendants every 0.25 s, and reads the frame
counter sample-factory logs every 5 s. Frames/s is measured between the first
report after the warm-up and the last report, so start-up is not counted.
One frame = one agent step (sample-factory's env_steps).

    srmt bench train --seconds 90 --set envs_per_batch=256
    srmt bench train
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from envs.options import NON_NEGATIVE, POSITIVE

REFERENCE_FPS = 2850.0
"""The original implementation, bottleneck preset, this 2-core machine (3.9 GB RAM)."""
TARGET_RATIO = 3.0
RSS_TARGET_GB = 1.5

_REPORT = re.compile(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]\[\d+\] Fps is .*?Total num frames: (\d+)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=POSITIVE.argtype("--seconds"), default=90.0, help="measured seconds after warm-up")
    parser.add_argument("--warmup", type=NON_NEGATIVE.argtype("--warmup"), default=25.0, help="seconds ignored at the start")
    parser.add_argument("--preset", default="bottleneck", help="training preset")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="training override, e.g. --set envs_per_batch=256 (repeatable)")


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


def _tree_memory(proc: psutil.Process) -> tuple[int, int, int]:
    """(sum RSS, sum PSS, process count) of a process and its descendants, in bytes."""
    rss = pss = count = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0, 0
    for p in procs:
        try:
            info = p.memory_full_info()
            rss, pss, count = rss + info.rss, pss + getattr(info, "pss", info.rss), count + 1
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return rss, pss, count


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


def measure(overrides: list[str], seconds: float, warmup: float, preset: str = "bottleneck") -> dict:
    """Run one training process tree and measure it; returns the figures."""
    workdir = Path(tempfile.mkdtemp(prefix="srmt-bench-train-"))
    experiment = str(workdir / "experiment")
    command = [sys.executable, "-m", "cli.main", "train", "--preset", preset, "--experiment", experiment,
               "--train_for_env_steps", "1e12", "--max_train_seconds", str(warmup + seconds), *overrides]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    log_path = workdir / "stdout.txt"
    load_before = os.getloadavg()[0]
    peak_rss = peak_pss = peak_procs = 0
    with open(log_path, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        ps = psutil.Process(proc.pid)
        deadline = time.time() + warmup + seconds + 120
        while proc.poll() is None:
            rss, pss, count = _tree_memory(ps)
            peak_rss, peak_pss, peak_procs = max(peak_rss, rss), max(peak_pss, pss), max(peak_procs, count)
            if time.time() > deadline:
                _kill_tree(ps)
                break
            time.sleep(0.25)
        proc.wait()
    sf_log = Path(experiment) / "sf_log.txt"
    reports = frame_reports(sf_log.read_text() if sf_log.exists() else "")
    return dict(fps=steady_fps(reports, warmup), frames=reports[-1][1] if reports else 0,
                peak_rss_gb=peak_rss / 2**30, peak_pss_gb=peak_pss / 2**30, processes=peak_procs,
                returncode=proc.returncode, experiment=str(workdir), load_before=load_before,
                command=" ".join(command[2:]))


def run(args: argparse.Namespace) -> int:
    """Print frames/s, peak memory and settings; exit code 0 if both targets are met."""
    overrides = []
    for item in args.set:
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE, e.g. --set envs_per_batch=256")
        overrides += [f"--{key}", value]
    from train.config import build_config
    from train.run import describe

    settings = describe(build_config(["--preset", args.preset, "--experiment", tempfile.mkdtemp() + "/x", *overrides])[0])
    result = measure(overrides, args.seconds, args.warmup, args.preset)
    target = REFERENCE_FPS * TARGET_RATIO
    print(f"training speed, preset {args.preset}, {settings['backend']} backend, {os.cpu_count()} CPU cores "
          f"(load average before start {result['load_before']:.2f})")
    print("settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    print(f"command: python -m {result['command']}")
    print(f"frames/s (steady, after {args.warmup:g} s warm-up): {result['fps']:,.0f}  "
          f"= {result['fps'] / REFERENCE_FPS:.2f}x the reference {REFERENCE_FPS:,.0f} (target >= {target:,.0f})")
    print(f"peak memory over {result['processes']} processes: RSS sum {result['peak_rss_gb']:.2f} GB "
          f"(target < {RSS_TARGET_GB} GB), PSS sum {result['peak_pss_gb']:.2f} GB")
    print(f"frames total {result['frames']:,}, exit code {result['returncode']}, logs in {result['experiment']}")
    ok = result["fps"] >= target and result["peak_rss_gb"] < RSS_TARGET_GB
    return 0 if ok else 1
