"""The batched row contract, observations against an independent BFS, metrics against pogema's own."""
from collections import deque

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from pogema import pogema_v0

from envs.backends import BACKENDS, make_backend
from envs.config import EnvConfig, resolve_config
from envs.observation import Observer
from envs.pogema_backend import make_grid_config
from envs.single import SingleEnv
from envs.task import Task

MOVES = [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)]
EVERY_BACKEND = pytest.mark.parametrize("backend", sorted(BACKENDS))
"""The contract tests run on every registered backend (envs.backends.BACKENDS)."""


def random_grid(rng, rows=10, cols=12, density=0.3) -> str:
    cells = rng.random((rows, cols)) < density
    return "\n".join("".join("#" if c else "." for c in row) for row in cells)


def reference_path_window(obstacles, pos, goal, radius):
    """Independent path channel: deque BFS from the goal, then walk with the up/down/left/right tie order."""
    rows, cols = obstacles.shape
    dist = {goal: 0}
    queue = deque([goal])
    while queue:
        r, c = queue.popleft()
        for dr, dc in MOVES[1:]:
            n = (r + dr, c + dc)
            if 0 <= n[0] < rows and 0 <= n[1] < cols and not obstacles[n] and n not in dist:
                dist[n] = dist[(r, c)] + 1
                queue.append(n)
    window = np.zeros((2 * radius + 1, 2 * radius + 1))
    if pos not in dist:
        return window
    cur = pos
    while dist[cur] > 0:
        cur = next((cur[0] + dr, cur[1] + dc) for dr, dc in MOVES[1:] if dist.get((cur[0] + dr, cur[1] + dc)) == dist[cur] - 1)
        wr, wc = cur[0] - pos[0] + radius, cur[1] - pos[1] + radius
        if not (0 <= wr <= 2 * radius and 0 <= wc <= 2 * radius):
            break
        window[wr, wc] = 1
    return window


@pytest.mark.parametrize("radius", [1, 2, 5])
def test_path_channel_matches_an_independent_bfs(radius):
    rng = np.random.default_rng(radius)
    checked = 0
    for _ in range(20):
        obstacles = rng.random((9, 11)) < 0.3
        free = np.argwhere(~obstacles)
        picks = free[rng.choice(len(free), size=6, replace=False)]
        positions, goals = picks[:3], picks[3:]
        observer = Observer([obstacles], radius, num_envs=1, num_agents=3)
        observer.set_goals(0, goals)
        obs, _ = observer.observe(torch.tensor(positions)[None], torch.tensor(goals)[None], torch.ones(1, 3, dtype=torch.bool))
        for a in range(3):
            expected = reference_path_window(obstacles, tuple(positions[a]), tuple(goals[a]), radius)
            path = (obs[a, 0] == 1).numpy()
            np.testing.assert_array_equal(path, expected)
            checked += expected.sum()
    assert checked > 50  # the maps really had paths through the windows


@EVERY_BACKEND
def test_obstacle_channel_matches_pogema_window(backend):
    rng = np.random.default_rng(3)
    grid = random_grid(rng)
    cfg = EnvConfig(grid=grid, num_agents=4, obs_radius=3, collision_system="soft", reward="sparse", seed=5)
    env = make_backend(backend, cfg, num_envs=1)
    obs, _ = env.reset()
    reference = pogema_v0(make_grid_config(env.resolved, env.tasks[0]))
    ref_obs, _ = reference.reset()
    for a in range(4):
        ours = obs[a, 0].clone()
        ours[ours == 1] = 0  # path cells are free cells
        np.testing.assert_array_equal(-ours.numpy(), ref_obs[a]["obstacles"])
        np.testing.assert_array_equal(obs[a, 1].numpy(), ref_obs[a]["agents"])


