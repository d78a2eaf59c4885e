"""Named maps from YAML collections: the shipped ones plus a user maps directory.

A collection is a YAML file whose top level maps map names to grid strings
(pogema's ``maps.yaml`` format, see ``maps.grid``). The registry loads
``maps/data/*.yaml``, the POGEMA benchmark suites shipped in
``maps/data/pogema-benchmark/NN-suite/maps.yaml`` (Apache-2.0, see the
``SOURCE.md`` beside them) and, when a maps directory is given (argument, else
the ``SRMT_MAPS_DIR`` environment variable), every collection under it:

- a file named ``maps.yaml`` is always a collection and must be valid;
- another ``*.yaml`` file is a collection when its top level is a non-empty
  mapping whose values are all strings; anything else (e.g. the benchmark's
  ``NN-suite.yaml`` experiment configs, whose values are mappings) is skipped
  and listed in ``MapRegistry.skipped``;
- hidden files and directories (name starting with '.') are not searched.

Collection names: the file stem for shipped and ``*.yaml`` files, the parent
directory for ``maps.yaml`` (``02-mazes/maps.yaml`` -> ``02-mazes``), as a
path relative to the maps directory. A maps-directory collection named like
a shipped benchmark suite (``02-mazes``) replaces that suite's shipped maps.
"""

import difflib
import functools
import os
import re
from pathlib import Path

import yaml

from maps.errors import MalformedMapError, MapError, MapsDirError, UnknownMapError
from maps.grid import grid_rows

ENV_VAR = "SRMT_MAPS_DIR"
DATA_DIR = Path(__file__).parent / "data"
BENCHMARK_DIR = DATA_DIR / "pogema-benchmark"
"""The POGEMA benchmark's five lifelong suites, shipped: NN-suite/maps.yaml and NN-suite.yaml configs."""
_ADD_MAPS_HELP = (
    f"pass --maps-dir DIR or set {ENV_VAR}=DIR, where DIR holds maps.yaml / *.yaml "
    "collections (name: grid string)"
)


def _env_note() -> str:
    value = os.environ.get(ENV_VAR)
    return f" ({ENV_VAR} is set to {value!r})" if value else ""


