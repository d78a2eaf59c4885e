"""PIBT: exact moves on scripted grids, conflict-freedom on random ones, and the agent on pogema."""
import numpy as np
import torch

from agents.pibt import PIBTAgent
from planners.pibt import pibt_actions, update_priorities
from envs.config import EnvConfig
from envs.observation import MOVES
from planners.pathfinding import bfs_distances_many
from envs.pogema_backend import PogemaBatchedEnv

STEP = MOVES.numpy()  # action code -> (d_row, d_col)


def grid(text: str) -> np.ndarray:
    return np.array([[ch == "#" for ch in line] for line in text.split("\n")])


def step(text: str, positions, goals, priorities):
    """PIBT actions (deterministic ties) for agents at `positions` heading to `goals`."""
    obstacles = grid(text)
    return pibt_actions(obstacles, np.array(positions), bfs_distances_many(obstacles, np.array(goals)),
                        np.array(priorities, dtype=float)).tolist()


def test_priority_inheritance_pushes_the_blocking_agent_ahead():
    # Agent 1 sits on its goal in the way of agent 0: it inherits agent 0's priority and moves on.
    assert step("....", [(0, 0), (0, 1)], [(0, 3), (0, 1)], [2.0, 1.0]) == [4, 4]


def test_backtracking_when_the_pushed_agents_first_choice_is_a_dead_end():
    # Agent 1 wants the pocket above it, but agent 2 is stuck there (its only way out is agent 1's
    # cell): agent 2 fails, agent 1 backtracks to its next candidate and both 0 and 1 move right.
    text = "#.##\n...."
    assert step(text, [(1, 0), (1, 1), (0, 1)], [(1, 3), (0, 1), (0, 1)], [3.0, 2.0, 1.0]) == [4, 4, 0]


def test_backtracking_to_the_planners_second_candidate():
    # Agent 0 has two equally short ways round the wall and tries 'up' first. Without agent 2,
    # agent 1 is pushed up ahead of it; with agent 2 staying on its goal, agent 1 has nowhere to
    # go (no swap into agent 0's cell), so agent 0 backtracks and goes left.
    text = "...\n.#.\n..."
    assert step(text, [(2, 2), (1, 2)], [(0, 0), (2, 0)], [2.0, 1.0]) == [1, 1]
    assert step(text, [(2, 2), (1, 2), (0, 2)], [(0, 0), (2, 0), (0, 2)], [2.0, 1.0, 3.0]) == [3, 0, 0]


def test_head_on_in_a_corridor_the_lower_priority_agent_steps_into_the_pocket():
    text = "##.##\n....."
    positions, goals = [(1, 1), (1, 2)], [(1, 4), (1, 0)]
    assert step(text, positions, goals, [2.0, 1.0]) == [4, 1]
    # Next step agent 0 passes on and agent 1 follows into the cell it leaves.
    assert step(text, [(1, 2), (0, 2)], goals, [3.0, 2.0]) == [4, 2]


def test_unreachable_goal_ranks_last_and_the_agent_still_makes_room():
    # Agent 0's goal (0, 4) is cut off by the wall: it waits unless pushed (alone: it stays).
    # Agent 1 needs agent 0's cell: agent 0 inherits, cannot go back to agent 1's cell, steps right.
    assert step("...#.", [(0, 1), (0, 0)], [(0, 4), (0, 1)], [1.0, 2.0]) == [4, 4]
    assert step("...#.", [(0, 1)], [(0, 4)], [1.0]) == [0]


def test_update_priorities():
    # agents at their goal drop to their tie-breaker (0.5, 0.0), the other one gains 1 (3.5 -> 4.5)
    new = update_priorities(np.array([0.25, 3.5, 7.0]), np.array([True, False, True]), np.array([0.5, 0.75, 0.0]))
    assert new.tolist() == [0.5, 4.5, 0.0]


def reachable_cell(obstacles: np.ndarray, cell, rng: np.random.Generator) -> tuple[int, int]:
    reach = bfs_distances_many(obstacles, np.array([cell]))[0]
    options = np.argwhere(reach > 0)
    return tuple(options[rng.integers(len(options))]) if len(options) else tuple(cell)


def test_random_grids_are_conflict_free_and_goals_get_reached():
    rng = np.random.default_rng(0)
    size, agents, reached = 12, 20, 0
    for trial in range(20):
        obstacles = rng.random((size, size)) < 0.3
        free = np.argwhere(~obstacles)
        pos = free[rng.choice(len(free), agents, replace=False)]
        goals = np.array([reachable_cell(obstacles, p, rng) for p in pos])
        ties = rng.permutation(agents) / agents
        prio = ties.copy()
        ties_rng = rng if trial % 2 else None
        for _ in range(30):
            dist = bfs_distances_many(obstacles, goals)
            actions = pibt_actions(obstacles, pos, dist, prio, ties_rng)
            nxt = pos + STEP[actions]
            assert ((nxt >= 0) & (nxt < size)).all(), "moved off the grid"
            assert not obstacles[nxt[:, 0], nxt[:, 1]].any(), "moved into an obstacle"
            assert len({tuple(c) for c in nxt}) == agents, "vertex conflict"
            came_from = {tuple(c): i for i, c in enumerate(pos)}
            for i, c in enumerate(nxt):
                j = came_from.get(tuple(c))
                assert j is None or j == i or tuple(nxt[j]) != tuple(pos[i]), "swap"
            pos = nxt
            at_goal = (pos == goals).all(1)
            reached += int(at_goal.sum())
            for i in np.nonzero(at_goal)[0]:
                goals[i] = reachable_cell(obstacles, pos[i], rng)
            prio = update_priorities(prio, at_goal, ties)
    assert reached == 1022  # goals reached over the 20 seeded trials x 20 agents x 30 steps


def play(seed: int) -> tuple[list[list[int]], float]:
    """Actions of a PIBTAgent over a 64-step lifelong episode on 2 pogema envs, and the total reward (goals
    reached); checks every step."""
    text = "......\n.#..#.\n......\n.##...\n......\n...#.."
    config = EnvConfig(map_name=None, grid=text, num_agents=6, on_target="restart", reward="lifelong",
                       collision_system="soft", obs_radius=5, max_episode_steps=64, seed=seed)
    env = PogemaBatchedEnv(config, num_envs=2, auto_reset=False)
    obs, _ = env.reset()
    agent = PIBTAgent(seed=0)
    agent.reset(2, 6, [seed, seed + 1])
    total, trajectory = 0.0, []
    for _ in range(64):
        before = env.positions.clone()
        actions = agent.act(obs, env)
        assert actions.dtype == torch.long and actions.shape == (12,)
        obs, rew, _, _, _ = env.step(actions)
        assert torch.equal(env.positions, before + MOVES[actions].reshape(2, 6, 2)), "a move was blocked"
        total += float(rew.sum())
        trajectory.append(actions.tolist())
    assert env.frozen.all() and agent.act(obs, env).eq(0).all()
    return trajectory, total


def test_pibt_agent_on_pogema_is_never_blocked_reaches_goals_and_is_reproducible():
    trajectory, total = play(3)
    assert play(3) == (trajectory, total)
    assert total == 136.0  # goals reached on the two envs (lifelong reward: 1 per goal)
