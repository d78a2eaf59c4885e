"""What the benchmarks share: ranges of their numeric options (a value outside is refused before anything
runs, the message naming the range), the options several of them take, and the result file `--out FILE`
writes (figures, command line, date, git commit, machine), which `srmt report` turns into the README's
results table (eval/report.py).

    >>> parser = argparse.ArgumentParser(prog="bench")
    >>> add_ranged(parser, "--rounds", ROUNDS, 3, "rounds per configuration")
    >>> parser.parse_args(["--rounds", "1e9"])
    Traceback (most recent call last):
    ...
    SystemExit: 2
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from envs.backends import BACKENDS
from common.options import Range
from common.outputs import DIRECTORY, JSON, check_output

ROUNDS = Range(1, 100, integer=True)
"""Repetitions of a measurement."""
MINUTES = Range(0, 7 * 24 * 60, lo_open=True)
"""Training budgets of the learning benchmarks: up to a week."""
SECONDS = Range(0, 4 * 3600, lo_open=True)
"""Measured seconds of a speed benchmark: up to 4 hours."""
WARMUP = Range(0, 3600)
"""Seconds ignored before measuring."""
SAVE_EVERY = Range(10, 24 * 3600, integer=True)
"""Seconds between training checkpoints / snapshots: at least 10 (each is an export), at most a day."""
WORKERS = Range(1, 64, integer=True)
"""Evaluation worker processes."""
EVAL_SEEDS = Range(1, 1000, integer=True)
"""Evaluation seeds per map."""
EPISODES = Range(1, 10_000, integer=True)
"""Evaluation episodes kept of a selection (the first N)."""
ENVS = Range(1, 16384, integer=True)
"""Environments stepped together (16384 x 64 lifelong agents: a million rows)."""
STEPS = Range(1, 100_000, integer=True)
"""Timed steps per round."""
UNTIMED_STEPS = Range(0, 100_000, integer=True)
"""Steps before the timed ones."""

ROOT = Path(__file__).resolve().parents[1]
RESULT_FORMAT = "srmt-bench-1"
"""The `format` field of a result file; eval/report.py reads files of this format."""


def add_ranged(parser: argparse.ArgumentParser, flag: str, allowed: Range, default: float | None,
               help_text: str, **kwargs) -> None:
    """Add a numeric option whose values must be in `allowed`; the help shows the default and the range."""
    shown = "" if default is None else f"default {default:g}; "
    parser.add_argument(flag, type=allowed.argtype(flag), default=default,
                        help=f"{help_text} ({shown}{allowed.describe()})", **kwargs)


def add_result_options(parser: argparse.ArgumentParser) -> None:
    """`--out FILE` and `--note TEXT`: every benchmark can record what it prints (Result.save)."""
    parser.add_argument("--out", metavar="FILE",
                        help="also write the result as JSON here: the figures printed, the command line, date, "
                             "git commit and machine (`srmt report` builds the README's results table from "
                             "docs/results/bench/*.json)")
    add_note(parser)


def add_note(parser: argparse.ArgumentParser) -> None:
    """`--note TEXT` alone, for a benchmark whose `--out` is a results directory (its result file is inside)."""
    parser.add_argument("--note", default="",
                        help="how loaded the machine was, recorded in --out, e.g. 'loaded: test runs beside it'")


def add_overrides(parser: argparse.ArgumentParser, example: str) -> None:
    """`--set KEY=VALUE` (repeatable): training overrides; `overrides(args.set)` turns them into options."""
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help=f"training override, e.g. --set {example} (repeatable)")


def overrides(items: list[str]) -> list[str]:
    """`--set` values as `srmt train` options: ['a=1', 'b=x'] -> ['--a', '1', '--b', 'x']."""
    options = []
    for item in items:
        key, eq, value = item.partition("=")
        if not (key and eq and value):
            raise ValueError(f"--set {item!r}: expected KEY=VALUE, e.g. --set envs_per_batch=256")
        options += [f"--{key}", value]
    return options


def add_experiment(parser: argparse.ArgumentParser) -> None:
    """`--experiment DIR`: where a training benchmark keeps its runs (default a new temporary directory)."""
    parser.add_argument("--experiment", help="benchmark directory (default: a new temporary one)")


def experiment_root(args: argparse.Namespace, prefix: str) -> Path:
    """The absolute `--experiment` directory, or a new temporary one named `prefix`..."""
    if args.experiment:
        return check_output(args.experiment, "--experiment", DIRECTORY).resolve()
    return Path(tempfile.mkdtemp(prefix=prefix)).resolve()


def add_backend(parser: argparse.ArgumentParser, default: str = "torch") -> None:
    """`--backend`: the env backend of an evaluation."""
    parser.add_argument("--backend", default=default, choices=sorted(BACKENDS),
                        help=f"env backend of the evaluation (default {default})")


def check_unique_names(names: dict[str, str]) -> None:
    """ValueError when two inputs (by the option that gave them) would share a results folder `name`."""
    seen: dict[str, str] = {}
    for option, name in names.items():
        if name in seen:
            raise ValueError(f"{seen[name]} and {option} would share the results folder {name!r} (same file "
                             "name): give one of them under another name")
        seen[name] = option


def partial_title(title: str, done: int, total: int, what: str) -> str:
    """`title`, saying '(partial: 2 of 3 rows; the run was stopped)' when not every part was measured.

    >>> partial_title("Pools", 1, 2, "rows")
    'Pools (partial: 1 of 2 rows; the run was stopped)'
    """
    return title if done == total else f"{title} (partial: {done} of {total} {what}; the run was stopped)"


BAD_INPUT = 2
"""The exit code of a command that refused its input (cli/main.py)."""


def check_training_exit(code: int, log: Path) -> None:
    """ValueError when the training child refused its options (exit code 2: checked before it trained),
    quoting its last log line: the benchmark's own input (--set, ...) was bad, and it exits 2 too."""
    if code != BAD_INPUT:
        return
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()] if log.is_file() else []
    raise ValueError(f"srmt train refused the training options: {lines[-1] if lines else f'see {log}'}; fix the "
                     "option it names (e.g. a --set KEY=VALUE)")