def _read_yaml(path: Path) -> object:
    """Parse a YAML file; reject duplicate top-level keys (yaml keeps the last silently)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise MapsDirError(f"cannot read map collection {path}: {err.strerror}") from err
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue  # a list or mapping as key: _validate rejects it as a name
                if key_node.value in seen:
                    raise MalformedMapError(
                        f"{path}: key {key_node.value!r} is defined twice "
                        f"(line {key_node.start_mark.line + 1}); rename or remove one"
                    )
                seen.add(key_node.value)
        return None if node is None else loader.construct_document(node)
    except yaml.YAMLError as err:
        raise MalformedMapError(f"{path}: invalid YAML: {err}") from err
    finally:
        loader.dispose()


def _validate(data: object, path: Path) -> dict[str, str]:
    """Check a parsed collection; return its grids in canonical form."""
    if not isinstance(data, dict) or not data:
        raise MalformedMapError(
            f"{path}: a map collection must be a non-empty mapping of name -> grid string, "
            f"got {type(data).__name__}"
        )
    grids = {}
    for name, grid in data.items():
        if not isinstance(name, str) or not name:
            raise MalformedMapError(f"{path}: map name {name!r} is not a non-empty string; quote it")
        if not isinstance(grid, str):
            raise MalformedMapError(
                f"{path}: map {name!r} must be a grid string (use a '|-' block), "
                f"got {type(grid).__name__}"
            )
        grids[name] = "\n".join(grid_rows(grid, f"{path}: map {name!r}"))
    return grids


def load_collection(path: str | Path) -> dict[str, str]:
    """Load one collection file strictly.

    Returns:
        Map name -> grid, each grid validated and in canonical form (rows
        stripped, joined by '\\n', no trailing newline).

    Raises:
        MapsDirError: the file does not exist or cannot be read.
        MalformedMapError: invalid YAML, duplicate names, not a mapping,
            a non-string name or value, or a malformed grid.
    """
    path = Path(path)
    if not path.is_file():
        raise MapsDirError(f"map collection {path} does not exist; {_ADD_MAPS_HELP}")
    return _validate(_read_yaml(path), path)


def _is_collection(data: object) -> bool:
    return isinstance(data, dict) and bool(data) and all(isinstance(v, str) for v in data.values())


def _collection_name(path: Path, root: Path) -> str:
    if root.is_file():
        return path.parent.name if path.name == "maps.yaml" else path.stem
    rel = path.relative_to(root)
    base = rel.parent if path.name == "maps.yaml" else rel.with_suffix("")
    return root.name if base == Path(".") else base.as_posix()


def _find_yaml(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(
        p for p in root.rglob("*.yaml")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


class MapRegistry:
    """All maps by name: shipped collections plus an optional maps directory.

    Args:
        maps_dir: a directory searched recursively (or a single collection
            file); None means the ``SRMT_MAPS_DIR`` environment variable, and
            if that is unset or empty, the shipped maps only.

    Raises:
        MapsDirError: the maps directory does not exist or holds no collection.
        MalformedMapError: a collection is invalid.
        MapError: one map name (or collection name) with different contents
            in two files.
    """

    def __init__(self, maps_dir: str | Path | None = None) -> None:
        if maps_dir is None:
            maps_dir = os.environ.get(ENV_VAR) or None
        self.maps_dir = None if maps_dir is None else Path(maps_dir).expanduser().resolve()
        self.skipped: list[Path] = []
        self._grids: dict[str, str] = {}
        self._sources: dict[str, Path] = {}
        self._collections: dict[str, list[str]] = {}
        self._collection_files: dict[str, Path] = {}
        for path in sorted(DATA_DIR.glob("*.yaml")):
            self._add(path.stem, path, load_collection(path))
        overridden: set[str] = set()
        if self.maps_dir is not None:
            overridden = self._load_dir(self.maps_dir)
        for path in sorted(BENCHMARK_DIR.glob("*/maps.yaml")):
            if path.parent.name not in overridden:
                self._add(path.parent.name, path, load_collection(path))

    def _load_dir(self, root: Path) -> set[str]:
        """Load every collection under `root`; return the names of those found there."""
        if not root.exists():
            raise MapsDirError(
                f"maps directory {root} does not exist{_env_note()}; {_ADD_MAPS_HELP}"
            )
        shipped = {p.resolve() for p in self._collection_files.values()}
        shipped |= {p.resolve() for p in BENCHMARK_DIR.glob("*/maps.yaml")}
        found = 0
        names: set[str] = set()
        for path in _find_yaml(root):
            if path.resolve() in shipped:
                found += 1
                continue
            data = _read_yaml(path)
            if path.name != "maps.yaml" and not _is_collection(data):
                self.skipped.append(path)
                continue
            name = _collection_name(path, root)
            self._add(name, path, _validate(data, path))
            names.add(name)
            found += 1
        if not found:
            raise MapsDirError(
                f"no map collection found under {root}{_env_note()}; {_ADD_MAPS_HELP}"
            )
        return names

    def _add(self, collection: str, path: Path, grids: dict[str, str]) -> None:
        if collection in self._collections:
            raise MapError(
                f"collection name {collection!r} comes from both {self._collection_files[collection]} "
                f"and {path}; rename one of the files"
            )
        for name, grid in grids.items():
            if name in self._grids and self._grids[name] != grid:
                raise MapError(
                    f"map {name!r} has different grids in {self._sources[name]} and {path}; "
                    "rename it in one of the files"
                )
            self._grids.setdefault(name, grid)
            self._sources.setdefault(name, path)
        self._collections[collection] = sorted(grids)
        self._collection_files[collection] = path

    def names(self) -> list[str]:
        """All map names, sorted."""
        return sorted(self._grids)

    def grid(self, name: str) -> str:
        """The grid string of a map (canonical form).

        Raises:
            UnknownMapError: no collection defines ``name``; lists close matches.
        """
        if name not in self._grids:
            close = difflib.get_close_matches(name, self._grids, n=5)
            hint = f"close matches: {', '.join(close)}" if close else "no close match"
            raise UnknownMapError(
                f"unknown map {name!r} ({hint}); list names with `srmt maps list`; "
                f"to add maps, {_ADD_MAPS_HELP}"
            )
        return self._grids[name]

    def match(self, pattern: str) -> list[str]:
        """Sorted names that fully match a regular expression, e.g. ``bottleneck-[0-9]+``.

        Raises:
            MapError: invalid regular expression.
            UnknownMapError: no name matches.
        """
        try:
            regex = re.compile(pattern)
        except re.error as err:
            raise MapError(
                f"invalid map name pattern {pattern!r}: {err}; use a Python regular "
                "expression matched against whole names, e.g. 'bottleneck-.*'"
            ) from err
        matched = [name for name in self.names() if regex.fullmatch(name)]
        if not matched:
            raise UnknownMapError(
                f"no map name fully matches {pattern!r} (the pattern must match the whole name, "
                f"e.g. 'bottleneck-.*'); list names with `srmt maps list`; to add maps, {_ADD_MAPS_HELP}"
            )
        return matched

    def collection_file(self, name: str) -> Path | None:
        """The file a collection was loaded from; None when no collection has that name."""
        return self._collection_files.get(name)

    def collections(self) -> dict[str, list[str]]:
        """Collection name -> its sorted map names, in load order."""
        return {name: list(maps) for name, maps in self._collections.items()}


@functools.lru_cache(maxsize=None)
def _cached_registry(maps_dir: str | None) -> MapRegistry:
    return MapRegistry(maps_dir)


def default_registry(maps_dir: str | Path | None = None) -> MapRegistry:
    """A shared ``MapRegistry``, built once per resolved maps directory.

    ``maps_dir=None`` reads ``SRMT_MAPS_DIR`` at each call, so changing the
    variable gives the registry of the new directory.
    """
    if maps_dir is None:
        maps_dir = os.environ.get(ENV_VAR) or None
    key = None if maps_dir is None else str(Path(maps_dir).expanduser().resolve())
    return _cached_registry(key)
