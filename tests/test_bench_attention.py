"""benchmarks/bench_attention.py: the tally's bins on hand-made pools, and a tiny episode end to end."""
import dataclasses
import math

import pytest
import torch

from agents import SRMTAgent
from benchmarks.bench_attention import DISTANCE_LABELS, METRICS, WINDOW_PARTS, AttentionTally, tally_attention
from eval.suites import get_suite
from srmt import ModelConfig, SRMTPolicy

POSITIONS = torch.tensor([[[0, 0], [0, 1], [3, 4]]])  # (1, 3, 2): Chebyshev 0-1: 1, 0-2: 4, 1-2: 3
POOL = torch.tensor([[[0.5, 0.3, 0.2], [0.2, 0.2, 0.6], [0.0, 0.0, 0.0]]],
                    dtype=torch.float64)  # agent 2 did not cross-attend


def _by_bin(summary: dict, metric: str) -> dict[str, dict]:
    return {row["bin"]: row for row in summary["distance"][metric] if row["pairs"]}


def test_a_hand_made_step_lands_in_the_right_bins():
    tally = AttentionTally(num_agents=3, obs_radius=2)
    tally.add(POOL, POSITIONS, torch.ones(1, 3, dtype=torch.bool))
    s = tally.summary()
    assert s["reader_rows"] == 2 and s["uniform_weight"] == pytest.approx(1 / 3)
    chebyshev = _by_bin(s, "chebyshev")
    assert {b: (r["pairs"], round(r["mean_weight"], 12)) for b, r in chebyshev.items()} == {
        "1": (2, 0.25), "3": (1, 0.6), "4": (1, 0.2)}
    assert chebyshev["1"]["vs_uniform"] == pytest.approx(0.75)
    assert {b: r["pairs"] for b, r in _by_bin(s, "manhattan").items()} == {"1": 2, "6": 1, "7": 1}
    window = s["window"]
    assert [window[p]["mass_share"] for p in WINDOW_PARTS] == pytest.approx([0.35, 0.25, 0.4, 0.0])
    assert [window[p]["agent_share"] for p in WINDOW_PARTS] == pytest.approx([2 / 6, 2 / 6, 2 / 6, 0.0])
    rows = POOL[0, :2]
    assert s["entropy"]["mean_nats"] == pytest.approx(float(-(rows * rows.log()).sum()) / 2)
    assert s["entropy"]["uniform_nats"] == pytest.approx(math.log(3))


def test_an_agent_off_the_grid_neither_reads_nor_has_a_distance():
    tally = AttentionTally(num_agents=3, obs_radius=2)
    pool = POOL.clone()
    pool[0, 2] = torch.tensor([0.1, 0.1, 0.8], dtype=torch.float64)  # would count if agent 2 were on the grid
    tally.add(pool, POSITIONS, torch.tensor([[True, True, False]]))
    s = tally.summary()
    assert s["reader_rows"] == 2
    assert {b: r["pairs"] for b, r in _by_bin(s, "chebyshev").items()} == {"1": 2}
    assert s["window"]["off grid"]["mass_share"] == pytest.approx(0.4)  # (0.2 + 0.6) / 2 rows
    assert s["window"]["off grid"]["pairs"] == 2


def test_uniform_attention_is_uniform_in_every_bin():
    A = 5
    positions = torch.tensor([[[0, 0], [0, 3], [7, 1], [30, 30], [2, 2]]])
    tally = AttentionTally(num_agents=A, obs_radius=2)
    tally.add(torch.full((1, A, A), 1 / A), positions, torch.ones(1, A, dtype=torch.bool))
    s = tally.summary()
    for metric in METRICS:
        for row in _by_bin(s, metric).values():
            assert row["vs_uniform"] == pytest.approx(1.0)
            assert row["mass_share"] == pytest.approx(row["agent_share"])
    assert s["entropy"]["normalised"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="pool of 5 agents, the tally is for 4"):
        AttentionTally(num_agents=4, obs_radius=2).add(torch.zeros(1, A, A), positions,
                                                       torch.ones(1, A, dtype=torch.bool))


def test_a_tiny_episode_of_an_untrained_policy_adds_up():
    torch.manual_seed(0)
    agent = SRMTAgent(SRMTPolicy(ModelConfig.preset("bottleneck")))
    suite = get_suite("validation")
    steps, A = 6, 4
    episodes = suite.episodes(maps=suite.maps[0], agents=[A], seeds=[0, 1])
    episodes = [dataclasses.replace(ep, max_episode_steps=steps) for ep in episodes]
    s = tally_attention(agent, suite, episodes).summary()
    assert s["reader_rows"] == 2 * (steps - 1) * A  # no pool read at an episode's first step
    assert s["uniform_weight"] == 1 / A
    for metric in METRICS:  # every reader's row spreads weight 1 over the A agents
        rows = s["distance"][metric]
        assert len(rows) == len(DISTANCE_LABELS)
        total = sum(r["mass_share"] for r in rows) + s["window"]["self"]["mass_share"]
        assert total + s["window"]["off grid"]["mass_share"] == pytest.approx(1.0)
        assert sum(r["pairs"] for r in rows) == s["reader_rows"] * (A - 1)
    window = s["window"]
    assert sum(v["mass_share"] for v in window.values()) == pytest.approx(1.0)
    assert sum(v["agent_share"] for v in window.values()) == pytest.approx(1.0)
    assert 0.0 <= window["inside window"]["mass_share"] <= 1.0
    assert window["self"]["agent_share"] == pytest.approx(1 / A)
    assert 0.0 < s["entropy"]["mean_nats"] <= math.log(A) + 1e-9


def test_the_plan_is_fixed_by_the_options():
    import argparse

    from benchmarks.bench_attention import ENTROPY_AGENTS, _plan, add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    plan = _plan(parser.parse_args([]))
    assert list(plan) == ["bottleneck A=2", "validation A=16", "validation A=32", "validation A=64",
                          *(f"movingai A={A}" for A in ENTROPY_AGENTS)]
    _, _, corridors = plan["bottleneck A=2"]
    assert len(corridors) == 7 * 5 and {ep.num_agents for ep in corridors} == {2}
    _, _, tiles = plan["movingai A=256"]
    assert len(tiles) == 8 and {ep.max_episode_steps for ep in tiles} == {128}
    with pytest.raises(SystemExit):
        parser.parse_args(["--entropy-maps", "0"])