def train_command(*options: str) -> list[str]:
    """`srmt train OPTIONS` as a child process of this Python."""
    return [sys.executable, "-m", "cli.main", "train", *options]


def command_line(argv: list[str]) -> str:
    """How a person would type the command `argv` (sys.argv) ran: `srmt ...` for the console script
    and for `python -m benchmarks` (the same runner)."""
    program = Path(argv[0])
    head = {"srmt": ["srmt"], "benchmarks": ["srmt", "bench"]}.get(
        program.name if program.name == "srmt" else program.parent.name, ["python", argv[0]])
    return shlex.join([*head, *argv[1:]])


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@dataclass
class Result:
    """One benchmark run's record, begun when the benchmark starts (date, command, load before) and saved
    to `--out` when it ends; `Result.begin(args)` checks the path first, so a bad one fails before any work."""

    benchmark: str
    out: Path | None
    note: str
    command: str
    date: str
    load_before: float
    started: float = field(default_factory=time.perf_counter)

    @classmethod
    def begin(cls, args: argparse.Namespace, out: Path | None = None) -> Result:
        """`out`: the result file when it is not `--out` itself."""
        out = out or (check_output(args.out, "--out", JSON) if args.out else None)
        return cls(benchmark=args.bench, out=out, note=args.note, command=command_line(sys.argv),
                   date=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                   load_before=os.getloadavg()[0])

    def record(self, title: str, summary: str, figures: dict, target: str = "") -> dict:
        """The file's content: `title` (what was measured, with its settings), `summary` (the headline
        figures as printed), `target` (what they are compared with, if anything) and every figure."""
        return {"format": RESULT_FORMAT, "benchmark": self.benchmark, "title": title, "summary": summary,
                "target": target, "figures": figures, "command": self.command, "date": self.date,
                "seconds": round(time.perf_counter() - self.started, 1),
                "commit": _git("rev-parse", "HEAD"),
                "modified": bool(_git("status", "--porcelain", "--untracked-files=no")),
                "machine": {"note": self.note, "cpu_cores": os.cpu_count(), "torch": torch.__version__,
                            "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
                            "platform": platform.platform(), "load_average_before": round(self.load_before, 2),
                            "load_average_after": round(os.getloadavg()[0], 2)}}

    def save(self, title: str, summary: str, figures: dict, target: str = "") -> None:
        """Write the record to `--out` (nothing without it) and say where."""
        if self.out is None:
            return
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text(json.dumps(self.record(title, summary, figures, target), indent=2, default=str) + "\n")
        print(f"result written to {self.out}")
