"""The torch backend against the pogema backend (real pogema 1.4.0), step by step, bit for bit.

Every collision system x on_target mode, on seeded random maps crowded enough
that agent conflicts are frequent, with short episodes so that auto-resets and
new tasks come often. Both ways of finding conflicts (agent pairs for few
agents, per-env canvases for many) are covered. A longer sweep over more
configs is benchmarks/bench_env_equivalence_sweep.py.
"""
import numpy as np
import pytest
import torch

from envs.config import EnvConfig
from envs.pogema_backend import make_pogema
from envs.torch_backend import TorchBatchedEnv
from envs.torch_backend.lockstep import LockstepStats, lockstep
from maps.synthetic import random_grid

SYSTEMS = ["block_both", "soft", "priority"]
MODES = ["finish", "restart", "nothing"]
# (map seed, rows, cols, agents, obs radius, episode length): small A -> pairwise conflicts, large -> canvas;
# r <= 5 -> stored path windows, r = 6 -> walked each step
LAYOUTS = [(1, 8, 8, 12, 2, 24), (2, 12, 10, 40, 6, 40), (3, 10, 12, 30, 1, 30)]
REWARDS = {"finish": "directional", "nothing": "moving-negative", "restart": "lifelong"}
COUNTS = {("block_both", "finish"): (4115, 89), ("block_both", "restart"): (4506, 165),
          ("block_both", "nothing"): (4506, 580), ("soft", "finish"): (3204, 104), ("soft", "restart"): (3559, 178),
          ("soft", "nothing"): (3559, 584), ("priority", "finish"): (3590, 93), ("priority", "restart"): (3916, 169),
          ("priority", "nothing"): (3916, 523)}
"""(blocked moves, goals reached) of each seeded case below: enough conflicts and goals to test the rules."""


def config(layout, system: str, mode: str) -> EnvConfig:
    seed, rows, cols, agents, radius, length = layout
    return EnvConfig(grid=random_grid(seed, rows, cols, 0.3), num_agents=agents, obs_radius=radius,
                     collision_system=system, on_target=mode, reward=REWARDS[mode],
                     max_episode_steps=length, seed=seed * 7)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("system", SYSTEMS)
def test_torch_backend_matches_pogema_step_by_step(system, mode):
    total = LockstepStats()
    pairwise, stored = [], []
    for i, layout in enumerate(LAYOUTS):
        cfg = config(layout, system, mode)
        observer = TorchBatchedEnv(cfg, 1)._observer
        pairwise.append(observer.pairwise)
        stored.append(observer._path_windows is not None)
        total.add(lockstep(cfg, num_envs=3, steps=80, seed=i))
    assert any(pairwise) and not all(pairwise), "both conflict finders must be exercised"
    assert any(stored) and not all(stored), "both path channel modes must be exercised"
    assert total.env_steps == 3 * 3 * 80
    assert (total.blocked, total.reached) == COUNTS[system, mode], total
    # every episode here runs to its length (on these crowded maps not all agents arrive in finish mode
    # either): 3 envs x (80 // 24 + 80 // 40 + 80 // 30) = 21 end, in every case
    assert total.episodes == 21, f"auto-resets: {total}"


def test_bottleneck_episodes_match():
    """The paper's task: 2 agents, finish, block_both, Bottleneck sampler starts/goals."""
    cfg = EnvConfig(map_pattern=r"bottleneck-(3|4|5)", max_episode_steps=30, reward="dense", seed=4)
    stats = lockstep(cfg, num_envs=8, steps=80, seed=5, stay_prob=0.1)
    assert stats.episodes == 16  # episodes last 30 steps here: 2 end per env in 80 steps, 8 x 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("system", SYSTEMS)
def test_cuda_matches_pogema(system):
    for mode in MODES:
        lockstep(config(LAYOUTS[1], system, mode), num_envs=4, steps=40, seed=1, device="cuda")


def marker_grid(seed: int, rows: int, cols: int) -> str:
    """A random map where some free cells are pogema's '@' (start only), '$' (goal only), '!' (neither)."""
    rng = np.random.default_rng(seed)
    cells = [[c if c == "#" else ".@$!"[rng.choice(4, p=[0.55, 0.2, 0.15, 0.1])] for c in row]
             for row in random_grid(seed, rows, cols, 0.2).split("\n")]
    return "\n".join("".join(row) for row in cells)


def marker_config(seed: int, mode: str, system: str = "soft") -> EnvConfig:
    return EnvConfig(grid=marker_grid(seed, 6, 7), num_agents=4, obs_radius=1, collision_system=system,
                     on_target=mode, reward=REWARDS[mode], max_episode_steps=60, seed=seed)


def test_marker_maps_match_pogema_in_finish_mode():
    """'@'/'$' maps use pogema's other placement (shuffled possible starts and goals)."""
    stats = LockstepStats()
    for seed in range(3):
        stats.add(lockstep(marker_config(seed, "finish", SYSTEMS[seed]), num_envs=4, steps=80, seed=seed))
    # episodes: 60 steps long here, so one ends per env in 80 steps, 3 seeds x 4 envs
    assert (stats.blocked, stats.reached, stats.episodes) == (115, 21, 12)


@pytest.mark.filterwarnings("ignore:The start point")     # pogema: marker placement ignores components
def test_marker_maps_match_pogema_itself_in_restart_mode():
    """Lifelong goals on '@'/'$' maps come from the shuffled possible goals, and pogema redraws
    only when a draw equals the position in bordered coordinates: a new goal may equal the one
    just reached (the agent scores it again by staying). Checked against pogema's own step."""
    repeats, reached = 0, 0
    for seed in range(4):
        cfg = marker_config(seed, "restart", SYSTEMS[seed % 3])
        ours = TorchBatchedEnv(cfg, 3, auto_reset=False)
        ours.reset()
        refs = [make_pogema(ours.resolved, task) for task in ours.tasks]
        rng = np.random.default_rng(seed)
        for _ in range(cfg.max_episode_steps):
            actions = rng.integers(0, 5, size=(3, cfg.num_agents))
            goals_before = ours.goals.clone()
            _, rewards, *_ = ours.step(torch.from_numpy(actions).reshape(-1))
            for e, ref in enumerate(refs):
                _, ref_rewards, *_ = ref.step(actions[e].tolist())
                r = cfg.obs_radius
                assert ours.positions[e].tolist() == (np.array(ref.grid.positions_xy) - r).tolist()
                assert ours.goals[e].tolist() == (np.array(ref.grid.finishes_xy) - r).tolist()
                assert rewards.view(3, -1)[e].tolist() == ref_rewards
            repeats += int(((ours.goals == goals_before).all(dim=2) & (rewards.view(3, -1) > 0)).sum())
            reached += int(rewards.sum())
    assert (reached, repeats) == (19, 1)


@pytest.mark.filterwarnings("ignore:The start point")
def test_marker_maps_match_the_pogema_backend_in_restart_mode():
    stats = LockstepStats()
    for seed in range(3):
        stats.add(lockstep(marker_config(seed, "restart", SYSTEMS[seed]), num_envs=4, steps=80, seed=seed))
    assert (stats.blocked, stats.reached, stats.episodes) == (189, 32, 12)
