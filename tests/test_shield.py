"""The PIBT collision shield (`--shield pibt`): conflict-free moves in the policy's preference order,
PIBT itself when the preference is the distance order, clear errors where it does not apply."""
import numpy as np
import pytest
import torch

from agents import AgentError, SRMTAgent, make_agent
from cli.main import main
from envs.config import EnvConfig
from envs.observation import MOVES
from planners.pibt import PIBTPlanner, distance_preferences, shielded_actions
from envs.pogema_backend import PogemaBatchedEnv
from envs.task import task_for_seed
from srmt.config import ModelConfig
from srmt.decoding import action_preferences
from srmt.model import SRMTPolicy

TEXT = "........\n.#..#...\n........\n.##..#..\n........\n...#....\n.#......\n........"
CONFIG = EnvConfig(map_name=None, grid=TEXT, num_agents=12, on_target="restart", reward="lifelong",
                   collision_system="soft", obs_radius=2, max_episode_steps=48)
MODEL = ModelConfig.preset("bottleneck", obs_radius=2)


def _env(seeds, config=CONFIG) -> PogemaBatchedEnv:
    env = PogemaBatchedEnv(config, num_envs=len(seeds), auto_reset=False)
    for e, s in enumerate(seeds):
        env.reset_env(e, task_for_seed(env.resolved, 0, s))
    return env


def _assert_conflict_free(before: torch.Tensor, after: torch.Tensor) -> None:
    """No two agents of an env on one cell, none swapped cells."""
    for b, a in zip(before.tolist(), after.tolist()):
        assert len(set(map(tuple, a))) == len(a), "vertex conflict"
        came_from = {tuple(c): i for i, c in enumerate(b)}
        for i, c in enumerate(a):
            j = came_from.get(tuple(c))
            assert j is None or j == i or a[j] != b[i], "swap conflict"


def _episode(agent: SRMTAgent):
    """(positions before, actions, positions after) of every step of three environments of CONFIG."""
    env = _env([0, 1, 2])
    agent.reset(3, 12, [0, 1, 2])
    obs = env.observe()
    for _ in range(CONFIG.max_episode_steps):
        before = env.positions.clone()
        actions = agent.act(obs, env)
        obs, *_ = env.step(actions)
        yield before, actions, env.positions


def _blocked(before: torch.Tensor, actions: torch.Tensor, after: torch.Tensor) -> int:
    """Agents whose move pogema's soft collisions cancelled."""
    return int((after != before + MOVES[actions].reshape(3, 12, 2)).any(-1).sum())


@pytest.mark.parametrize("sample", [False, True])
def test_shielded_srmt_moves_are_never_blocked_and_never_conflict(sample):
    torch.manual_seed(0)
    agent = SRMTAgent(SRMTPolicy(MODEL), sample=sample, seed=1, shield="pibt")
    for before, actions, after in _episode(agent):
        assert _blocked(before, actions, after) == 0, "a move was blocked"
        _assert_conflict_free(before, after)
    assert agent.name == "SRMT+pibt-shield"


def test_unshielded_srmt_does_collide_on_the_same_episodes():
    # The check above can fail: the same policy without the shield has moves that pogema blocks, 499 of
    # the 3 x 12 x 48 = 1,728 moves of these seeded episodes.
    torch.manual_seed(0)
    agent = SRMTAgent(SRMTPolicy(MODEL), sample=True, seed=1)
    assert sum(_blocked(*step) for step in _episode(agent)) == 499


def test_the_shield_with_the_distance_order_is_pibt():
    """Preferences = PIBT's own distance order, drawn from a copy of the same streams: the same actions."""
    env = _env([4, 5])
    streams = lambda: [np.random.default_rng([7, e]) for e in range(2)]  # noqa: E731
    pibt, shield = PIBTPlanner(), PIBTPlanner()
    rngs_a, rngs_b = streams(), streams()
    pibt.reset(2, 12, rngs_a)
    shield.reset(2, 12, rngs_b)
    for _ in range(CONFIG.max_episode_steps):
        expected = pibt.actions(env, rngs_a)
        positions, goals = env.positions.numpy(), env.goals.numpy()
        prefs = np.concatenate([
            distance_preferences(env.resolved.maps[0].obstacles, positions[e],
                                 shield.distances.tables(env.resolved.maps[0].obstacles,
                                                         [tuple(g) for g in goals[e].tolist()]), rngs_b[e])
            for e in range(2)])
        assert np.array_equal(shield.actions(env, rngs_b, prefs), expected)
        env.step(torch.from_numpy(expected))


