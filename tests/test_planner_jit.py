"""The compiled PIBT (planners/pibt_jit.py) against its plain reference (planners/pibt.py): identical moves
on seeded random worlds and on whole pogema episodes, never a vertex or swap conflict."""
import numpy as np
import pytest
import torch

from envs.config import EnvConfig
from envs.pogema_backend import PogemaBatchedEnv
from envs.task import task_for_seed
from planners.pathfinding import bfs_distances_many
from planners.pibt import (DistanceCache, PIBTPlanner, candidate_cells, distance_preferences, rank_by_distance,
                           shielded_actions, shielded_actions_reference, tie_keys, update_priorities)
from planners.pibt_jit import STEPS, _descending, distance_ranking, plan_moves


def grid(text: str) -> np.ndarray:
    return np.array([[ch == "#" for ch in line] for line in text.split("\n")])


def assert_conflict_free(obstacles: np.ndarray, positions: np.ndarray, actions: np.ndarray) -> None:
    """Every move stays on a free cell, no two agents share a next cell, no two swap cells."""
    nxt = positions + STEPS[actions]
    assert ((nxt >= 0) & (nxt < obstacles.shape)).all(), "moved off the grid"
    assert not obstacles[nxt[:, 0], nxt[:, 1]].any(), "moved into an obstacle"
    assert len({tuple(c) for c in nxt}) == len(nxt), "vertex conflict"
    came_from = {tuple(c): i for i, c in enumerate(positions)}
    for i, c in enumerate(nxt):
        j = came_from.get(tuple(c))
        assert j is None or j == i or tuple(nxt[j]) != tuple(positions[i]), "swap conflict"


def random_world(rng: np.random.Generator):
    """A random grid (1x1 to 9x9, up to half obstacles), agents on 1 to all of its free cells, priorities with
    many ties or none, and preference rows: random permutations or PIBT's own distance order."""
    rows, cols = rng.integers(1, 10, size=2)
    obstacles = rng.random((rows, cols)) < rng.uniform(0, 0.5)
    free = np.argwhere(~obstacles)
    if len(free) == 0:
        obstacles[0, 0], free = False, np.array([[0, 0]])
    agents = int(rng.integers(1, len(free) + 1))
    positions = free[rng.choice(len(free), agents, replace=False)]
    kind = rng.integers(3)
    priorities = (rng.integers(0, 3, agents).astype(float) if kind == 0 else np.zeros(agents) if kind == 1
                  else rng.permutation(agents) / agents)
    if rng.random() < 0.5:
        preferences = np.array([rng.permutation(5) for _ in range(agents)])
    else:
        goals = free[rng.integers(len(free), size=agents)]
        preferences = distance_preferences(obstacles, positions, bfs_distances_many(obstacles, goals),
                                           rng if rng.random() < 0.5 else None)
    return obstacles, positions, preferences, priorities


def test_identical_moves_on_random_worlds():
    rng = np.random.default_rng(0)
    moved = 0
    for _ in range(400):
        obstacles, positions, preferences, priorities = random_world(rng)
        fast = shielded_actions(obstacles, positions, preferences, priorities)
        assert fast.dtype == np.int64
        assert fast.tolist() == shielded_actions_reference(obstacles, positions, preferences, priorities).tolist()
        assert_conflict_free(obstacles, positions, fast)
        moved += int((fast != 0).sum())
    assert moved > 500                        # the worlds are not all jammed


def test_identical_moves_over_many_steps_of_a_crowded_random_map():
    # 300 agents on 32x32 with 25% obstacles: long inheritance chains; new goals on arrival, both paths.
    rng = np.random.default_rng(1)
    obstacles = rng.random((32, 32)) < 0.25
    free = np.argwhere(~obstacles)
    dist_of = lambda goals: bfs_distances_many(obstacles, goals)
    positions = free[rng.choice(len(free), 300, replace=False)]
    goals = free[rng.choice(len(free), 300)]
    ties = rng.permutation(300) / 300
    priorities = ties.copy()
    for _ in range(30):
        preferences = distance_preferences(obstacles, positions, dist_of(goals), rng)
        fast = shielded_actions(obstacles, positions, preferences, priorities)
        assert fast.tolist() == shielded_actions_reference(obstacles, positions, preferences, priorities).tolist()
        assert_conflict_free(obstacles, positions, fast)
        positions = positions + STEPS[fast]
        at_goal = (positions == goals).all(1)
        goals[at_goal] = free[rng.choice(len(free), int(at_goal.sum()))]
        priorities = update_priorities(priorities, at_goal, ties)


