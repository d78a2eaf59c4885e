"""Suite definitions: the shipped copies agree with the POGEMA benchmark configs; selection filters."""

import pytest
import yaml

from eval.suites import SUITES, EvalError, get_suite, group_by_config, suite_of_map
from maps.registry import MapRegistry
from conftest import BENCHMARK_DIR

BENCHMARK = BENCHMARK_DIR


def _grid(value):
    return value["grid_search"] if isinstance(value, dict) else [value]


@pytest.mark.parametrize("name", ["random", "mazes", "warehouse", "movingai", "puzzles"])
def test_suite_matches_the_benchmark_config(name):
    suite = get_suite(name)
    config = yaml.safe_load((BENCHMARK / suite.collection / f"{suite.collection}.yaml").read_text())["environment"]
    assert list(suite.agents) == _grid(config["num_agents"])
    assert list(suite.seeds) == _grid(config["seed"])
    assert list(suite.maps) == _grid(config["map_name"])
    assert suite.max_episode_steps == config["max_episode_steps"]
    assert suite.collision_system == config["collision_system"]
    assert suite.on_target == config["on_target"]
    assert config["observation_type"] == "POMAPF"


def test_every_suite_map_is_in_the_benchmark_maps_files():
    names = set(MapRegistry().names())  # the shipped copy
    for suite in SUITES.values():
        assert set(suite.maps) <= names, suite.name


def test_bottleneck_suite_is_the_spec_test_set():
    suite = get_suite("bottleneck")
    episodes = suite.episodes()
    # corridor lengths 3..50 and 100..1000 by 100: 48 + 10 = 58 maps, x 10 seeds = 580 episodes
    assert len(episodes) == 580 and len(suite.maps) == 58
    assert {ep.seed for ep in episodes} == set(range(10))
    by_name = {ep.map_name: ep.max_episode_steps for ep in episodes}
    assert by_name["bottleneck-3"] == 106 and by_name["bottleneck-1000"] == 2100
    assert (suite.on_target, suite.collision_system) == ("finish", "block_both")
    assert len(group_by_config(episodes)) == 58


def test_suite_sizes():
    sizes = {name: len(s.episodes()) for name, s in SUITES.items()}
    # maps x agent counts x seeds: bottleneck 58 x 1 x 10; random and mazes 128 x 6 x 1; warehouse
    # 1 x 6 x 128; movingai 128 x 4 x 1; puzzles 16 x 3 x 10; validation 32 x 3 x 1; scale 2 x 5 x 1
    assert sizes == {"bottleneck": 580, "random": 768, "mazes": 768, "warehouse": 768, "movingai": 512,
                     "puzzles": 480, "validation": 96, "scale": 10}


def test_quick_subsets_are_small():
    for suite in SUITES.values():
        quick = suite.episodes(quick=True)
        assert 1 <= len(quick) <= 8, suite.name
        assert set(ep.key for ep in quick) <= set(ep.key for ep in suite.episodes())


def test_filters():
    suite = get_suite("puzzles")
    picked = suite.episodes(maps="puzzle-0[12]", agents=[3], seeds=[4, 5], limit=3)
    assert [ep.key for ep in picked] == [("puzzle-01", 3, 4), ("puzzle-01", 3, 5), ("puzzle-02", 3, 4)]
    # 16 maps x 10 seeds; other counts are extra experiments, allowed
    assert len(suite.episodes(agents=[7])) == 160


@pytest.mark.parametrize("kwargs, message", [
    (dict(maps="nothing-.*"), "matches no map of suite 'puzzles'"),
    (dict(maps="("), "not a valid regular expression"),
    (dict(agents=[0]), r"--agents \[0\] must be integers >= 1"),
    (dict(seeds=[-1]), r"--seeds \[-1\] must be integers >= 0"),
    (dict(limit=0), "--episodes 0 must be >= 1"),
])
def test_bad_filters(kwargs, message):
    with pytest.raises(EvalError, match=message):
        get_suite("puzzles").episodes(**kwargs)


def test_bottleneck_has_two_agents():
    with pytest.raises(EvalError, match="exactly 2 agents"):
        get_suite("bottleneck").episodes(agents=[3])


def test_unknown_suite():
    with pytest.raises(EvalError, match="unknown suite 'lifelong'; choose one of \\['bottleneck', 'validation', 'random'"):
        get_suite("lifelong")


def test_suite_of_map():
    assert suite_of_map("bottleneck-77").name == "bottleneck"
    assert suite_of_map("wfi_warehouse").name == "warehouse"
    assert suite_of_map("Paris_2_256_15").name == "movingai"
    assert suite_of_map("corridor-1x5") is None
