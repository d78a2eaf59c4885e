"""`srmt` console script: one entry point, sub-commands provided by the packages.

Each package exposes `add_subparser(subparsers)` that registers its command
and sets `func` (args -> exit code); every benchmark (benchmarks/) is a
sub-command of `srmt bench`.
"""
from __future__ import annotations

import argparse
import importlib
import signal
import sys

import benchmarks
from common.device import limit_threads

COMMANDS = ["train.cli", "eval.cli", "render.cli", "eval.report", "maps.cli", "cli.params", "cli.demo"]
"""Modules with `add_subparser`, in the order shown by --help."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srmt", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).add_subparser(sub)
    bench = sub.add_parser("bench", help="benchmarks that print measured figures and ratios (benchmarks/)")
    benchmarks.add_subparsers(bench.add_subparsers(dest="bench", required=True, metavar="BENCH"))
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM: every command stops as on Ctrl-C (saving what it has), exit code 143."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def repeatable_options(parser: argparse.ArgumentParser) -> set[str]:
    """Options of `parser` and its sub-commands that collect every occurrence (action="append",
    e.g. the benchmarks' `--set KEY=VALUE`): giving them twice is their point."""
    names, parsers = set(), [parser]
    while parsers:
        for action in parsers.pop()._actions:
            if isinstance(action, argparse._AppendAction):
                names.update(option.replace("_", "-") for option in action.option_strings)
            elif isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
    return names


def repeated_option(argv: list[str], repeatable: set[str] = frozenset()) -> str | None:
    """The first `--option` given twice in `argv` (argparse would silently keep the last), or None;
    options in `repeatable` may repeat."""
    seen = set()
    for token in argv:
        if token.startswith("--") and token != "--":
            name = token.split("=", 1)[0].replace("_", "-")
            if name in seen and name not in repeatable:
                return name
            seen.add(name)
    return None


def main(argv: list[str] | None = None) -> int:
    limit_threads()
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    repeated = repeated_option(argv, repeatable_options(parser))
    if repeated:
        parser.error(f"option {repeated} is given twice; give it once")
    args = parser.parse_args(argv)
    # A process started in the background by a script inherits SIGINT ignored: take it back; SIGTERM too.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt as err:
        print("terminated" if isinstance(err, Terminated) else "interrupted", file=sys.stderr)
        return 143 if isinstance(err, Terminated) else 130
    except ValueError as err:  # bad input: config, maps, checkpoints — the message says how to fix it
        command = f"bench {args.bench}" if args.command == "bench" else args.command
        print(f"srmt {command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
