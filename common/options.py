"""Numeric ranges of command-line options: one checker for `srmt train`'s config and every argparse command.

    >>> Range(0, 1, lo_open=True).problem("gamma", 2.0)
    'gamma=2.0 must be in (0, 1]'
    >>> Range(1, integer=True).problem("envs", 0)
    'envs=0 must be an integer >= 1'
    >>> Range(0).problem("seconds", float("nan"))
    'seconds=nan must be a finite number >= 0'
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Range:
    """Allowed values: finite, between `lo` and `hi` (None: unbounded), ends open or closed."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    integer: bool = False

    def describe(self) -> str:
        if self.lo is not None and self.hi is not None:
            return f"in {'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}{')' if self.hi_open else ']'}"
        if self.lo is not None:
            return f"{'>' if self.lo_open else '>='} {self.lo:g}"
        if self.hi is not None:
            return f"{'<' if self.hi_open else '<='} {self.hi:g}"
        return "finite"

    def contains(self, value: float) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if self.integer and not float(value).is_integer():
            return False
        if self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo)):
            return False
        return self.hi is None or not (value > self.hi or (self.hi_open and value == self.hi))

    def problem(self, name: str, value: float) -> str | None:
        """None when `value` is allowed, else a message naming the field, the value and the range."""
        if self.contains(value):
            return None
        bounded = self.describe()
        finite = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if finite and not self.integer and self.lo is not None and self.hi is not None:
            return f"{name}={value} must be {bounded}"
        kind = "an integer" if self.integer else "a finite number"
        return f"{name}={value} must be {kind}" + ("" if bounded == "finite" else f" {bounded}")

    def argtype(self, name: str) -> Callable[[str], float]:
        """An argparse `type`: parses the text and refuses values outside the range."""
        def parse(text: str) -> float:
            try:
                value = float(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
            if self.integer and math.isfinite(value) and value.is_integer():
                value = int(value)
            problem = self.problem(name, value)
            if problem:
                raise argparse.ArgumentTypeError(problem)
            return value
        return parse


POSITIVE_INT = Range(1, integer=True)
NON_NEGATIVE_INT = Range(0, integer=True)
POSITIVE = Range(0, lo_open=True)
NON_NEGATIVE = Range(0)
