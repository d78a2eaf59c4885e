"""TableObserver (torch backend) against Observer (the definition) on random states, and its parts."""
import numpy as np
import pytest
import torch

from envs.observation import Observer
from planners.pathfinding import bfs_distances, bfs_distances_many, successor_codes
from envs.torch_backend.successors import SuccessorTable, pack_steps
from envs.torch_backend.observe import TableObserver


def random_state(rng, maps, num_envs, num_agents, shared_goals):
    """Map per env, distinct positions, goals (shared between agents if asked), 80% active."""
    map_of_env = rng.integers(len(maps), size=num_envs)
    pos, goals = np.zeros((num_envs, num_agents, 2), int), np.zeros((num_envs, num_agents, 2), int)
    for e, m in enumerate(map_of_env):
        free = np.argwhere(~maps[m])
        pos[e] = free[rng.choice(len(free), num_agents, replace=False)]
        goals[e] = free[rng.integers(len(free), size=num_agents)] if shared_goals else \
            free[rng.choice(len(free), num_agents, replace=False)]
    active = torch.from_numpy(rng.random((num_envs, num_agents)) < 0.8)
    return map_of_env, torch.from_numpy(pos), torch.from_numpy(goals), active


def observe_both(maps, radius, state, pairwise=None, path_windows=None, guidance="path"):
    """(TableObserver's, Observer's) observations and next cells (as canvas cells) of one state."""
    map_of_env, pos, goals, active = state
    num_envs, num_agents = active.shape
    ref = Observer(maps, radius, num_envs, num_agents, guidance=guidance)
    fast = TableObserver(maps, radius, num_envs, num_agents, path_windows=path_windows, guidance=guidance)
    if pairwise is not None:
        fast.pairwise = pairwise
    for e, m in enumerate(map_of_env):
        ref.set_map(e, int(m))
        ref.set_goals(e, goals[e].numpy())
    maps_t = torch.from_numpy(map_of_env)
    fast.set_maps(torch.arange(num_envs), maps_t)
    per_agent = maps_t[:, None].expand(-1, num_agents)
    fast.ensure_goals(per_agent.reshape(-1).numpy(), goals.reshape(-1, 2).numpy())
    fields = fast.field_offsets(per_agent, goals).reshape(-1)
    obs, next_cell = fast.observe(fast.cells(pos), fast.cells(goals), active, fields)
    ref_obs, ref_next = ref.observe(pos, goals, active)
    ref_next_cells = torch.where(ref_next[..., 0] >= 0, fast.cells(ref_next), -1)
    return (obs, next_cell), (ref_obs, ref_next_cells)


@pytest.mark.parametrize("radius", [1, 2, 3, 5, 7])
@pytest.mark.parametrize("shared_goals", [False, True])
@pytest.mark.parametrize("pairwise", [False, True])
@pytest.mark.parametrize("path_windows", [False, True])
def test_table_observer_equals_observer(radius, shared_goals, pairwise, path_windows):
    """Every way TableObserver can take: agent pairs or canvases, walked or stored path windows
    (r <= 6 turn row codes into floats with a table, r=7 unpacks bits with shifts)."""
    rng = np.random.default_rng(radius)
    maps = [rng.random((rows, cols)) < 0.3 for rows, cols in ((7, 9), (11, 6), (9, 9))]
    paths = 0
    for _ in range(4):
        state = random_state(rng, maps, num_envs=5, num_agents=6, shared_goals=shared_goals)
        (obs, nxt), (ref_obs, ref_nxt) = observe_both(maps, radius, state, pairwise, path_windows)
        assert obs.dtype == torch.float32 and obs.shape == ref_obs.shape
        assert torch.equal(obs, ref_obs)
        assert torch.equal(nxt, ref_nxt)
        paths += int((obs[:, 0] == 1).sum())
    assert paths > 20


def test_shared_goal_shows_to_its_owner_only_when_someone_else_has_it():
    maps = [np.zeros((5, 5), dtype=bool)]
    pos = torch.tensor([[[2, 2], [0, 0], [4, 4]]])
    goals = torch.tensor([[[2, 3], [2, 3], [0, 4]]])               # agents 0 and 1 share a goal
    for active in ([True, True, True], [True, False, True]):
        state = (np.array([0]), pos, goals, torch.tensor([active]))
        (obs, _), (ref_obs, _) = observe_both(maps, 2, state)
        assert torch.equal(obs, ref_obs)
        assert obs[0, 2, 2, 3] == float(active[1])                 # agent 0 sees the goal iff agent 1 is active


def test_batched_bfs_equals_bfs():
    rng = np.random.default_rng(0)
    for _ in range(10):
        obstacles = rng.random(tuple(rng.integers(2, 14, size=2))) < 0.35
        goals = np.argwhere(np.ones_like(obstacles))                    # obstacle goals too: all unreachable
        many = bfs_distances_many(obstacles, goals)
        for goal, dist in zip(goals, many):
            np.testing.assert_array_equal(dist, bfs_distances(obstacles, tuple(goal)))


def test_packed_codes_follow_the_path_rule():
    obstacles = np.array([[0, 0, 0], [1, 1, 0], [0, 0, 0]], dtype=bool)
    codes = successor_codes(obstacles, bfs_distances_many(obstacles, np.array([[2, 0]])))
    # from (0, 0): right, right, down, down, left, left
    packed = pack_steps(codes.reshape(1, -1), stride=3, steps=6)
    assert int(packed[0, 0]) == sum(d * 5 ** k for k, d in enumerate([4, 4, 2, 2, 3, 3]))
    assert int(packed[0, 6]) == 0                                       # the goal itself


def test_successor_table_grows_and_keeps_offsets():
    maps = [np.zeros((4, 4), dtype=bool), np.zeros((6, 3), dtype=bool)]
    table = SuccessorTable(maps, pad=1)
    table.ensure(np.array([0, 1]), np.array([[0, 0], [5, 2]]))
    first = table.offsets(torch.tensor([0, 1]), torch.tensor([[0, 0], [5, 2]]))
    table.ensure(np.zeros(16, dtype=int), np.argwhere(np.ones((4, 4))))
    assert table.num_fields == 17  # 2 goals first, then the 15 cells of map 0 other than (0, 0)
    assert torch.equal(table.offsets(torch.tensor([0, 1]), torch.tensor([[0, 0], [5, 2]])), first)
    assert int(table.offsets(torch.tensor([1]), torch.tensor([[0, 0]]))) == -1   # never asked for


def test_radius_beyond_the_supported_range_is_an_error():
    with pytest.raises(ValueError, match="obs_radius=16 .* pogema backend"):
        TableObserver([np.zeros((3, 3), dtype=bool)], 16, 1, 1)
