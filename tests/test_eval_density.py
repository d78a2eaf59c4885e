"""Records carry pogema-toolbox's `avg_agents_density`: replayed through pogema with its own wrapper."""
import pytest
import torch
from pogema import pogema_v0
from pogema.wrappers.metrics import AgentsDensityWrapper

from agents import RandomAgent
from envs.config import resolve_config
from envs.metrics import agents_density
from envs.pogema_backend import make_grid_config
from envs.task import task_for_seed
from eval.evaluate import evaluate
from eval.runner import env_config
from eval.suites import get_suite


class Recording(RandomAgent):
    """Random actions, kept per step to replay them elsewhere."""

    def __init__(self):
        super().__init__()
        self.actions = []

    def act(self, obs, env):
        actions = super().act(obs, env)
        self.actions.append(actions.clone())
        return actions


def true_density(grid, radius: int) -> float:
    """Mean over agents of agents / non-obstacle cells in the window, from pogema's agent coordinates."""
    xy = [tuple(p) for p in grid.positions_xy]
    values = []
    for x, y in xy:
        window = grid.obstacles[x - radius:x + radius + 1, y - radius:y + radius + 1]
        agents = sum(abs(ax - x) <= radius and abs(ay - y) <= radius for ax, ay in xy)
        values.append(agents / (window.size - window.sum()))
    return sum(values) / len(values)


def replay(agent_cls, backend, tmp_path):
    """Our record of one Mazes episode, and pogema (with pogema-toolbox's wrapper) fed the same actions."""
    suite = get_suite("mazes")
    agent = agent_cls()
    result = evaluate("mazes", agent=agent, maps="validation-mazes-seed-003", agents=[32], seeds=[1],
                      out_dir=tmp_path, workers=1, backend=backend, progress=False)
    (record,) = result.records
    (episode,) = suite.episodes(maps="validation-mazes-seed-003", agents=[32], seeds=[1])
    resolved = resolve_config(env_config(suite, [episode], 5, None))
    env = AgentsDensityWrapper(pogema_v0(grid_config=make_grid_config(resolved, task_for_seed(resolved, 0, 1))))
    env.reset()
    true = [true_density(env.unwrapped.grid, 5)]
    assert len(agent.actions) == episode.max_episode_steps
    for actions in agent.actions:
        _, _, _, truncated, infos = env.step(actions.tolist())
        true.append(true_density(env.unwrapped.grid, 5))
    assert all(truncated)
    return record["metrics"], infos[0]["metrics"], sum(true) / len(true)


class Staying(Recording):
    def act(self, obs, env):
        actions = torch.zeros_like(super().act(obs, env))
        self.actions[-1] = actions
        return actions


@pytest.mark.parametrize("backend", ["pogema", "torch"])
def test_avg_agents_density_is_pogema_toolbox_metric(tmp_path, backend):
    ours, toolbox, true = replay(Recording, backend, tmp_path)
    assert ours["avg_throughput"] == pytest.approx(toolbox["avg_throughput"])
    assert 0.01 < true < 0.5
    assert ours["avg_agents_density"] == pytest.approx(true, abs=1e-12)
    # pogema 1.4's wrapper reads its positions matrix, which loses an agent that follows another into the
    # cell it leaves in the same step (lower index moving first): its figure is lower, never higher
    assert toolbox["avg_agents_density"] < true


def test_density_equals_the_toolbox_wrapper_when_no_agent_follows_another(tmp_path):
    ours, toolbox, true = replay(Staying, "torch", tmp_path)
    assert ours["avg_agents_density"] == pytest.approx(toolbox["avg_agents_density"], abs=1e-12)
    assert ours["avg_agents_density"] == pytest.approx(true, abs=1e-12)


def test_finish_mode_records_have_no_density(tmp_path):
    result = evaluate("bottleneck", agent=RandomAgent(), maps="bottleneck-3", seeds=[0], out_dir=tmp_path,
                      workers=1, progress=False)
    assert "avg_agents_density" not in result.records[0]["metrics"]


def test_only_restart_episodes_track_density_and_the_tracker_is_exact():
    assert agents_density("finish", 1, 2) is None and agents_density("nothing", 1, 2) is None
    density = agents_density("restart", 2, 2)
    obs = torch.zeros(4, 3, 3, 3)  # env 0: agent 0 sees 2 agents among 8 free cells, agent 1 itself among 9
    obs[0, 0, 0, 0] = -1
    obs[0, 1, 1, 1] = obs[0, 1, 0, 1] = 1
    obs[1, 1, 1, 1] = 1
    density.add(obs, [0])
    density.add(obs, [0, 1])
    assert density.pop(0) == (2 / 8 + 1 / 9) / 2 and density.pop(1) == 0.0
    density.add(obs, [0])  # a popped episode is forgotten: the next one starts from nothing
    assert density.pop(0) == (2 / 8 + 1 / 9) / 2
