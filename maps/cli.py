"""``srmt maps {list,show,generate}``; also runnable as ``python -m maps.cli``."""

import argparse
import re
import sys
from pathlib import Path

from maps import generate
from maps.bottleneck import (TRAIN_EPISODE_LENGTH, episode_length_for_test,
                             parse_bottleneck_length, sample_starts_goals)
from maps.errors import MapError
from common.outputs import DIRECTORY, PNG, OutputKind, OutputPathError, check_output
from maps.grid import free_cells, parse_grid
from maps.preview import render_ascii, render_png
from maps.registry import ENV_VAR, MapRegistry, default_registry

_MAPS_DIR_HELP = f"extra maps directory searched for maps.yaml / *.yaml collections (default: ${ENV_VAR})"
COLLECTION = OutputKind("map collection (.yaml)", (".yaml",))


def _collections_of(registry: MapRegistry) -> dict[str, list[str]]:
    owners: dict[str, list[str]] = {}
    for collection, names in registry.collections().items():
        for name in names:
            owners.setdefault(name, []).append(collection)
    return owners


def natural_key(name: str) -> list:
    """Sort key that orders the numbers inside names by value: bottleneck-3 before bottleneck-10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _list(args: argparse.Namespace) -> int:
    registry = default_registry(args.maps_dir)
    names = sorted(registry.match(args.pattern) if args.pattern else registry.names(), key=natural_key)
    owners = _collections_of(registry)
    width = max(len("name"), *(len(name) for name in names))
    print(f"{'name':<{width}}  {'size':>9}  {'free':>6}  collection")
    for name in names:
        grid = parse_grid(registry.grid(name), name)
        size = f"{grid.shape[0]}x{grid.shape[1]}"
        print(f"{name:<{width}}  {size:>9}  {free_cells(grid):>6}  {', '.join(sorted(owners[name]))}")
    print(f"{len(names)} maps", file=sys.stderr)
    if registry.skipped:
        skipped = ", ".join(str(path) for path in registry.skipped)
        print(f"skipped YAML files that are not name -> grid collections: {skipped}", file=sys.stderr)
    return 0


def _show(args: argparse.Namespace) -> int:
    if args.png is not None:
        check_output(args.png, "--png", PNG)
    registry = default_registry(args.maps_dir)
    grid = parse_grid(registry.grid(args.name), args.name)
    length = parse_bottleneck_length(args.name)
    if length is None and args.seed is not None:
        raise MapError(
            f"--seed applies only to bottleneck maps (they sample starts and goals); drop it for {args.name!r}"
        )
    owners = ", ".join(sorted(_collections_of(registry)[args.name]))
    print(f"{args.name}: {grid.shape[0]}x{grid.shape[1]}, {free_cells(grid)} free cells, "
          f"collection: {owners}")
    starts = goals = None
    if length is not None:
        seed = 0 if args.seed is None else args.seed
        starts, goals = sample_starts_goals(length, seed)
        print(f"corridor length {length}, seed {seed}; episode length {episode_length_for_test(length)} "
              f"in the test set, {TRAIN_EPISODE_LENGTH} in training")
        for agent, (start, goal) in enumerate(zip(starts, goals)):
            letter = chr(ord("a") + agent)
            print(f"agent {agent}: start {start} '{letter}' -> goal {goal} '{letter.upper()}'")
    print(render_ascii(grid, starts, goals))
    if args.png is not None:
        print(f"wrote {render_png(grid, args.png, starts, goals)}", file=sys.stderr)
    return 0


def _generate(args: argparse.Namespace) -> int:
    if not args.check:
        check_output(args.out_dir, "--out-dir", DIRECTORY)
        for name in generate.generated_files():
            check_output(args.out_dir / name, f"--out-dir {args.out_dir} (file {name})", COLLECTION)
    return generate.run(args.check, args.out_dir)


_COMMANDS = {"list": _list, "show": _show, "generate": _generate}


def _add_commands(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="maps_command", required=True, metavar="{list,show,generate}")
    listing = commands.add_parser("list", help="one line per map: name, size, free cells, collection")
    listing.add_argument("--maps-dir", type=Path, help=_MAPS_DIR_HELP)
    listing.add_argument("--pattern", metavar="RE", help="only names that fully match this regular expression")
    show = commands.add_parser("show", help="print a map as ASCII (bottleneck maps with starts and goals)")
    show.add_argument("name", help="map name, e.g. bottleneck-12")
    show.add_argument("--maps-dir", type=Path, help=_MAPS_DIR_HELP)
    show.add_argument("--png", type=Path, metavar="OUT.png", help="also write a PNG picture here")
    show.add_argument("--seed", type=int, help="bottleneck maps: seed of the sampled starts and goals (default 0)")
    generate.add_arguments(commands.add_parser("generate", help="regenerate the bottleneck collections"))
    parser.set_defaults(func=run)


def add_subparser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``maps`` on the console script's sub-command parsers; returns its parser."""
    parser = subparsers.add_parser("maps", help="list, show and generate maps",
                                   description="List, show and generate maps.")
    _add_commands(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run a parsed ``maps`` command; returns the exit code, raises MapError (or OutputPathError) on bad input."""
    return _COMMANDS[args.maps_command](args)


def main(argv: list[str] | None = None) -> int:
    """``python -m maps.cli``: map and output path errors print one line to stderr and return 2."""
    parser = argparse.ArgumentParser(prog="python -m maps.cli", description="List, show and generate maps.")
    _add_commands(parser)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (MapError, OutputPathError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
