"""`srmt bench interventions`: the suite each policy is scored on, the table's structure, and its
'none' figure equal to a plain evaluation's."""
from __future__ import annotations

import argparse
import json

import pytest

from benchmarks import bench_interventions
from eval.evaluate import evaluate
from eval.tables import ALL, aggregate
from eval.runner import AgentSpec
from eval.suites import get_suite

BOTTLENECK, LIFELONG, SHIELD = bench_interventions.SHIPPED


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench_interventions.add_arguments(parser)
    args = parser.parse_args(list(argv))
    args.bench = "interventions"  # set by `srmt bench`'s sub-parser
    return args


@pytest.mark.parametrize("policy, suite, memory, decoding", [(BOTTLENECK, "bottleneck", "stored", "argmax"),
                                                             (LIFELONG, "validation", "learned", "sampled")])
def test_a_policy_is_scored_on_the_suite_of_its_dynamics(policy, suite, memory, decoding):
    chosen, about = bench_interventions.suite_of(AgentSpec(checkpoint=str(policy)))
    assert (chosen.name, about["memory"], about["decoding"], about["shield"]) == (suite, memory, decoding, "none")


def test_the_shield_row_ranks_by_logit_and_is_named_apart():
    row = bench_interventions.Row(SHIELD, "pibt")
    _, about = bench_interventions.suite_of(row.spec("none"))
    assert (row.name, about["decoding"], about["shield"]) == ("lifelong_srmt_shield+pibt", "argmax", "pibt")


def test_none_is_always_the_first_column():
    assert bench_interventions.interventions(["freeze", "own-only"]) == ["none", "own-only", "freeze"]


@pytest.mark.slow  # end to end: a whole command or evaluation
def test_tiny_table_and_its_none_row_equals_a_plain_evaluation(tmp_path):
    args = parse("--policies", str(LIFELONG), "--interventions", "zero-pool", "--quick", "--episodes", "1",
                 "--workers", "1", "--work", str(tmp_path / "work"), "--out", str(tmp_path / "out"))
    assert bench_interventions.run(args) == 0

    saved = json.loads((tmp_path / "out" / "interventions.json").read_text())
    (row,) = saved["figures"]["table"]
    assert (row["row"], row["suite"], list(row["runs"])) == ("lifelong_srmt", "validation", ["none", "zero-pool"])
    none, zero = row["runs"]["none"], row["runs"]["zero-pool"]
    assert none["episodes"] == zero["episodes"] == 1 and none["metric"] == "avg_throughput"
    assert zero["mean"] != none["mean"]             # the intervention reached the agent (sampled: any change shows)
    assert none["relative"] == 1.0 and zero["relative"] == pytest.approx(zero["mean"] / none["mean"])
    assert (none["unchanged"], zero["unchanged"]) == (1.0, 0.0)          # the one episode's metrics differ
    assert none["differences"]["avg_throughput"] == {"mean": 0.0, "lo": None, "hi": None}   # one episode: no interval
    assert zero["differences"]["avg_throughput"]["mean"] == pytest.approx(zero["mean"] - none["mean"])

    plain = evaluate("validation", spec=AgentSpec(checkpoint=str(LIFELONG)), out_dir=tmp_path / "plain",
                     quick=True, episodes=1, workers=1, backend="torch", progress=False)
    (throughput,) = [r.estimate.mean for r in aggregate(get_suite("validation"), plain.records)
                     if r.group == ALL and r.metric == "avg_throughput"]
    assert none["mean"] == throughput

    per_run = json.loads((tmp_path / "out" / "evaluations" / "lifelong_srmt" / "zero-pool.json").read_text())
    assert list(per_run["groups"]) == ["16"]                           # the first quick episode: 16 agents
    assert per_run["manifest"]["agent"]["memory_intervention"] == "zero-pool"
    table = (tmp_path / "out" / "interventions.md").read_text()
    assert "| lifelong_srmt | learned | sampled, none | validation: avg_throughput | " in table
    assert f"{none['mean']:.3f} (1.00) | {zero['mean']:.3f} ({zero['relative']:.2f}) |" in table
