"""Ranges of the benchmarks' numeric options: every budget and size has an upper bound a person would use
(a value outside is refused before anything runs, the message naming the range), and one way to declare them.

    >>> parser = argparse.ArgumentParser(prog="bench")
    >>> add_ranged(parser, "--rounds", ROUNDS, 3, "rounds per configuration")
    >>> parser.parse_args(["--rounds", "1e9"])
    Traceback (most recent call last):
    ...
    SystemExit: 2
"""
from __future__ import annotations

import argparse

from envs.options import Range

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
ENVS = Range(1, 16384, integer=True)
"""Environments stepped together (16384 x 64 lifelong agents: a million rows)."""
STEPS = Range(1, 100_000, integer=True)
"""Timed steps per round."""
UNTIMED_STEPS = Range(0, 100_000, integer=True)
"""Steps before the timed ones."""


def add_ranged(parser: argparse.ArgumentParser, flag: str, allowed: Range, default: float | None,
               help_text: str, **kwargs) -> None:
    """Add a numeric option whose values must be in `allowed`; the help shows the default and the range."""
    shown = "" if default is None else f"default {default:g}; "
    parser.add_argument(flag, type=allowed.argtype(flag), default=default,
                        help=f"{help_text} ({shown}{allowed.describe()})", **kwargs)
