"""`srmt bench lifelong` (benchmarks/bench_lifelong_learning.py): --shield scores every snapshot through the
collision shield (ranking by logit), refused decodings exit 2 before any training, and the result file records
the stage, the scoring shield and the training's own init_policy and shield. No training and no evaluation
here: `score` is replaced by a recorder."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch

import benchmarks
import benchmarks.bench_lifelong_learning as bench
from agents.options import shield_value
from agents.spec import AgentSpec
from benchmarks.bench_imitation_curve import held_out_env
from cli.main import main as srmt
from srmt.checkpoint import save_policy
from srmt.config import ModelConfig
from srmt.model import SRMTPolicy
from train.overrides import build_config
from train.saved_config import save_config

MODEL = ModelConfig.preset("bottleneck", obs_radius=5)
"""A tiny lifelong policy: the validation suite's radius 5."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srmt bench")
    benchmarks.add_subparsers(parser.add_subparsers(dest="bench"))
    return parser


def test_shield_and_stage_are_parsed_by_the_shared_helpers():
    parser = _parser()
    for name, default in (("lifelong", None), ("imitation", "pibt")):
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[name]
        (shield,) = [a for a in sub._actions if a.dest == "shield"]
        assert (shield.type, shield.default, shield.metavar) == (shield_value, default, "{none,pibt,guided-pibt}")
    args = parser.parse_args(["lifelong", "--shield", "guided-pibt", "--stage", " appo-shielded "])
    assert (args.shield, args.stage, args.decoding) == ("guided-pibt", "appo-shielded", None)
    assert parser.parse_args(["lifelong", "--shield", "none"]).shield is None
    assert parser.parse_args(["imitation", "p.pt", "--shield", "none"]).shield is None
    with pytest.raises(SystemExit):
        parser.parse_args(["lifelong", "--shield", "cbs"])
    with pytest.raises(SystemExit):
        parser.parse_args(["lifelong", "--stage", " "])


@pytest.mark.parametrize("decoding, shield, scored", [
    (None, None, ["sample", "argmax"]), ("both", None, ["sample", "argmax"]), ("sample", None, ["sample"]),
    ("argmax", None, ["argmax"]), (None, "pibt", ["argmax"]), ("argmax", "guided-pibt", ["argmax"]),
])
def test_decodings_scored(decoding, shield, scored):
    assert bench.decodings(decoding, shield) == scored


@pytest.mark.parametrize("decoding", ["sample", "both"])
def test_sampled_decoding_under_a_shield_is_refused_before_any_training(tmp_path, monkeypatch, capsys, decoding):
    def trained(*args, **kwargs):
        raise AssertionError("training started although the input was invalid")

    monkeypatch.setattr(bench, "train_with_snapshots", trained)
    out, exp = tmp_path / "r.json", tmp_path / "exp"
    assert srmt(["bench", "lifelong", "--shield", "pibt", "--decoding", decoding, "--experiment", str(exp),
                 "--out", str(out)]) == 2
    assert (f"--decoding {decoding} with --shield pibt: a shielded policy is scored ranking its actions by logit "
            "(argmax decoding, as `srmt eval --shield` does): drop --decoding or give --decoding argmax"
            in capsys.readouterr().err)
    assert not out.exists() and not exp.exists()


def _experiment(root: Path) -> Path:
    """An experiment this benchmark could have trained: srmt_config.json (warm-started from bc.pt, the PIBT
    shield in the env) and one snapshot taken 12 s in, at 4,096 env steps; returns the snapshot."""
    cfg, _ = build_config(["--preset", "lifelong-cpu", "--experiment", str(root / "train"), "--init_policy", "bc.pt",
                           "--shield", "pibt"])
    (root / "train").mkdir(parents=True)
    save_config(root / "train", cfg, ["--preset", "lifelong-cpu"])
    torch.manual_seed(0)
    return save_policy(root / "snapshots" / "policy-0012.0s.pt", SRMTPolicy(MODEL), MODEL,
                       held_out_env(16).to_dict(), {"env_steps": 4096, "decoding": "sample"})


@pytest.fixture
def scored(monkeypatch) -> list[tuple[AgentSpec, str]]:
    """Replace the evaluations by a recorder: each (spec, results folder name); every score is 0.5."""
    calls = []

    def score(spec, out, quick, workers, backend="pogema"):
        calls.append((spec, out.name))
        return dict(throughput=0.5, episodes=96, episodes_per_s=2.0, agent_steps_per_s=1000.0)

    monkeypatch.setattr(bench, "score", score)
    return calls


def test_every_snapshot_is_scored_through_the_shield_and_the_run_is_recorded(tmp_path, scored):
    snapshot = _experiment(tmp_path / "exp")
    out = tmp_path / "r.json"
    assert srmt(["bench", "lifelong", "--eval-only", "--experiment", str(tmp_path / "exp"), "--shield", "pibt",
                 "--stage", "appo-shielded", "--minutes", "10", "--out", str(out)]) == 0
    shielded = AgentSpec(checkpoint=str(snapshot), sample=False, shield="pibt")
    assert scored == [(AgentSpec("greedy"), "greedy"), (AgentSpec("astar"), "astar"), (AgentSpec("pibt"), "pibt"),
                      (shielded, "policy-0012.0s-argmax")]
    agent = shielded.build()
    assert (agent.shield, agent.sample, agent.name.endswith("+pibt-shield")) == ("pibt", False, True)
    record = json.loads(out.read_text())
    figures = record["figures"]
    assert {k: figures[k] for k in ("stage", "init_policy", "training_shield", "shield", "decodings")} == dict(
        stage="appo-shielded", init_policy="bc.pt", training_shield="pibt", shield="pibt", decodings=["argmax"])
    assert figures["curve"] == [dict(wall_minutes=0.2, env_steps=4096, argmax=dict(
        throughput=0.5, episodes=96, episodes_per_s=2.0, agent_steps_per_s=1000.0))]
    assert record["title"] == ("Lifelong learning (appo-shielded), `validation` suite: `srmt train --preset "
                               "lifelong-cpu` from bc.pt for 10 min, pibt shield in the training env, snapshots "
                               "every 300 s, scored with argmax actions, pibt shield (baselines: greedy 0.500, "
                               "astar 0.500, pibt 0.500)")
    assert record["summary"] == "0.500 @ 0.2 min (argmax actions, pibt shield)"


def test_without_a_shield_both_decodings_are_scored_unshielded(tmp_path, scored):
    snapshot = _experiment(tmp_path / "exp")
    assert srmt(["bench", "lifelong", "--eval-only", "--experiment", str(tmp_path / "exp")]) == 0
    assert [spec for spec, _ in scored] == [AgentSpec("greedy"), AgentSpec("astar"),
                                            AgentSpec(checkpoint=str(snapshot), sample=True),
                                            AgentSpec(checkpoint=str(snapshot), sample=False)]


def test_an_experiment_without_its_training_config_is_refused_before_any_evaluation(tmp_path, scored, capsys):
    _experiment(tmp_path / "exp")
    (tmp_path / "exp" / "train" / "srmt_config.json").unlink()
    assert srmt(["bench", "lifelong", "--eval-only", "--experiment", str(tmp_path / "exp")]) == 2
    assert (f"{tmp_path / 'exp' / 'train'} has no srmt_config.json: no `srmt train` of this benchmark ran there"
            in capsys.readouterr().err)
    assert scored == []