@pytest.mark.parametrize("text, positions, preferences, priorities, expected", [
    # one agent: its first free candidate (up is off the grid, so down)
    (".\n.", [(0, 0)], [[1, 2, 3, 4, 0]], [0.0], [2]),
    # boxed in: no free neighbour, it stays whatever it prefers
    ("###\n#.#\n###", [(1, 1)], [[1, 2, 3, 4, 0]], [1.0], [0]),
    # a full 2x2 grid: agent 3 goes up, agent 1 (pushed) left, agent 0 down, agent 2 into 3's cell: a rotation
    ("..\n..", [(0, 0), (0, 1), (1, 0), (1, 1)], [[4, 2, 1, 3, 0]] * 4, [1.0, 2.0, 3.0, 4.0], [2, 3, 4, 1]),
    # a full 1x3 corridor: the middle agent cannot move without a swap, so nobody moves
    ("...", [(0, 0), (0, 1), (0, 2)], [[4, 3, 0, 1, 2]] * 3, [1.0, 3.0, 2.0], [0, 0, 0]),
    # a corridor on the map's edge: agent 1 (top priority) pushes agent 0 ahead of it to the right
    ("...", [(0, 1), (0, 0)], [[3, 4, 0, 1, 2], [4, 0, 1, 2, 3]], [1.0, 2.0], [4, 4]),
    # equal priorities plan in index order: agent 0 takes the shared cell first, agent 1 then waits
    ("...", [(0, 0), (0, 2)], [[4, 0, 1, 2, 3], [3, 0, 1, 2, 4]], [5.0, 5.0], [4, 0]),
    # a pushed agent with no way out fails; its parent backtracks to its next candidate
    ("#.##\n....", [(1, 0), (1, 1), (0, 1)], [[4, 0, 1, 2, 3], [1, 4, 0, 2, 3], [2, 0, 1, 3, 4]],
     [3.0, 2.0, 1.0], [4, 4, 0]),
])
def test_scripted_worlds_both_paths(text, positions, preferences, priorities, expected):
    args = grid(text), np.array(positions), np.array(preferences), np.array(priorities)
    assert shielded_actions_reference(*args).tolist() == expected
    assert shielded_actions(*args).tolist() == expected


def test_the_planning_order_is_numpys_stable_descending_order():
    # the kernel's radix sort against np.argsort(-p, kind="stable"): ties, -0.0 and 0.0, infinities, NaN last
    rng = np.random.default_rng(4)
    special = [0.0, -0.0, 1.0, -1.0, np.nan, np.inf, -np.inf, 0.5, 1e300, -1e-300]
    for trial in range(300):
        n = int(rng.integers(0, 300))
        p = (rng.choice(special, n) if trial % 3 == 0 else rng.integers(0, 4, n).astype(float) if trial % 3 == 1
             else rng.normal(0, 50, n))
        assert _descending(p).tolist() == np.argsort(-p, kind="stable").tolist()


def test_no_agents():
    args = grid("..."), np.zeros((0, 2), int), np.zeros((0, 5), int), np.zeros(0)
    assert shielded_actions(*args).tolist() == shielded_actions_reference(*args).tolist() == []


def test_the_grids_are_left_clear_between_calls():
    # a call on a crowded world, then one agent alone on the same grid size: nothing left reserved
    obstacles = grid("...\n...")
    full = np.array([(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)])
    shielded_actions(obstacles, full, np.tile([4, 2, 1, 3, 0], (6, 1)), np.arange(6.0))
    assert shielded_actions(obstacles, np.array([(0, 0)]), np.array([[4, 0, 1, 2, 3]]), np.zeros(1)).tolist() == [4]


@pytest.mark.parametrize("tie_seed", [None, 5])
def test_ranking_from_the_tables_is_the_reference_ranking_with_the_same_draws(tie_seed):
    # two regions (goals out of reach rank the stay first, then every reachable move, unreachable ones last);
    # agents on every edge (off-grid candidates read cell (0, 0), as candidate_cells does)
    rng = np.random.default_rng(2)
    obstacles = rng.random((9, 7)) < 0.3
    obstacles[:, 3] = True
    free = np.argwhere(~obstacles)
    positions, goals = free[rng.choice(len(free), 20, replace=False)], free[rng.integers(len(free), size=20)]
    cache = DistanceCache()
    fast_rng, ref_rng = (np.random.default_rng(tie_seed), np.random.default_rng(tie_seed)) if tie_seed else (None,) * 2
    fast = cache.ranking(obstacles, positions, goals, tie_keys(20, fast_rng))
    r, c, _ = candidate_cells(obstacles, positions)
    assert fast.tolist() == rank_by_distance(cache.at(obstacles, goals, r, c), obstacles.size, ref_rng).tolist()
    if tie_seed:
        assert fast_rng.random() == ref_rng.random()          # the same number of draws
    assert fast.tolist() == distance_preferences(obstacles, positions, cache.tables(obstacles, goals.tolist()),
                                                 np.random.default_rng(tie_seed) if tie_seed else None).tolist()


