"""Guided PIBT (planners/guided_pibt.py): the escape search on scripted grids, the guidance's order, PIBT
itself with both switches off, conflict-free and reproducible on real pogema steps, the budget refusal,
and the expert/shield registry."""
import numpy as np
import pytest
import torch

from agents import make_agent
from agents.guided_pibt import GuidedPIBTAgent
from agents.pibt import PIBTAgent
from envs.config import EnvConfig
from envs.observation import MOVES
from envs.pogema_backend import PogemaBatchedEnv
from envs.task import task_for_seed
from planners.congestion import Guidance, guided_fallbacks, guided_preferences
from planners.escape import escape_plan
from planners.guided_pibt import GuidedPIBTPlanner, PlannerLimitError
from planners.pathfinding import bfs_distances_many
from planners.pibt import DistanceCache, candidate_cells, rank_by_distance
from planners.registry import EXPERTS, SHIELDS, UnknownPlannerError, expert_label, make_expert, make_shield

# A corridor with one pocket (row 0, col 2): the puzzle PIBT livelocks on.
POCKET = "##.##\n.....\n#####"
# 5x5 puzzle-like map: a cross of corridors with dead ends.
PUZZLE = "##.##\n##.##\n.....\n.###.\n#####"


def grid(text: str) -> np.ndarray:
    return np.array([[ch == "#" for ch in row] for row in text.split("\n")])


def test_escape_plan_lets_two_agents_pass_through_the_pocket():
    obstacles = grid(POCKET)
    positions, goals = np.array([[1, 1], [1, 3]]), np.array([[1, 4], [1, 0]])
    dist = bfs_distances_many(obstacles, goals)
    # progress = a goal reached (best 0): agent 0 backs into the pocket, agent 1 passes, 4 steps (the fewest)
    plan = escape_plan(obstacles, positions, goals, dist, stuck=0, best=0)
    assert plan.tolist() == [[[1, 1], [1, 3]], [[1, 2], [1, 3]], [[0, 2], [1, 2]], [[1, 2], [1, 1]], [[1, 3], [1, 0]]]
    # progress = agent 0 nearer its goal than its best, 3: one step right
    one_step = escape_plan(obstacles, positions, goals, dist, stuck=0, best=3)
    assert one_step.tolist() == [[[1, 1], [1, 3]], [[1, 2], [1, 3]]]
    for before, after in zip(plan[:-1], plan[1:]):
        assert len({tuple(c) for c in after}) == 2
        assert not (after[0].tolist() == before[1].tolist() and after[1].tolist() == before[0].tolist())
        assert (np.abs(after - before).sum(1) <= 1).all() and not obstacles[after[:, 0], after[:, 1]].any()


def test_escape_plan_gives_up_within_its_budget_when_no_progress_exists():
    obstacles = grid("#####\n.....\n#####")                   # no pocket: they can never pass
    positions, goals = np.array([[1, 1], [1, 3]]), np.array([[1, 4], [1, 0]])
    dist = bfs_distances_many(obstacles, goals)
    assert escape_plan(obstacles, positions, goals, dist, stuck=0, best=0) is None


def test_guidance_orders_equally_near_cells_by_traffic_and_never_prefers_waiting():
    obstacles = np.zeros((3, 3), dtype=bool)
    # agent 0 at (0, 0) to (2, 2): down and right are equally near; agent 1 at (1, 0) stands below it
    positions, goals = np.array([[0, 0], [1, 0]]), np.array([[2, 2], [1, 2]])
    cache = DistanceCache()
    r, c, free = candidate_cells(obstacles, positions)
    dist = cache.at(obstacles, goals, r, c)
    plain = rank_by_distance(dist, obstacles.size)
    guided = guided_preferences(obstacles, goals, cache, dist, r, c, free, Guidance())
    assert plain.tolist() == [[2, 4, 1, 3, 0], [4, 0, 1, 2, 3]]   # down first: ties go to the first direction
    # agent 0: right first (down is occupied); agent 1: right (nearer) still first, then waiting, and of the
    # cells one step farther, down (on agent 0's projected path) and up (occupied) last
    assert guided.tolist() == [[4, 2, 1, 3, 0], [4, 0, 3, 2, 1]]
    assert guided_fallbacks(np.array([[0, 1, 2, 3, 4]]), guided[:1]).tolist() == [[0, 4, 2, 1, 3]]


