"""sample-factory's own options, read from its argument parser: names, converters, choices, defaults.

`srmt train` takes sample-factory's options under their own names (the `sf`
section, train/overrides.py) and builds sample-factory's config namespace
with sample-factory's own parser (`sf_namespace`), so its defaults and checks
apply as they would on its command line.
"""
from __future__ import annotations

import argparse
import functools
from dataclasses import dataclass
from typing import Any, Callable

from sample_factory.cfg.arguments import parse_full_cfg, parse_sf_args


@dataclass(frozen=True)
class SFOption:
    """One sample-factory option, as its parser declares it."""

    convert: Callable[[str], Any]
    """the parser's type (str -> value)"""
    choices: tuple | None
    help: str
    default: Any


@functools.cache
def sf_parser() -> argparse.ArgumentParser:
    """sample-factory's own argument parser (all its options and defaults)."""
    parser, _ = parse_sf_args(["--env=srmt"])
    return parser


@functools.cache
def sf_options() -> dict[str, SFOption]:
    """Every sample-factory option by name (its `dest`)."""
    parser = sf_parser()
    return {action.dest: SFOption(action.type or (lambda v: v), tuple(action.choices) if action.choices else None,
                                  action.help or "", parser.get_default(action.dest))
            for action in parser._actions if action.option_strings}


def sf_namespace(options: dict[str, Any]) -> argparse.Namespace:
    """sample-factory's config namespace for option values (None: its default stays), through its parser."""
    return parse_full_cfg(sf_parser(), [f"--{k}={v}" for k, v in options.items() if v is not None])