def test_ranking_on_an_int32_store_with_negative_unreachable_cells():
    # maps of 65,535 free cells or more keep int32 tables (UNREACHABLE = -1): the same ranking
    obstacles = grid("..#..\n..#..\n.....\n####.")
    positions, goals = np.array([(0, 0), (0, 4), (3, 4), (2, 2)]), np.array([(1, 1), (0, 3), (0, 0), (3, 0)])
    dist = bfs_distances_many(obstacles, goals).astype(np.int32)                  # (A, R, C), -1: unreachable
    offsets = np.arange(len(goals)) * obstacles.size
    ties = np.random.default_rng(3).integers(0, 2, (4, 5)).astype(float)   # equal (distance, tie): stable order
    fast = distance_ranking(obstacles, positions, np.array([1, 2, 3, 4, 0]), dist.reshape(-1), offsets, -1, ties)
    r, c, _ = candidate_cells(obstacles, positions)
    draws = type("Draws", (), {"random": lambda self, shape: ties})()                # an rng that draws `ties`
    reference = rank_by_distance(dist[np.arange(4)[:, None], r, c], obstacles.size, draws)
    assert fast.tolist() == reference.tolist()
    # agent 3's goal is an obstacle: it stays first, then its moves by tie, then in candidate order
    assert fast.tolist() == [[2, 4, 3, 0, 1], [3, 0, 2, 4, 1], [2, 4, 1, 0, 3], [0, 1, 4, 2, 3]]


def test_bad_input_is_refused_before_the_kernel_reads_it():
    obstacles = grid("...")
    with pytest.raises(ValueError, match="positions must lie on the 1x3 grid"):
        plan_moves(obstacles, np.array([(0, 3)]), np.array([[0, 1, 2, 3, 4]]), np.zeros(1))
    with pytest.raises(ValueError, match="preferences must be action codes 0..4"):
        plan_moves(obstacles, np.array([(0, 0)]), np.array([[0, 1, 2, 3, 5]]), np.zeros(1))
    with pytest.raises(ValueError, match=r"1 positions but \{'priorities': 2\} rows"):
        plan_moves(obstacles, np.array([(0, 0)]), np.array([[0, 1, 2, 3, 4]]), np.zeros(2))
    with pytest.raises(ValueError, match=r"ties \(1, 4\) for 5 candidates"):
        distance_ranking(obstacles, np.array([(0, 0)]), np.arange(5), np.zeros(3, np.uint16), np.zeros(1, int), 9,
                         np.zeros((1, 4)))


TEXT = "........\n.#..#...\n........\n.##..#..\n........\n...#....\n.#......\n........"


def _pogema(on_target: str, seeds: list[int], agents: int = 12) -> PogemaBatchedEnv:
    config = EnvConfig(map_name=None, grid=TEXT, num_agents=agents, on_target=on_target,
                       reward="lifelong" if on_target == "restart" else "dense", collision_system="soft",
                       obs_radius=2, max_episode_steps=48)
    env = PogemaBatchedEnv(config, num_envs=len(seeds), auto_reset=False)
    for e, s in enumerate(seeds):
        env.reset_env(e, task_for_seed(env.resolved, 0, s))
    return env


@pytest.mark.parametrize("on_target, shield, steps_moves, batch_agents", [
    ("restart", False, (48, 1647), 4096), ("finish", False, (16, 234), 4096), ("restart", True, (48, 1299), 4096),
    ("restart", False, (48, 1647), 20)])                          # 20: batches of one 12-agent env
