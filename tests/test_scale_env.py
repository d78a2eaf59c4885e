"""The environment at scale: the BFS kernel, bounded path fields (eviction), bad input, the scale maps."""
import numpy as np
import pytest
import torch

from envs.config import EnvConfig
from envs.errors import EnvConfigError
from planners.pibt import DistanceCache
from planners.pathfinding import (FieldBudgetError, FieldSlots, bfs_distances_many, packed_successor_codes,
                              successor_codes)
from envs.torch_backend import TorchBatchedEnv
from envs.torch_backend.successors import pack_steps
from eval.suites import get_suite
from maps.registry import MapRegistry
from maps.synthetic import random_grid, scale_map_names, scale_maps, warehouse_grid

LIFELONG = dict(on_target="restart", collision_system="soft", reward="lifelong")


def test_packed_codes_from_the_bfs_equal_the_reference_packing():
    rng = np.random.default_rng(3)
    for steps in (1, 3, 5):
        obstacles = rng.random((9, 12)) < 0.3
        goals = np.argwhere(np.ones_like(obstacles))                       # obstacle goals too: all zero
        pad, shape = 2, (9 + 5, 12 + 4)                                    # a canvas larger than the map
        canvas = np.zeros((len(goals), *shape), dtype=np.int8)
        canvas[:, pad:pad + 9, pad:pad + 12] = successor_codes(obstacles, bfs_distances_many(obstacles, goals))
        expected = pack_steps(canvas.reshape(len(goals), -1), shape[1], steps)
        np.testing.assert_array_equal(packed_successor_codes(obstacles, goals, steps, pad, shape), expected)


def test_packed_codes_need_a_ring_of_blocked_cells():
    with pytest.raises(ValueError, match="pad=0 must be >= 1"):
        packed_successor_codes(np.zeros((3, 3), dtype=bool), np.array([[0, 0]]), 1, 0, (3, 3))


def test_field_slots_evict_the_least_recently_used_idle_key():
    slots = FieldSlots(num_keys=10, capacity=3, field_bytes=100, owner="raise the budget")
    missing, where, gone = slots.assign(np.array([1, 2, 3]))
    assert missing.tolist() == [1, 2, 3] and where.tolist() == [0, 1, 2] and gone.size == 0
    slots.assign(np.array([1]))                                             # 2 and 3 idle, 2 used longer ago
    slots.assign(np.array([3]))
    missing, where, gone = slots.assign(np.array([1, 4]))                   # 4 takes the slot of 2
    assert missing.tolist() == [4] and where.tolist() == [1] and gone.tolist() == [2]
    assert slots.slot_of[[1, 2, 3, 4]].tolist() == [0, -1, 2, 1]
    with pytest.raises(FieldBudgetError, match=r"4 fields are needed at once .* holds \(3 fields.*raise the budget"):
        slots.assign(np.array([5, 6, 7, 8]))


def _run(env: TorchBatchedEnv, steps: int) -> list:
    out = [env.reset(seed=5)[0]]
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        obs, rewards, terminated, truncated, infos = env.step(torch.randint(0, 5, (env.num_rows,), generator=gen))
        out += [obs, rewards, terminated, truncated, infos["ended"], env.positions.clone(), env.goals.clone()]
    return out


def test_bounded_fields_give_the_same_episodes_as_keeping_every_field():
    """A budget of just E x A fields: fields are made as goals come up and evicted, outputs unchanged."""
    config = EnvConfig(grid=random_grid(4, 12, 12, 0.2), num_agents=20, obs_radius=3, max_episode_steps=25,
                       **LIFELONG)
    kept = TorchBatchedEnv(config, 2)
    field_bytes = kept._observer.table.field_bytes
    bounded = TorchBatchedEnv(config, 2, field_budget_bytes=40 * field_bytes)
    assert not kept._observer.table.bounded and bounded._observer.table.bounded
    for a, b in zip(_run(kept, 100), _run(bounded, 100)):
        assert torch.equal(a, b)
    table = bounded._observer.table
    assert table.num_fields == table.capacity == 40 < kept._observer.table.num_fields   # slots were reused


