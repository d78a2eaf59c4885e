"""TorchBatchedEnv's interface: the batched row contract, devices, errors, evaluation mode, tasks."""
import numpy as np
import pytest
import torch
from gymnasium.error import ResetNeeded

from envs.config import EnvConfig, resolve_config
from envs.errors import EnvConfigError
from envs.pogema_backend import PogemaBatchedEnv, make_pogema
from envs.task import Task, task_for_seed
from common.device import resolve_device
from envs.torch_backend import TorchBatchedEnv
from envs.torch_backend.lifelong import TaskCells
from maps.synthetic import maze_grid, random_grid

BOTTLENECK = EnvConfig(map_pattern=r"bottleneck-(3|4|5)", max_episode_steps=3, seed=11)


def test_shapes_dtypes_and_spaces_match_the_pogema_backend():
    torch_env, ref = TorchBatchedEnv(BOTTLENECK, 3), PogemaBatchedEnv(BOTTLENECK, 3)
    obs, info = torch_env.reset()
    assert info == {} and obs.shape == (6, 3, 5, 5) and obs.dtype == torch.float32
    assert torch_env.observation_space == ref.observation_space and torch_env.action_space == ref.action_space
    assert (torch_env.num_envs, torch_env.num_agents, torch_env.num_rows) == (3, 2, 6)
    obs, rewards, terminated, truncated, infos = torch_env.step(torch.zeros(6, dtype=torch.long))
    assert rewards.shape == terminated.shape == truncated.shape == (6,)
    assert rewards.dtype == torch.float32 and terminated.dtype == truncated.dtype == torch.bool
    assert infos["ended"].shape == (3,) and set(infos["metrics"]) == set(torch_env.metric_names)
    assert all(v.shape == (6,) and v.isnan().all() for v in infos["metrics"].values())


def test_outputs_and_state_are_ordinary_tensors():
    """The step runs in inference mode; what leaves it works in autograd and takes in-place edits."""
    env = TorchBatchedEnv(BOTTLENECK, 3)
    obs, _ = env.reset()
    outputs = [obs]
    for _ in range(4):                                          # crosses an episode end
        obs, rewards, terminated, truncated, infos = env.step(torch.ones(6, dtype=torch.long))
        outputs += [obs, rewards, terminated, truncated, infos["ended"], *infos["metrics"].values()]
    outputs += [env.observe(), env.positions, env.goals, env.active, env.steps]
    assert not any(t.is_inference() for t in outputs)
    weights = torch.ones(3 * 5 * 5, requires_grad=True)
    ((obs.flatten(1) @ weights) * rewards * ~terminated).sum().backward()
    assert weights.grad is not None
    obs += 1                                                    # a caller may edit what it got
    env.positions[0, 0] = env.positions[0, 1]
    env.step(torch.zeros(6, dtype=torch.long))


def test_rows_are_agent_major_across_auto_reset():
    batched = TorchBatchedEnv(BOTTLENECK, 3)
    obs, _ = batched.reset()
    rng = np.random.default_rng(0)
    for step in range(7):                                       # crosses two auto-resets
        for e in range(3):
            single = TorchBatchedEnv(BOTTLENECK, 1, task_source=lambda _, t=batched.tasks[e]: t)
            single.reset()
            single.positions.copy_(batched.positions[e:e + 1])
            single.active.copy_(batched.active[e:e + 1])
            assert torch.equal(single.observe(), obs[2 * e:2 * e + 2]), f"env {e} rows differ at step {step}"
        obs, _, terminated, truncated, infos = batched.step(torch.from_numpy(rng.integers(0, 5, size=6)))
        assert (terminated | truncated).tolist() == infos["ended"].repeat_interleave(2).tolist()
        if step % 3 == 2:
            assert infos["ended"].all() and (batched.steps == 0).all()


def test_same_seed_same_tasks_as_the_pogema_backend():
    cfg = EnvConfig(grid=random_grid(4, 9, 9), num_agents=6, on_target="restart", reward="lifelong", seed=3)
    ours, ref = TorchBatchedEnv(cfg, 4), PogemaBatchedEnv(cfg, 4)
    assert torch.equal(ours.reset()[0], ref.reset()[0])
    assert ours.tasks == ref.tasks and ours.tasks[1].seed == 4
    assert torch.equal(ours.positions, ref.positions) and torch.equal(ours.goals, ref.goals)
    assert torch.equal(ours.reset(seed=9)[0], ref.reset(seed=9)[0]) and ours.tasks == ref.tasks


