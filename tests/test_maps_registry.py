"""maps.registry: collections, maps directories, name look-up and its errors."""

import shutil
from pathlib import Path

import pytest

from maps.errors import MalformedMapError, MapError, MapsDirError, UnknownMapError
from maps.registry import MapRegistry, default_registry, load_collection
from conftest import BENCHMARK_DIR

BENCHMARK = BENCHMARK_DIR
SUITES = {"01-random": 128, "02-mazes": 128, "03-warehouse": 1, "04-movingai": 128, "05-puzzles": 16}
SHIPPED = {"bottleneck-train": 16, "bottleneck-test": 58, "examples": 4, "lifelong-validation": 32, "scale": 4, **SUITES}


@pytest.fixture(autouse=True)
def no_env_maps_dir(monkeypatch):
    monkeypatch.delenv("SRMT_MAPS_DIR", raising=False)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_shipped_maps():
    registry = MapRegistry()
    assert {name: len(names) for name, names in registry.collections().items()} == SHIPPED
    # 58 bottleneck + 4 examples + 32 validation + the suites' 401: train lengths are a subset of test lengths
    assert len(registry.names()) == 62 + 32 + 4 + 401
    assert registry.names()[:3] == ["Berlin_1_256_00", "Berlin_1_256_01", "Berlin_1_256_02"]  # upper case first
    assert registry.collections()["examples"] == ["corridor-1x5", "corridor-2x5", "open-8x8", "room-5x5"]
    assert registry.grid("corridor-2x5") == ".....\n##.##"
    assert registry.maps_dir is None and registry.skipped == []


def test_unknown_name_lists_close_matches_and_how_to_add_maps():
    # the five names and their order are difflib.get_close_matches' ranking, recorded from its output
    with pytest.raises(UnknownMapError, match=(
            r"^unknown map 'bottlenek-30' \(close matches: bottleneck-30, bottleneck-300, bottleneck-3, "
            r"bottleneck-50, bottleneck-43\); .*pass --maps-dir DIR or set SRMT_MAPS_DIR=DIR")):
        MapRegistry().grid("bottlenek-30")
    with pytest.raises(UnknownMapError, match=r"unknown map 'zzz' \(no close match\)"):
        MapRegistry().grid("zzz")


def test_match():
    registry = MapRegistry()
    assert registry.match(r"bottleneck-[0-9]00") == [f"bottleneck-{n}" for n in (100, 200, 300, 400, 500, 600, 700, 800, 900)]
    assert registry.match("corridor-.*") == ["corridor-1x5", "corridor-2x5"]
    with pytest.raises(UnknownMapError, match=r"no map name fully matches 'corridor' \(the pattern must match the whole name"):
        registry.match("corridor")
    with pytest.raises(MapError, match=r"invalid map name pattern '\(': missing \), unterminated subpattern"):
        registry.match("(")


def test_shipped_benchmark_suites():
    registry = MapRegistry()
    assert registry.collection_file("02-mazes") == BENCHMARK / "02-mazes" / "maps.yaml"
    assert (BENCHMARK / "LICENSE").read_text().split()[:3] == ["Apache", "License", "Version"]
    assert registry.collections()["02-mazes"][0] == "validation-mazes-seed-000"
    assert registry.grid("puzzle-00") == "....#\n..#.#\n#.#..\n.###.\n....."
    assert registry.grid("wfi_warehouse").splitlines()[1].startswith(".$$.$$.@@@@")
    assert registry.match("Paris_.*_00") == ["Paris_1_256_00", "Paris_2_256_00"]


def test_benchmark_layout_as_maps_dir(tmp_path):
    """A user copy of the benchmark folder: its maps.yaml files replace the shipped suites, configs are skipped."""
    copy = shutil.copytree(BENCHMARK, tmp_path / "benchmark")
    registry = MapRegistry(copy)
    assert {name: len(names) for name, names in registry.collections().items()} == SHIPPED
    assert len(registry.names()) == 62 + 32 + 4 + 401
    assert registry.collection_file("04-movingai") == copy / "04-movingai" / "maps.yaml"
    assert [p.name for p in registry.skipped] == [
        "01-random.yaml", "02-mazes.yaml", "03-warehouse.yaml", "04-movingai.yaml", "05-puzzles.yaml"]


def test_maps_dir_suite_replaces_the_shipped_one(tmp_path):
    write(tmp_path / "05-puzzles" / "maps.yaml", "puzzle-00: '..'\nmine: '.#.'\n")
    registry = MapRegistry(tmp_path)
    assert registry.collections()["05-puzzles"] == ["mine", "puzzle-00"]
    assert registry.grid("puzzle-00") == ".."
    with pytest.raises(UnknownMapError, match="unknown map 'puzzle-01'"):
        registry.grid("puzzle-01")
    assert registry.collections()["02-mazes"] == MapRegistry().collections()["02-mazes"]


def test_missing_maps_dir(tmp_path):
    with pytest.raises(MapsDirError, match=rf"^maps directory {tmp_path / 'nope'} does not exist; pass --maps-dir DIR or set SRMT_MAPS_DIR"):
        MapRegistry(tmp_path / "nope")


def test_maps_dir_without_collection(tmp_path):
    write(tmp_path / "suite.yaml", "environment:\n  num_agents: 8\n")
    with pytest.raises(MapsDirError, match=r"no map collection found under"):
        MapRegistry(tmp_path)