@EVERY_BACKEND
def test_rows_are_agent_major_across_reset_and_auto_reset(backend):
    cfg = EnvConfig(map_pattern=r"bottleneck-(3|4|5)", max_episode_steps=3, seed=11)
    batched = make_backend(backend, cfg, num_envs=3)
    obs, _ = batched.reset()
    rng = np.random.default_rng(0)
    for step in range(7):  # crosses two auto-resets
        tasks = list(batched.tasks)
        single = [make_backend(backend, cfg, 1, task_source=lambda e, t=t: t) for t in tasks]
        for e, env in enumerate(single):
            env.reset()
            env.positions.copy_(batched.positions[e:e + 1])
            env.active.copy_(batched.active[e:e + 1])
            np.testing.assert_array_equal(env.observe().numpy(), obs[2 * e:2 * e + 2].numpy(),
                                          err_msg=f"env {e} rows differ at step {step}")
        actions = torch.tensor(rng.integers(0, 5, size=6))
        obs, _, terminated, truncated, infos = batched.step(actions)
        ended = infos["ended"]
        assert (terminated | truncated).tolist() == ended.repeat_interleave(2).tolist()
        if step % 3 == 2:
            assert ended.all() and (batched.steps == 0).all()


@EVERY_BACKEND
def test_episode_seeds_are_reproducible(backend):
    cfg = EnvConfig(map_pattern=r"bottleneck-(3|4|5|6)", seed=3)
    a, b = make_backend(backend, cfg, 4), make_backend(backend, cfg, 4)
    oa, _ = a.reset()
    ob, _ = b.reset()
    assert torch.equal(oa, ob) and a.tasks == b.tasks
    assert a.tasks[0].seed == 3 and a.tasks[1].seed == 4


@EVERY_BACKEND
@pytest.mark.parametrize("on_target", ["finish", "restart", "nothing"])
def test_metrics_agree_with_pogema_wrappers(backend, on_target):
    rng = np.random.default_rng(7)
    grid = random_grid(rng, 8, 8, 0.2)
    reward = "lifelong" if on_target == "restart" else "sparse"
    cfg = EnvConfig(grid=grid, num_agents=6, on_target=on_target, reward=reward, max_episode_steps=40,
                    collision_system="block_both", seed=2)
    env = make_backend(backend, cfg, num_envs=1)
    env.reset()
    reference = pogema_v0(make_grid_config(env.resolved, env.tasks[0]))
    reference.reset()
    for _ in range(40):
        actions = rng.integers(0, 5, size=6)
        _, _, terminated, truncated, infos = env.step(torch.tensor(actions))
        _, _, ref_term, ref_trunc, ref_infos = reference.step(actions.tolist())
        assert bool(infos["ended"][0]) == (all(ref_term) or all(ref_trunc))
        if infos["ended"][0]:
            ours = {k: v[0].item() for k, v in infos["metrics"].items()}
            theirs = ref_infos[0]["metrics"]
            for key in ("CSR", "ISR", "avg_throughput", "makespan"):
                if key in theirs:
                    assert ours[key] == pytest.approx(theirs[key]), key
            break


def test_gymnasium_env_checker_passes_on_the_single_env():
    with pytest.warns(UserWarning, match="unconventional shape"):
        check_env(SingleEnv(EnvConfig(map_name="bottleneck-4")), skip_render_check=True)


@EVERY_BACKEND
def test_explicit_task_source_is_used(backend):
    cfg = EnvConfig(map_pattern=r"bottleneck-(3|4)")
    resolved = resolve_config(cfg)
    env = make_backend(backend, cfg, 2, task_source=lambda e: Task(map_index=e, seed=100 + e))
    env.reset()
    assert [resolved.maps[t.map_index].name for t in env.tasks] == [m.name for m in resolved.maps]


@EVERY_BACKEND
def test_map_markers_restrict_random_starts_and_goals_like_the_benchmark(backend):
    grid = "@@.$$\n@@.$$"  # '@' possible starts, '$' possible goals, '.' both
    cfg = EnvConfig(grid=grid, num_agents=3, on_target="restart", reward="lifelong",
                    collision_system="soft", obs_radius=1)
    for seed in range(10):
        env = make_backend(backend, cfg.replace(seed=seed), num_envs=1)
        env.reset()
        assert (env.positions[0, :, 1] <= 2).all() and (env.goals[0, :, 1] >= 2).all()