def test_whole_pogema_episodes_identical_actions_both_paths(on_target, shield, steps_moves, batch_agents,
                                                            monkeypatch):
    """PIBT plays three whole pogema episodes (its own ranking, or a random policy ranking through the shield);
    the reference planner, fed the same states and streams, chooses the same actions at every step, and no
    move is ever blocked or in conflict (finish: all 36 agents arrive by step 16)."""
    monkeypatch.setattr("planners.pibt.BATCH_AGENTS", batch_agents)
    seeds = [0, 1, 2]
    env = _pogema(on_target, seeds)
    fast, reference = PIBTPlanner(), PIBTPlanner(reference=True)
    streams = {p: [np.random.default_rng(s) for s in seeds] for p in (fast, reference)}
    for planner in (fast, reference):
        planner.reset(3, 12, streams[planner])
    policy = np.random.default_rng(9)
    steps, moves = 0, 0
    while not env.frozen.all():
        preferences = np.array([policy.permutation(5) for _ in range(36)]) if shield else None
        actions = fast.actions(env, streams[fast], preferences)
        assert actions.tolist() == reference.actions(env, streams[reference], preferences).tolist()
        before, active = env.positions.numpy().copy(), env.active.numpy().copy()
        env.step(torch.from_numpy(actions))
        for e, moved in enumerate(actions.reshape(3, 12)):
            live = active[e]
            assert (env.positions.numpy()[e][live] == before[e][live] + STEPS[moved[live]]).all(), "blocked"
            assert_conflict_free(grid(TEXT), before[e][live], moved[live])
        steps, moves = steps + 1, moves + int((actions != 0).sum())
    assert (steps, moves) == steps_moves


def test_envs_planned_together_choose_what_each_env_alone_chooses():
    # three envs on one map, their agents on the same cells (other layers of the grids): one call, the same
    # actions and the same draws as three calls
    rng = np.random.default_rng(6)
    obstacles = rng.random((10, 10)) < 0.2
    free = np.argwhere(~obstacles)
    counts = [30, 1, 45]
    positions = np.concatenate([free[rng.choice(len(free), n, replace=False)] for n in counts])
    goals = free[rng.choice(len(free), sum(counts))]
    priorities = rng.integers(0, 3, sum(counts)).astype(float)
    first = rng.integers(0, 5, sum(counts))
    planner = PIBTPlanner()
    for chosen in (None, first):
        together = planner.plan_envs(obstacles, positions, goals, priorities,
                                     [np.random.default_rng(s) for s in range(3)], counts, first=chosen)
        bounds = np.cumsum(counts)[:-1]
        alone = [planner.plan(obstacles, *rows, np.random.default_rng(s), first=None if chosen is None else f)
                 for s, (*rows, f) in enumerate(zip(*(np.split(a, bounds) for a in (positions, goals, priorities,
                                                                                    first))))]
        assert together.tolist() == np.concatenate(alone).tolist()
        assert together.tolist() == PIBTPlanner(reference=True).plan_envs(
            obstacles, positions, goals, priorities, [np.random.default_rng(s) for s in range(3)], counts,
            first=chosen).tolist()


def test_the_benchmark_times_both_planners_on_the_same_states(tmp_path):
    """`srmt bench planner` at 64 agents, 2 states x 1 round: both planners, identical moves, the result file."""
    import json

    from benchmarks import bench_planner
    from cli.main import main

    case = bench_planner.measure(64, 2, 1)
    assert case["map"] == "Berlin_1_256_00" and case["identical_moves"] and case["moves_per_state"] > 0
    assert all(case[p]["agent_steps_per_s"] > 0 and len(case[p]["round_cpu_s"]) == 1 for p in bench_planner.PATHS)
    assert bench_planner.missed_targets([case]) == []                       # targets apply at 16,384 agents
    slow = {**case, "agents": 16384, "speedup": 3.0, "fast": {"agent_steps_per_s": 5}}
    assert len(bench_planner.missed_targets([slow])) == 2
    out = tmp_path / "planner.json"
    assert main(["bench", "planner", "--agents", "64", "--steps", "2", "--rounds", "1", "--envs", "3", "4",
                 "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert [c["agents"] for c in record["figures"]["cases"]] == [64] and "jit_warmup" in record["figures"]
    loop = record["figures"]["envs"]
    assert (loop["envs"], loop["agents"], loop["identical_moves"]) == (3, 4, True)
    assert loop["fast"]["cpu_s"] >= 0 and loop["reference"]["cpu_s"] >= 0   # 2 steps of 3 x 4 agents: can read 0.0


def test_the_benchmark_refuses_an_agent_count_its_map_cannot_hold(capsys):
    from cli.main import main

    assert main(["bench", "planner", "--agents", "64", "30000"]) == 2
    assert "has room for 21401 agents" in capsys.readouterr().err