def _env(text: str, agents: int, seeds, steps: int) -> PogemaBatchedEnv:
    config = EnvConfig(map_name=None, grid=text, num_agents=agents, on_target="restart", reward="lifelong",
                       collision_system="soft", obs_radius=2, max_episode_steps=steps)
    env = PogemaBatchedEnv(config, num_envs=len(seeds), auto_reset=False)
    for e, s in enumerate(seeds):
        env.reset_env(e, task_for_seed(env.resolved, 0, s))
    return env


def _play(agent, text: str, agents: int, seeds, steps: int):
    """Actions and goals reached per step; asserts every step is conflict-free and executed as chosen."""
    env = _env(text, agents, seeds, steps)
    agent.reset(len(seeds), agents, list(seeds))
    obs, goals, chosen = env.observe(), 0, []
    for _ in range(steps):
        before = env.positions.clone()
        actions = agent.act(obs, env)
        obs, reward, *_ = env.step(actions)
        after = env.positions
        assert (after == before + MOVES[actions].reshape(after.shape)).all(), "pogema cancelled a move"
        for b, a in zip(before.tolist(), after.tolist()):
            assert len(set(map(tuple, a))) == len(a), "vertex conflict"
            came_from = {tuple(cell): i for i, cell in enumerate(b)}
            assert all(came_from.get(tuple(cell), i) == i or a[came_from[tuple(cell)]] != b[i]
                       for i, cell in enumerate(a)), "swap conflict"
        goals += int((reward >= 1).sum())
        chosen.append(actions.tolist())
    return chosen, goals


@pytest.mark.parametrize("guidance, escape", [(True, True), (False, True), (True, False)])
def test_guided_pibt_on_pogema_is_conflict_free_and_reproducible(guidance, escape):
    first = _play(GuidedPIBTAgent(seed=3, guidance=guidance, escape=escape), PUZZLE, 3, [0, 1], 64)
    again = _play(GuidedPIBTAgent(seed=3, guidance=guidance, escape=escape), PUZZLE, 3, [0, 1], 64)
    assert first == again


def test_escape_beats_pibt_livelock_on_a_puzzle():
    """Goals reached by 3 agents in 4 episodes of 64 steps on PUZZLE: PIBT livelocks, guided PIBT does not."""
    _, pibt = _play(PIBTAgent(seed=0), PUZZLE, 3, [0, 1, 2, 3], 64)
    _, guided = _play(GuidedPIBTAgent(seed=0), PUZZLE, 3, [0, 1, 2, 3], 64)
    assert (pibt, guided) == (16, 156)


def test_both_switches_off_is_pibt_action_for_action():
    text = "........\n.#..#...\n........\n.##..#..\n........\n...#....\n.#......\n........"
    plain, _ = _play(PIBTAgent(seed=1), text, 16, [0, 1], 48)
    off, _ = _play(GuidedPIBTAgent(seed=1, guidance=False, escape=False), text, 16, [0, 1], 48)
    assert plain == off


def test_a_map_whose_tables_exceed_the_budget_is_refused_before_the_first_move():
    env = _env(PUZZLE, 3, [0], 8)
    planner = GuidedPIBTPlanner(budget_bytes=2 * 25 * 2)          # two uint16 tables of the 5x5 map
    planner.reset(1, 3, [np.random.default_rng(0)])
    with pytest.raises(PlannerLimitError, match=r"3 agents on a 5x5 map may need 3 tables .* at most 2 agents"):
        planner.actions(env, [np.random.default_rng(0)])
    assert env.steps.tolist() == [0]


def test_registry_names_and_unknown_names():
    assert list(EXPERTS) == ["pibt", "guided-pibt"] and SHIELDS == ("pibt", "guided-pibt")
    assert expert_label("pibt") == "PIBT" and expert_label("guided-pibt") == "GuidedPIBT"
    assert isinstance(make_expert("guided-pibt"), GuidedPIBTPlanner)
    assert make_shield("guided-pibt").escape is False
    with pytest.raises(UnknownPlannerError, match="unknown expert 'lacam'; the experts are: pibt, guided-pibt"):
        make_expert("lacam")
    with pytest.raises(UnknownPlannerError, match="unknown shield 'x'; the shields are: pibt, guided-pibt"):
        make_shield("x")


def test_guided_pibt_is_an_algorithm():
    agent = make_agent("guided-pibt", seed=2)
    assert isinstance(agent, GuidedPIBTAgent) and agent.name == "GuidedPIBT" and agent.seed == 2
    assert torch.is_tensor(agent.act(*_first_step(agent)))


def _first_step(agent):
    env = _env(PUZZLE, 2, [0], 8)
    agent.reset(1, 2, [0])
    return env.observe(), env
