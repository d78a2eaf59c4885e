"""What a training run shows on the terminal: one progress line, errors, and this project's notices.

Without `--verbose`, everything the training processes print (sample-factory's
log, warnings, tracebacks of every spawned process) goes to
``EXPERIMENT/train.log`` and the terminal shows one line, e.g.

    srmt train  1.20M/20.0M env steps  5,310 frames/s  reward 3.49  CSR 0.81  3:02 elapsed, 12:03 left

Lines of the log that report an error (sample-factory's ERROR / CRITICAL
lines, Python tracebacks) are copied to the terminal as they appear, and so
are this project's own notices (resuming, Ctrl-C, budget spent, exports).
With `--verbose` every line of the log is copied to the terminal, and the
progress line is not drawn. Either way the first traceback of any training
process is kept as `Display.failure` (its exception line): train/run.py's
watchdog stops the run on it.
"""
from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO, Callable

from train.bridge.env import METRICS_PREFIX
from train.bridge.runner import log

LOG_FILE = "train.log"
"""The terminal output of the training processes, in the experiment directory."""
ERROR_COLOR = "\x1b[31m"
"""How sample-factory's coloured log starts ERROR and CRITICAL lines."""
TRACEBACK = "Traceback (most recent call last)"
PLAIN_INTERVAL = 30.0
"""Seconds between progress lines when the terminal is not a tty (a file, a pipe)."""


def _count(value: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.2f}{unit}" if value < 10 * size else f"{value / size:.1f}{unit}"
    return f"{value:.0f}"


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class ErrorFilter:
    """Picks the lines of a log that report an error: coloured ERROR lines and whole tracebacks;
    `exception` is the exception line of the first traceback seen."""

    def __init__(self) -> None:
        self._in_traceback = False
        self.exception: str | None = None

    def __call__(self, line: str) -> bool:
        if TRACEBACK in line:
            self._in_traceback = True
            return True
        if self._in_traceback:
            if line and not line[0].isspace():  # the exception line ends the traceback
                self._in_traceback = False
                self.exception = self.exception or line.replace(ERROR_COLOR, "").replace("\x1b[0m", "").strip()
            return True
        return line.startswith(ERROR_COLOR)