def test_env_var_is_honoured(tmp_path, monkeypatch):
    write(tmp_path / "mine" / "maps.yaml", "tiny: |-\n  ..\n  .#\n")
    monkeypatch.setenv("SRMT_MAPS_DIR", str(tmp_path))
    registry = MapRegistry()
    assert registry.maps_dir == tmp_path.resolve()
    assert registry.collections()["mine"] == ["tiny"] and registry.grid("tiny") == "..\n.#"
    assert default_registry().grid("tiny") == "..\n.#"
    monkeypatch.setenv("SRMT_MAPS_DIR", str(tmp_path / "gone"))
    with pytest.raises(MapsDirError, match=r"does not exist \(SRMT_MAPS_DIR is set to '.*gone'\)"):
        MapRegistry()


def test_argument_overrides_env_var(tmp_path, monkeypatch):
    write(tmp_path / "a" / "one.yaml", "one: '...'\n")
    monkeypatch.setenv("SRMT_MAPS_DIR", str(tmp_path / "gone"))
    assert MapRegistry(tmp_path / "a").collections()["one"] == ["one"]


def test_default_registry_is_cached_per_dir(tmp_path):
    write(tmp_path / "x.yaml", "x: '.'\n")
    assert default_registry(tmp_path) is default_registry(str(tmp_path))
    assert default_registry() is default_registry(None)
    assert default_registry(tmp_path) is not default_registry()


def test_content_decides_what_is_a_collection(tmp_path):
    write(tmp_path / "sub" / "maps.yaml", "a: '..'\n")
    write(tmp_path / "extra.yaml", "b: |-\n  .#\n")
    write(tmp_path / "config.yaml", "environment:\n  map_name: a\nseed: 0\n")
    write(tmp_path / ".hidden" / "maps.yaml", "not yaml: [\n")
    registry = MapRegistry(tmp_path)
    assert {k: v for k, v in registry.collections().items() if k not in SHIPPED} == {"extra": ["b"], "sub": ["a"]}
    assert registry.skipped == [tmp_path.resolve() / "config.yaml"]


def test_single_file_as_maps_dir(tmp_path):
    path = write(tmp_path / "mine.yaml", "m: '.#.'\n")
    assert MapRegistry(path).collections()["mine"] == ["m"]


def test_maps_yaml_must_be_a_collection(tmp_path):
    write(tmp_path / "s" / "maps.yaml", "a: {b: 1}\n")
    with pytest.raises(MalformedMapError, match=r"maps.yaml: map 'a' must be a grid string \(use a '\|-' block\), got dict"):
        MapRegistry(tmp_path)


def test_malformed_grid_names_file_and_map(tmp_path):
    path = write(tmp_path / "bad.yaml", "ok: '..'\nbroken: |-\n  ...\n  ..\n")
    with pytest.raises(MalformedMapError, match=rf"^{path}: map 'broken': row 1 has length 2 but row 0 has length 3"):
        MapRegistry(tmp_path)


def test_same_name_different_grid_names_both_files(tmp_path):
    first = write(tmp_path / "a.yaml", "m: '..'\n")
    second = write(tmp_path / "b.yaml", "m: '.#'\n")
    with pytest.raises(MapError, match=rf"map 'm' has different grids in {first.resolve()} and {second.resolve()}"):
        MapRegistry(tmp_path)


def test_same_name_identical_grid_is_fine(tmp_path):
    write(tmp_path / "a.yaml", "m: '..'\nbottleneck-3: |-\n" + "".join(
        f"  {row}\n" for row in [".........", ".........", "####.####", "####.####", "####.####", ".........", "........."]))
    write(tmp_path / "b.yaml", "m: |-\n   ..  \n")
    registry = MapRegistry(tmp_path)
    assert registry.collections()["a"] == ["bottleneck-3", "m"] and registry.collections()["b"] == ["m"]


def test_collection_name_clash(tmp_path):
    write(tmp_path / "examples.yaml", "m: '..'\n")
    with pytest.raises(MapError, match=r"collection name 'examples' comes from both .*examples.yaml and .*examples.yaml; rename one"):
        MapRegistry(tmp_path)


def test_a_missing_collection_file_is_named(tmp_path):
    with pytest.raises(MapsDirError, match=r"map collection .*missing.yaml does not exist"):
        load_collection(tmp_path / "missing.yaml")


@pytest.mark.parametrize("name, text, message", [
    ("bad.yaml", "a: [\n", r"bad.yaml: invalid YAML: "),
    ("list.yaml", "- '...'\n", r"must be a non-empty mapping of name -> grid string, got list"),
    ("empty.yaml", "", r"got NoneType"),
    ("int.yaml", "a: 3\n", r"map 'a' must be a grid string .*got int"),
    ("key.yaml", "12: '..'\n", r"map name 12 is not a non-empty string; quote it"),
    ("dup.yaml", "a: '..'\na: '.#'\n", r"dup.yaml: key 'a' is defined twice \(line 2\); rename or remove one"),
])
def test_malformed_collection_files_are_refused_with_the_reason(tmp_path, name, text, message):
    with pytest.raises(MalformedMapError, match=message):
        load_collection(write(tmp_path / name, text))


def test_load_collection_returns_canonical_grids(tmp_path):
    path = write(tmp_path / "c.yaml", "x: |\n\n    .#  \n    ..\n\n")
    assert load_collection(path) == {"x": ".#\n.."}