def test_a_budget_too_small_for_the_agents_is_an_error_before_any_field_is_made():
    config = EnvConfig(map_name="scale-random-256", num_agents=16384, obs_radius=5, max_episode_steps=256,
                       **LIFELONG)
    with pytest.raises(FieldBudgetError, match=r"1 env\(s\) x 16384 agents may hold 16384 distinct goals .* "
                                               r"266x266 int16 canvas .* need 2\.16 GiB, over field_budget_bytes="
                                               r"1,073,741,824 .*raise the budget or use fewer agents"):
        TorchBatchedEnv(config, 1, field_budget_bytes=1 << 30)


def test_more_agents_than_start_and_goal_cells_is_an_error():
    with pytest.raises(EnvConfigError, match=r"map 'scale-warehouse-128' has room for 5486 agents .* "
                                             r"fewer than num_agents=8192"):
        TorchBatchedEnv(EnvConfig(map_name="scale-warehouse-128", num_agents=8192, **LIFELONG), 1)
    with pytest.raises(EnvConfigError, match=r"num_agents=20000 is more than the 13043 free cells"):
        TorchBatchedEnv(EnvConfig(map_name="scale-random-128", num_agents=20000, **LIFELONG), 1)


def test_scale_maps_are_shipped_as_generated():
    registry = MapRegistry()
    assert registry.collections()["scale"] == sorted(scale_map_names())
    assert {name: registry.grid(name) for name in scale_map_names()} == scale_maps()
    sizes = {name: len(registry.grid(name).splitlines()) for name in scale_map_names()}
    assert sizes == {"scale-warehouse-128": 128, "scale-random-128": 128, "scale-warehouse-256": 256,
                     "scale-random-256": 256}
    assert warehouse_grid(7, 40, 50) == warehouse_grid(7, 40, 50) != warehouse_grid(8, 40, 50)


def test_the_scale_suite_holds_thousands_of_agents_on_256x256_lifelong():
    suite = get_suite("scale")
    assert suite.maps == ("scale-warehouse-256", "scale-random-256")
    assert suite.agents == (1024, 2048, 4096, 8192, 16384) and suite.seeds == (0,)
    assert (suite.on_target, suite.collision_system, suite.max_episode_steps) == ("restart", "soft", 256)
    assert len(suite.episodes()) == 10 and len(suite.episodes(quick=True)) == 1


def test_1024_agents_on_a_128x128_warehouse_step_without_loops_over_agents():
    config = EnvConfig(map_name="scale-warehouse-128", num_agents=1024, obs_radius=5, max_episode_steps=256,
                       **LIFELONG)
    env = TorchBatchedEnv(config, 1)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (1024, 3, 11, 11)
    for _ in range(3):
        obs, rewards, terminated, truncated, infos = env.step(torch.zeros(1024, dtype=torch.long))
    assert torch.equal(obs, env.observe()) and not terminated.any()
    assert int(env.steps[0]) == 3 and len({tuple(p) for p in env.positions[0].tolist()}) == 1024


def test_pibt_distances_within_a_three_table_budget_equal_the_bfs():
    obstacles = np.random.default_rng(1).random((7, 9)) < 0.3
    free = np.argwhere(~obstacles)
    cache = DistanceCache(budget_bytes=3 * obstacles.size * 2)                  # uint16: three tables
    rng = np.random.default_rng(2)
    for _ in range(6):                                                          # goals come and go: evictions
        goals = free[rng.choice(len(free), 3, replace=False)]
        rows, cols = rng.integers(0, 7, (3, 5)), rng.integers(0, 9, (3, 5))
        expected = bfs_distances_many(obstacles, goals)[np.arange(3)[:, None], rows, cols]
        np.testing.assert_array_equal(cache.at(obstacles, goals, rows, cols), expected)
    with pytest.raises(FieldBudgetError, match=r"4 fields are needed at once .*raise planners\.pibt\.CACHE_BYTES"):
        cache.at(obstacles, free[:4], np.zeros((4, 5), dtype=int), np.zeros((4, 5), dtype=int))
