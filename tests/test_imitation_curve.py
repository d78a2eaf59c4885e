"""Held-out expert accuracy (train.imitation.expert_accuracy), and the imitation learning-curve benchmark
(benchmarks/bench_imitation_curve.py): the snapshots it reads, the expert and shields it scores with, what its
result file records (evaluations replaced by recorders)."""
from __future__ import annotations

import json

import pytest
import torch

from agents.spec import AgentSpec
from benchmarks.bench_imitation_curve import held_out_env, snapshots
from cli.main import main as srmt
from envs.config import EnvConfig, resolve_config
from srmt.checkpoint import save_policy
from srmt.config import ModelConfig
from srmt.model import SRMTPolicy
from train.imitation import SNAPSHOTS, ImitationConfig, expert_accuracy, imitate

TRAIN = EnvConfig(map_name=None, grid="........\n..#..#..\n........\n.#....#.\n........\n..#..#..\n........",
                  num_agents=6, obs_radius=2, on_target="restart", collision_system="soft", reward="directional",
                  max_episode_steps=32)
HELD_OUT = TRAIN.replace(grid=".......\n.#...#.\n.......\n...#...\n.......\n.#...#.\n.......")
MODEL = ModelConfig.preset("bottleneck", obs_radius=2)


@pytest.mark.slow
def test_imitation_raises_the_accuracy_on_maps_it_never_saw(tmp_path):
    torch.manual_seed(0)
    before = expert_accuracy(SRMTPolicy(MODEL), HELD_OUT, envs=4, rollouts=4)
    out = tmp_path / "bc.pt"
    imitate(TRAIN, MODEL, ImitationConfig(samples=80 * 96, envs=4, rollout=4), out, report=lambda s: None,
            snapshot_every=40 * 96)
    from srmt.checkpoint import load_policy

    policy = load_policy(out).model.train()
    after = expert_accuracy(policy, HELD_OUT, envs=4, rollouts=4)
    assert after > before + 0.1 and after > 0.4  # 5 actions: an untrained policy is near chance (0.2)
    assert policy.training  # measured in eval mode, handed back in the mode it came in
    # the run's snapshot (40 rollouts of 96 samples) then the final file, in sample order
    assert [s for s, _ in snapshots(out)] == [40 * 96, 80 * 96]


def test_held_out_env_is_the_validation_suite():
    env = resolve_config(held_out_env(32))
    assert len(env.maps) == 32 and all(m.name.startswith("lifelong-validation-") for m in env.maps)
    assert (env.config.on_target, env.config.collision_system, env.config.max_episode_steps) == \
        ("restart", "soft", 128)


LIFELONG = ModelConfig.preset("bottleneck", obs_radius=5)
"""A tiny policy of the validation suite's radius."""


def _imitation_file(path, samples: int, seconds: float, expert: str | None = "guided-pibt", **meta):
    """A policy file as `srmt imitate` writes it (meta: samples, shield, the run's last report and settings)."""
    settings = {"samples": 8192} | ({"expert": expert} if expert else {})
    torch.manual_seed(0)
    return save_policy(path, SRMTPolicy(LIFELONG), LIFELONG, held_out_env(16).to_dict(),
                       {"env_steps": samples, "decoding": "sample", "shield": "pibt", "command": "srmt imitate x",
                        "imitation": {"samples": samples, "seconds": seconds, "settings": settings}} | meta)


@pytest.fixture
def imitation_run(tmp_path):
    """A snapshot at 4,096 samples (30 s in) and the final file at 8,192 (90 s)."""
    _imitation_file(tmp_path / SNAPSHOTS / "policy-00000004096.pt", 4096, 30.0)
    return _imitation_file(tmp_path / "bc.pt", 8192, 90.0)


