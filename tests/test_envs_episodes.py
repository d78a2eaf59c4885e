"""Scripted Bottleneck episodes whose outcome is known by hand (bottleneck-3, 7x9).

    row 0  .........
    row 1  .........
    row 2  ####.####
    row 3  ####.####
    row 4  ####.####
    row 5  .........
    row 6  .........
"""
import pytest
import torch

from envs.backends import BACKENDS, make_backend
from envs.batched import BatchedEnv
from envs.config import EnvConfig

STAY, UP, DOWN, LEFT, RIGHT = range(5)
pytestmark = pytest.mark.parametrize("backend", sorted(BACKENDS))
"""Every scripted episode on every backend: each must give the numbers worked out by hand."""


def make_env(backend: str, starts, goals, **kw) -> BatchedEnv:
    cfg = EnvConfig(map_name="bottleneck-3", starts=starts, goals=goals, **kw)
    env = make_backend(backend, cfg, num_envs=1)
    env.reset()
    return env


def run(env, plan):
    """Step through `plan` (list of per-agent action tuples); return per-step outputs."""
    out = []
    for actions in plan:
        out.append(env.step(torch.tensor(actions)))
    return out


# agent 0 walks down the corridor first; agent 1 waits, then goes up and across to (0, 8).
PASSING_PLAN = [(DOWN, STAY)] * 6 + [(STAY, UP)] + [(STAY, LEFT)] * 4 + [(STAY, UP)] * 5 + [(STAY, RIGHT)] * 4


def test_both_agents_arrive_with_exact_soc(backend):
    env = make_env(backend, starts=((0, 4), (6, 8)), goals=((6, 4), (0, 8)))
    steps = run(env, PASSING_PLAN)
    assert len(steps) == 20
    for t, (_, _, terminated, truncated, infos) in enumerate(steps[:-1]):
        assert not terminated.any() and not truncated.any(), f"ended early at step {t + 1}"
    _, rewards, terminated, truncated, infos = steps[-1]
    assert terminated.tolist() == [True, True] and truncated.tolist() == [False, False]
    metrics = {k: v[0].item() for k, v in infos["metrics"].items()}
    # by hand: agent 0 arrives with its 6th move, agent 1 on the last of the 20 steps: SoC 6 + 20
    assert metrics == {"CSR": 1.0, "ISR": 1.0, "SoC": 26.0, "makespan": 20.0, "ep_length": 20.0}
    # agent 0 arrived on step 6: +1 then, nothing afterwards
    assert steps[5][1].tolist() == [1.0, 0.0]
    assert all(s[1][0].item() == 0.0 for s in steps[6:])
    assert rewards.tolist() == [0.0, 1.0]


def test_arrived_agent_leaves_the_grid_and_gets_a_zero_observation(backend):
    env = make_env(backend, starts=((0, 4), (6, 8)), goals=((6, 4), (0, 8)))
    steps = run(env, PASSING_PLAN[:6])
    obs = steps[-1][0]
    assert env.active[0].tolist() == [False, True]
    assert torch.count_nonzero(obs[0]) == 0
    assert obs[1, 1, 2, 2] == 1.0  # agent 1 still sees itself
    assert obs[1, 1].sum() == 1.0  # and no longer sees agent 0


def test_head_on_deadlock_in_the_corridor(backend):
    env = make_env(backend, starts=((1, 4), (5, 4)), goals=((6, 4), (0, 4)), max_episode_steps=10)
    steps = run(env, [(DOWN, UP)] * 9)
    assert env.positions[0].tolist() == [[2, 4], [4, 4]]  # stuck since step 1: both want (3, 4)
    steps += run(env, [(DOWN, UP)])
    _, _, terminated, truncated, infos = steps[-1]
    assert terminated.tolist() == [False, False] and truncated.tolist() == [True, True]
    metrics = {k: v[0].item() for k, v in infos["metrics"].items()}
    # nobody arrives: each agent costs the episode length, SoC 2 x 10
    assert metrics == {"CSR": 0.0, "ISR": 0.0, "SoC": 20.0, "makespan": 10.0, "ep_length": 10.0}
    # the env restarted: a new episode begins, its step counter at zero
    assert env.steps.tolist() == [0]


# step 1: agent 0 moves onto its path (towards), agent 1 stays;
# step 2: agent 0 moves sideways off its path, agent 1 stays.
REWARD_PLAN = [(DOWN, STAY), (RIGHT, STAY)]


# the shaping values of SPEC section 2 (the table in envs/rewards.py's docstring)
@pytest.mark.parametrize("scheme, towards, sideways, stayed", [
    ("directional", 0.005, 0.0, 0.0),
    ("sparse", 0.0, 0.0, 0.0),
    ("dense", -0.01, -0.01, -0.01),
    ("directional-negative", -0.005, -0.01, -0.01),
    ("moving-negative", -0.01, -0.01, -0.005),
])
def test_reward_schemes_per_step(backend, scheme, towards, sideways, stayed):
    env = make_env(backend, starts=((0, 4), (6, 8)), goals=((6, 4), (0, 8)), reward=scheme)
    (_, r1, *_), (_, r2, *_) = run(env, REWARD_PLAN)
    assert r1.tolist() == pytest.approx([towards, stayed])
    assert r2.tolist() == pytest.approx([sideways, stayed])


@pytest.mark.parametrize("scheme", ["directional", "sparse", "dense", "directional-negative", "moving-negative"])
def test_reaching_the_goal_gives_exactly_one(backend, scheme):
    env = make_env(backend, starts=((5, 4), (6, 8)), goals=((6, 4), (0, 8)), reward=scheme)
    (_, rewards, *_), = run(env, [(DOWN, STAY)])
    assert rewards[0].item() == 1.0


def test_lifelong_restart_counts_goals_in_throughput(backend):
    cfg = EnvConfig(map_name="open-8x8", num_agents=4, on_target="restart", reward="lifelong",
                    max_episode_steps=64, collision_system="soft")
    env = make_backend(backend, cfg, num_envs=1)
    obs, _ = env.reset()
    total = 0.0
    for _ in range(64):
        # greedy: step onto the path channel's first cell (the one neighbour on the path; none at the goal)
        r = cfg.obs_radius
        neighbours = obs[:, 0, [r - 1, r + 1, r, r], [r, r, r - 1, r + 1]] == 1  # (A, 4): up, down, left, right
        actions = torch.where(neighbours.any(dim=1), neighbours.int().argmax(dim=1) + 1, STAY)
        obs, rewards, terminated, truncated, infos = env.step(actions)
        total += rewards.sum().item()
    assert truncated.all() and not terminated.any()
    # regression value recorded from a run (seed 0, not derived): it follows pogema's seeded goal
    # generator and the greedy path follower above; a change in either changes it
    assert total == 43
    assert infos["metrics"]["avg_throughput"][0].item() == pytest.approx(43 / 64)