def test_evaluation_mode_freezes_ended_envs_until_reset_env():
    cfg = EnvConfig(map_name="bottleneck-3", max_episode_steps=2)
    env = TorchBatchedEnv(cfg, 2, auto_reset=False)
    env.reset()
    for _ in range(2):
        _, _, _, truncated, infos = env.step(torch.zeros(4, dtype=torch.long))
    assert infos["ended"].tolist() == [True, True] and env.frozen.all()
    frozen_obs = env.observe()
    obs, rewards, terminated, truncated, infos = env.step(torch.ones(4, dtype=torch.long))
    assert torch.equal(obs, frozen_obs) and not rewards.any() and not (terminated | truncated).any()
    assert env.steps.tolist() == [2, 2]
    env.reset_env(1, Task(map_index=0, seed=77))
    assert env.frozen.tolist() == [True, False] and env.steps.tolist() == [2, 0] and env.tasks[1].seed == 77


def test_step_before_reset_and_bad_input_are_errors():
    with pytest.raises(ResetNeeded):
        TorchBatchedEnv(BOTTLENECK, 1).step(torch.zeros(2, dtype=torch.long))
    with pytest.raises(EnvConfigError, match="obs_radius=0"):                 # the one validation function
        TorchBatchedEnv(EnvConfig(obs_radius=0), 1)
    with pytest.raises(ValueError, match="num_envs=0"):
        TorchBatchedEnv(EnvConfig(), 0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match=r"device='cuda'.*not available.*--device cpu"):
        TorchBatchedEnv(EnvConfig(), 1, device="cuda")
    with pytest.raises(ValueError, match="not a torch device"):
        resolve_device("gpu0")


def test_placement_matches_pogema_and_lifelong_goals_match_pogema_sequences():
    rng = np.random.default_rng(0)
    for trial in range(12):
        grid = random_grid(trial, 10, 12) if trial % 2 else maze_grid(trial, rooms=6, loop_fraction=0.1, room=1)
        agents, steps = int(rng.integers(2, 12)), int(rng.integers(20, 200))
        cfg = EnvConfig(grid=grid, num_agents=agents, on_target="restart", reward="lifelong",
                        max_episode_steps=steps, collision_system="soft")
        resolved = resolve_config(cfg)
        task = task_for_seed(resolved, 0, int(rng.integers(1000)))
        env, cells = make_pogema(resolved, task), TaskCells(resolved.maps, agents, steps, cfg.obs_radius)
        starts, goals = cells.starts_goals(task)
        r = cfg.obs_radius
        assert (np.array(env.grid.positions_xy) - r == starts).all()
        assert (np.array(env.grid.finishes_xy) - r == goals).all()
        ours, theirs = cells.goal_sequences(task, starts, goals), env.get_lifelong_targets_xy(ignore_borders=True)
        for a in range(agents):   # pogema's helper stops at cost >= T, ours at cost > T: a prefix either way
            n = min(len(ours[a]), len(theirs[a]))
            assert n >= len(theirs[a]) - 1 and (np.array(theirs[a][:n]) == ours[a][:n]).all()


def test_numpy_facts_the_goal_sequences_rely_on():
    """rng.choice(list, 1) draws like integers(0, n, size=1), and one call of size k like k calls."""
    cells = [(i // 7, i % 7) for i in range(300)]
    a, b, c = (np.random.default_rng(5) for _ in range(3))
    chosen = [tuple(*a.choice(cells, 1)) for _ in range(40)]
    assert chosen == [cells[i] for i in b.integers(0, 300, size=40)]
    assert chosen == [cells[int(c.integers(0, 300, size=1)[0])] for _ in range(40)]


def test_bench_cli_parses_and_runs_small(capsys):
    import argparse

    import benchmarks

    parser = argparse.ArgumentParser(prog="srmt bench")
    benchmarks.add_subparsers(parser.add_subparsers(dest="bench", required=True))
    args = parser.parse_args(["env", "--envs", "2", "--pogema-envs", "2", "--steps", "2", "--pogema-steps", "1",
                              "--warmup", "1", "--cases", "bottleneck", "maze"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "bottleneck" in out and "maze" in out and "x " in out           # a ratio column
    args = parser.parse_args(["env", "--cases", "nope"])
    with pytest.raises(ValueError, match="unknown case"):
        args.func(args)