@pytest.fixture
def measured(monkeypatch):
    """The evaluations and accuracy rollouts replaced by recorders: throughput 1.0 for the planner, 0.25 / 0.5
    unshielded / shielded; accuracy 0.75."""
    import benchmarks.bench_imitation_curve as curve

    calls = []

    def throughput(spec, out, workers):
        calls.append(spec)
        return 1.0 if spec.algo != "srmt" else 0.5 if spec.shield else 0.25

    def accuracy(model, env, expert):
        calls.append(("accuracy", expert))
        return 0.75

    monkeypatch.setattr(curve, "throughput", throughput)
    monkeypatch.setattr(curve, "expert_accuracy", accuracy)
    return calls


def test_the_curve_scores_every_point_unshielded_and_shielded_against_the_files_expert(imitation_run, measured,
                                                                                      tmp_path):
    out = tmp_path / "r.json"
    assert srmt(["bench", "imitation", str(imitation_run), "--shield", "guided-pibt", "--stage", "imitation",
                 "--out", str(out)]) == 0
    snapshot = str(tmp_path / SNAPSHOTS / "policy-00000004096.pt")
    assert measured == [AgentSpec("guided-pibt"),
                        ("accuracy", "guided-pibt"), AgentSpec(checkpoint=snapshot),
                        AgentSpec(checkpoint=snapshot, shield="guided-pibt"),
                        ("accuracy", "guided-pibt"), AgentSpec(checkpoint=str(imitation_run)),
                        AgentSpec(checkpoint=str(imitation_run), shield="guided-pibt")]
    record = json.loads(out.read_text())
    point = {"accuracy": 0.75, "throughput_none": 0.25, "throughput_guided-pibt": 0.5}
    assert record["figures"] == {
        "stage": "imitation", "init_policy": None, "policy": str(imitation_run), "expert": "guided-pibt",
        "rollout_shield": "pibt", "training": "srmt imitate x", "shield": "guided-pibt",
        "baselines": {"guided-pibt": {"throughput": 1.0}},
        "curve": [{"samples": 4096, "file": snapshot, "wall_minutes": 0.5} | point,
                  {"samples": 8192, "file": str(imitation_run), "wall_minutes": 1.5} | point]}
    assert record["title"] == ("Imitation learning curve (imitation) of bc.pt (guided-pibt, pibt shield in its "
                               "rollouts) on the `validation` suite (2 points)")
    assert record["summary"] == ("final: held-out accuracy 0.750, throughput 0.250, under the guided-pibt shield "
                                 "0.500 (0.50x guided-pibt's 1.000)")


def test_without_a_shield_only_the_unshielded_column_and_an_old_file_copied_pibt(tmp_path, measured):
    policy = _imitation_file(tmp_path / "bc.pt", 8192, 90.0, expert=None)  # written before --expert existed
    assert srmt(["bench", "imitation", str(policy), "--shield", "none"]) == 0
    assert measured == [AgentSpec("pibt"), ("accuracy", "pibt"), AgentSpec(checkpoint=str(policy))]


@pytest.mark.parametrize("damage, message", [
    (lambda root: _imitation_file(root / SNAPSHOTS / "policy-00000004096.pt", 4096, 30.0, expert="pibt"),
     "policy-00000004096.pt copied the expert 'pibt', the final policy {root}/bc.pt 'guided-pibt': a snapshot of "
     "another run is in {root}/snapshots-imitation; remove it"),
    (lambda root: _imitation_file(root / "bc.pt", 8192, 90.0, imitation="a note"),
     "{root}/bc.pt: its meta has no imitation settings, so `srmt imitate` did not write it"),
])
def test_points_of_another_run_are_refused_before_any_measurement(imitation_run, measured, tmp_path, capsys,
                                                                   damage, message):
    damage(tmp_path)
    assert srmt(["bench", "imitation", str(imitation_run), "--out", str(tmp_path / "r.json")]) == 2
    assert message.format(root=tmp_path) in capsys.readouterr().err
    assert measured == [] and not (tmp_path / "r.json").exists()