class ProgressLine:
    """The one-line training display: env steps of the total, frames/s, reward, CSR or throughput, time."""

    def __init__(self, total_steps: int, budget_seconds: float, started: float, stream: IO[str]):
        self.total, self.budget, self.started, self.stream = total_steps, budget_seconds, started, stream
        self.tty = stream.isatty()
        self._samples: deque[tuple[float, int]] = deque(maxlen=12)
        self._last_plain = 0.0
        self._width = 0

    def text(self, env_steps: int, stats: dict[str, float], now: float) -> str:
        """The line for `env_steps` done and the latest episode averages `stats`."""
        self._samples.append((now, env_steps))
        (t0, s0), (t1, s1) = self._samples[0], self._samples[-1]
        fps = (s1 - s0) / (t1 - t0) if t1 > t0 else math.nan
        parts = [f"srmt train  {_count(env_steps)}/{_count(self.total)} env steps"]
        parts.append(f"{fps:,.0f} frames/s" if fps == fps else "starting")
        if "reward" in stats:
            parts.append(f"reward {stats['reward']:.2f}")
        csr, throughput = stats.get(f"{METRICS_PREFIX}/CSR"), stats.get(f"{METRICS_PREFIX}/avg_throughput")
        if csr is not None:
            parts.append(f"CSR {csr:.2f}")
        elif throughput is not None:
            parts.append(f"throughput {throughput:.3f}")
        elapsed = now - self.started
        left = [self.budget - elapsed] if self.budget else []
        if fps == fps and fps > 0:
            left.append((self.total - env_steps) / fps)
        timing = f"{_clock(elapsed)} elapsed" + (f", {_clock(max(0.0, min(left)))} left" if left else "")
        return "  ".join(parts + [timing])

    def show(self, env_steps: int, stats: dict[str, float]) -> None:
        now = time.time()
        line = self.text(env_steps, stats, now)
        if self.tty:
            self.stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
        elif now - self._last_plain >= PLAIN_INTERVAL:
            self.stream.write(line + "\n")
            self._last_plain = now
        self.stream.flush()

    def write(self, text: str) -> None:
        """A line above the progress line."""
        if self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self._width = 0
        self.stream.write(text.rstrip("\n") + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0


class Display:
    """The terminal side of a run: the processes' output goes to train.log; the terminal gets a progress
    line and the error lines (quiet), or every line (verbose)."""

    def __init__(self, experiment_dir: Path, verbose: bool, total_steps: int, budget_seconds: float,
                 started: float):
        self.verbose = verbose
        self.log_path = Path(experiment_dir) / LOG_FILE
        self._args = (total_steps, budget_seconds, started)
        self._line: ProgressLine | None = None
        self._tail: _Tail | None = None
        self._saved: list[int] = []
        self._lock = threading.Lock()
        self.muted = False

    @property
    def failure(self) -> str | None:
        """The exception line of the first traceback any training process printed, or None."""
        return self._tail.is_error.exception if self._tail else None

    def __enter__(self) -> "Display":
        sys.stdout.flush()
        sys.stderr.flush()
        self._saved = [os.dup(1), os.dup(2)]
        terminal = os.fdopen(os.dup(self._saved[1]), "w", buffering=1)
        self._line = ProgressLine(*self._args, stream=terminal)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        start = os.fstat(fd).st_size
        os.dup2(fd, 1)  # spawned training processes inherit these
        os.dup2(fd, 2)
        os.close(fd)
        if not self.verbose:
            self._line.write(f"sample-factory's log: {self.log_path} (--verbose shows it here)")
        self._tail = _Tail(self.log_path, start, self._echo, echo_all=self.verbose)
        return self

    def __exit__(self, *exc) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        self._tail.stop()
        os.dup2(self._saved[0], 1)
        os.dup2(self._saved[1], 2)
        for fd in self._saved:
            os.close(fd)
        self._line.close()
        self._line.stream.close()
        self._line = None

    def _echo(self, line: str) -> None:
        with self._lock:
            if not self.muted:
                self._line.write(line)

    def mute(self) -> None:
        """No more log lines on the terminal (after a failure was reported); the log file keeps them."""
        self.muted = True

    def note(self, message: str, *args, warning: bool = False) -> None:
        """A notice for the user: into the log, and on the terminal when only errors are echoed."""
        (log.warning if warning else log.info)(message, *args)
        if self._line is not None and not self.verbose:
            with self._lock:
                self._line.write(message % args if args else message)

    def progress(self, env_steps: int, stats: dict[str, float]) -> None:
        if self._line is not None and not self.verbose:
            with self._lock:
                self._line.show(env_steps, stats)


class _Tail(threading.Thread):
    """Follows the log file from `start` and hands each error line (every line: `echo_all`) to `echo`."""

    def __init__(self, path: Path, start: int, echo: Callable[[str], None], echo_all: bool = False,
                 interval: float = 0.5):
        super().__init__(daemon=True, name="srmt-log-tail")
        self.path, self.offset, self.echo, self.interval = path, start, echo, interval
        self.echo_all = echo_all
        self.is_error = ErrorFilter()
        self._stop_event = threading.Event()
        self._partial = ""
        self.start()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.scan()

    def scan(self) -> None:
        with open(self.path, encoding="utf-8", errors="replace") as f:
            f.seek(self.offset)
            text = f.read()
            self.offset = f.tell()
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            if self.is_error(line) or self.echo_all:
                self.echo(line)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)
        self.scan()
        if self._partial and (self.is_error(self._partial) or self.echo_all):
            self.echo(self._partial)
