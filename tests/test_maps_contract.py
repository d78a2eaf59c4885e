"""Contract over every map srmt makes: it parses, is connected, and bottleneck tasks are solvable.

(The shipped POGEMA benchmark suites are upstream files, used as they are: some
of their random maps have cut-off cells.)

Also checks the maps layer against pogema 1.4.0 itself (same obstacles, same
(row, col) coordinates) and that importing it pulls in neither pogema nor torch.
"""

import subprocess
import sys
from collections import deque
from pathlib import Path

import numpy as np
import pytest

from maps.bottleneck import CORRIDOR_COL, bottleneck_grid, parse_bottleneck_length, sample_starts_goals
from maps.grid import free_cells, parse_grid
from maps.registry import BENCHMARK_DIR as SHIPPED_BENCHMARK, MapRegistry
from conftest import BENCHMARK_DIR

REGISTRY = MapRegistry(None)
SHIPPED = sorted({name for collection, names in REGISTRY.collections().items()
                 if SHIPPED_BENCHMARK not in REGISTRY.collection_file(collection).parents and collection != "scale"
                 for name in names})
"""srmt's own maps but the large scale collection (its contract: tests/test_scale_env.py)."""
BENCHMARK = BENCHMARK_DIR
EVAL_SEEDS = range(10)


def bfs_distances(obstacles: np.ndarray, source: tuple[int, int]) -> np.ndarray:
    """Steps from ``source`` to every cell over 4-neighbours; -1 where unreachable."""
    dist = np.full(obstacles.shape, -1)
    dist[source] = 0
    queue = deque([source])
    while queue:
        r, c = queue.popleft()
        for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if (0 <= nr < obstacles.shape[0] and 0 <= nc < obstacles.shape[1]
                    and not obstacles[nr, nc] and dist[nr, nc] < 0):
                dist[nr, nc] = dist[r, c] + 1
                queue.append((nr, nc))
    return dist


def test_bfs_helper_sees_walls():
    dist = bfs_distances(parse_grid("..#.\n#.#.\n...."), (0, 0))
    # by hand: right, down column 1 to row 2, then both ways along row 2 and up column 3; -1 on the walls
    assert dist.tolist() == [[0, 1, -1, 7], [-1, 2, -1, 6], [4, 3, 4, 5]]


def test_shipped_names():
    assert len(SHIPPED) == 62 + 32  # 58 bottleneck maps + 4 examples, 32 lifelong validation maps
    others = [name for name in SHIPPED if parse_bottleneck_length(name) is None]
    assert [name for name in others if not name.startswith("lifelong-validation-")] == [
        "corridor-1x5", "corridor-2x5", "open-8x8", "room-5x5"]


@pytest.mark.parametrize("name", SHIPPED)
def test_map_parses_and_is_one_connected_region(name):
    grid = parse_grid(REGISTRY.grid(name), name)
    assert free_cells(grid) > 0
    first_free = tuple(int(v) for v in np.argwhere(~grid)[0])
    reachable = np.count_nonzero(bfs_distances(grid, first_free) >= 0)
    assert reachable == free_cells(grid)


@pytest.mark.parametrize("name", [n for n in SHIPPED if parse_bottleneck_length(n) is not None])
def test_bottleneck_goals_reachable_on_eval_seeds(name):
    grid = parse_grid(REGISTRY.grid(name), name)
    for seed in EVAL_SEEDS:
        starts, goals = sample_starts_goals(parse_bottleneck_length(name), seed)
        for (sr, sc), (gr, gc) in zip(starts, goals):
            assert not grid[sr, sc] and not grid[gr, gc]
            # the only way between the rooms is down column 4, so the distance is Manhattan via it
            expected = abs(sc - CORRIDOR_COL) + abs(gr - sr) + abs(gc - CORRIDOR_COL)
            assert bfs_distances(grid, (sr, sc))[gr, gc] == expected


def test_same_obstacles_as_pogema():
    grid_config = pytest.importorskip("pogema").GridConfig
    registry = MapRegistry(BENCHMARK)
    for name in registry.names():
        text = registry.grid(name)
        assert grid_config(map=text).map == parse_grid(text).astype(int).tolist(), name


def test_positions_are_pogema_row_col():
    pogema = pytest.importorskip("pogema")
    starts, goals = sample_starts_goals(12, 3)
    config = pogema.GridConfig(map=bottleneck_grid(12), agents_xy=[list(s) for s in starts],
                               targets_xy=[list(g) for g in goals], on_target="finish", obs_radius=2,
                               collision_system="block_both", max_episode_steps=124, seed=3)
    env = pogema.pogema_v0(grid_config=config)
    env.reset()
    assert env.grid.get_agents_xy(ignore_borders=True) == [list(s) for s in starts]
    assert env.grid.get_targets_xy(ignore_borders=True) == [list(g) for g in goals]


def test_maps_imports_neither_pogema_nor_torch():
    code = ("import sys, maps.cli, maps.registry, maps.bottleneck, maps.generate, maps.preview; "
            "print(sorted(m for m in ('pogema', 'torch', 'pydantic', 'gymnasium') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout == "[]\n"
