"""Guided PIBT in PIBT's other roles: the imitation expert (`srmt imitate --expert`) and the guided collision
shield (`--shield guided-pibt`); unknown names are errors that list the names there are."""
from __future__ import annotations

import pytest
import torch

from agents import SHIELDS, AgentError, SRMTAgent, make_agent
from cli.main import main
from envs.config import EnvConfig
from envs.observation import MOVES
from envs.pogema_backend import PogemaBatchedEnv
from envs.task import task_for_seed
from srmt.checkpoint import load_policy
from srmt.config import ModelConfig
from srmt.model import SRMTPolicy
from train.imitation import ImitationConfig, imitate

GRID = "........\n..#..#..\n........\n.#....#.\n........\n..#..#..\n........"
ENV = EnvConfig(map_name=None, grid=GRID, num_agents=6, obs_radius=2, on_target="restart",
                collision_system="soft", reward="directional", max_episode_steps=32)
MODEL = ModelConfig.preset("bottleneck", obs_radius=2)


def test_unknown_expert_is_named_with_the_experts_there_are(capsys):
    with pytest.raises(ValueError, match=r"expert='lacam' is not one of the experts: pibt, guided-pibt"):
        ImitationConfig(expert="lacam")
    with pytest.raises(SystemExit) as exit_:
        main(["imitate", "--out", "x.pt", "--expert", "lacam"])
    assert exit_.value.code == 2
    assert "invalid choice: 'lacam' (choose from 'pibt', 'guided-pibt')" in capsys.readouterr().err


def test_unknown_shield_is_named_with_the_shields_there_are():
    assert SHIELDS == ("pibt", "guided-pibt")
    with pytest.raises(AgentError, match=r"shield='x' is not one of \['pibt', 'guided-pibt'\]"):
        SRMTAgent(SRMTPolicy(MODEL), shield="x")


def test_imitating_guided_pibt_records_its_name(tmp_path):
    out = tmp_path / "bc.pt"
    imitate(ENV, MODEL, ImitationConfig(samples=2 * 4 * 6 * 4, envs=4, rollout=4, expert="guided-pibt"), out,
            report=lambda s: None)
    meta = load_policy(out, expect=MODEL).meta["imitation"]
    assert meta["expert"] == "GuidedPIBT" and meta["settings"]["expert"] == "guided-pibt"


def test_guided_shield_moves_are_never_blocked_and_never_conflict():
    torch.manual_seed(0)
    agent = SRMTAgent(SRMTPolicy(MODEL), shield="guided-pibt", sample=True)
    assert agent.name == "SRMT+guided-pibt-shield"
    env = PogemaBatchedEnv(ENV, num_envs=2, auto_reset=False)
    for e in range(2):
        env.reset_env(e, task_for_seed(env.resolved, 0, e))
    agent.reset(2, 6, [0, 1])
    obs = env.observe()
    for _ in range(ENV.max_episode_steps):
        before = env.positions.clone()
        actions = agent.act(obs, env)
        obs, *_ = env.step(actions)
        after = env.positions
        assert (after == before + MOVES[actions].reshape(after.shape)).all(), "pogema cancelled a move"
        for b, a in zip(before.tolist(), after.tolist()):
            assert len(set(map(tuple, a))) == len(a)
            came_from = {tuple(cell): i for i, cell in enumerate(b)}
            assert all(came_from.get(tuple(cell), i) == i or a[came_from[tuple(cell)]] != b[i] for i, cell in enumerate(a))


def test_guided_pibt_takes_no_shield():
    with pytest.raises(AgentError, match="drop --shield"):
        make_agent("guided-pibt", shield="pibt")