def test_the_shield_follows_the_preference_order():
    # One agent alone in an open grid takes its first preference; blocked by a wall, its second.
    obstacles = np.array([[False, False, False], [False, False, True], [False, False, False]])
    at = np.array([[1, 1]])
    assert shielded_actions(obstacles, at, np.array([[3, 1, 2, 4, 0]]), np.array([1.0])).tolist() == [3]
    assert shielded_actions(obstacles, at, np.array([[4, 2, 1, 3, 0]]), np.array([1.0])).tolist() == [2]
    # Two agents want the same cell: the higher priority gets it, the other takes its next preference.
    two = np.array([[0, 0], [0, 2]])
    prefs = np.array([[4, 2, 0, 1, 3], [3, 2, 0, 1, 4]])
    assert shielded_actions(obstacles, two, prefs, np.array([2.0, 1.0])).tolist() == [4, 0]
    assert shielded_actions(obstacles, two, prefs, np.array([1.0, 2.0])).tolist() == [2, 3]


def test_action_preferences_by_logit_and_sampled_like_the_policy():
    logits = torch.tensor([[0.0, 2.0, 1.0, -1.0, 0.5]])
    assert action_preferences(logits).tolist() == [[1, 2, 4, 0, 3]]
    rng = torch.Generator().manual_seed(0)
    n = 20000
    ranked = action_preferences(logits.expand(n, 5), torch.rand(n, 5, generator=rng, dtype=torch.float64))
    assert all(sorted(row) == [0, 1, 2, 3, 4] for row in ranked[:50].tolist())
    first = torch.bincount(ranked[:, 0], minlength=5).double() / n
    # the first choice of a Gumbel-top-k ranking is a sample of softmax(logits); 4 sigma of 20k draws < 0.015
    torch.testing.assert_close(first, torch.softmax(logits[0].double(), 0), atol=0.015, rtol=0)


def test_shield_is_refused_for_algorithms_without_an_action_distribution(capsys):
    for algo in ("astar", "greedy", "random", "pibt"):
        with pytest.raises(AgentError, match="needs a policy with an action distribution"):
            make_agent(algo, shield="pibt")
    with pytest.raises(AgentError, match="shield='cbs' is not one of"):
        SRMTAgent(SRMTPolicy(MODEL), shield="cbs")
    assert main(["eval", "validation", "--algo", "greedy", "--shield", "pibt", "--quick", "--no-progress"]) == 2
    assert "drop --shield" in capsys.readouterr().err


def test_shielded_runs_are_named_and_a_shield_trained_policy_says_so(tmp_path, capsys):
    from eval.evaluate import describe_agent

    torch.manual_seed(0)
    trained = SRMTAgent(SRMTPolicy(MODEL), meta={"decoding": "sample", "shield": "pibt"}, sample=True)
    line = describe_agent(trained)
    assert "sampled actions (the policy file recommends sample), shield none" in line
    assert "trained with the pibt shield in the loop, pass --shield pibt" in line
    shielded = SRMTAgent(SRMTPolicy(MODEL), meta={}, shield="pibt")
    assert describe_agent(shielded) == ("SRMT+pibt-shield: argmax actions (the policy file recommends none; "
                                        "a shield ranks by logit unless --sample), shield pibt")


def test_a_shield_ranks_by_logit_unless_sampling_is_asked_for(tmp_path):
    from srmt.checkpoint import save_policy

    path = save_policy(tmp_path / "p.pt", SRMTPolicy(MODEL), MODEL, CONFIG.to_dict(), {"decoding": "sample"})
    assert SRMTAgent.from_checkpoint(path).sample  # unshielded: the file's recommendation
    assert not SRMTAgent.from_checkpoint(path, shield="pibt").sample
    assert SRMTAgent.from_checkpoint(path, shield="pibt", sample=True).sample


def test_the_shield_runs_on_bottleneck_finish_dynamics(tmp_path):
    """Documented behaviour (docs/shield.md): on `finish` / `block_both` the shield only ever makes moves
    pogema executes; finished agents are inactive. The shipped Bottleneck policy still solves the corridor."""
    from eval.evaluate import evaluate
    from eval.runner import AgentSpec

    result = evaluate("bottleneck", spec=AgentSpec(shield="pibt"), maps="bottleneck-10", seeds=[0, 1], workers=1,
                      out_dir=tmp_path, progress=False, compare=["none"])
    assert [r["algorithm"] for r in result.records] == ["SRMT+pibt-shield"] * 2
    assert [r["metrics"]["CSR"] for r in result.records] == [1.0, 1.0]
