"""The benchmark runner's own logic (the measurements themselves are run by hand, see README)."""
from __future__ import annotations

import argparse
import json

import pytest

from benchmarks import BENCHMARKS
from benchmarks.bench_memory_modes import runs
from benchmarks.options import Result, command_line, overrides
from benchmarks.bench_train_speed import STOCK, TRAIN, parse_peer, with_overrides


def test_peer_is_stock_a_variant_or_model_fields():
    assert parse_peer("gru") == ("--variant gru", TRAIN, ["--variant", "gru"])
    assert parse_peer("memory=stored,attention_mask=full").overrides == ["--memory", "stored",
                                                                          "--attention_mask", "full"]
    assert parse_peer("stock").entry == STOCK
    with pytest.raises(argparse.ArgumentTypeError, match="neither 'stock', a variant"):
        parse_peer("transformer")


def test_memory_mode_runs_in_a_fixed_order():
    args = argparse.Namespace(task="both", seeds=2, memory=["stored", "learned"], mask=["causal", "full"])
    plan = runs(args)
    assert len(plan) == 2 * 2 * 2 * 2
    assert plan[:5] == [("bottleneck", "stored", "causal", 0), ("bottleneck", "stored", "full", 0),
                        ("bottleneck", "learned", "causal", 0), ("bottleneck", "learned", "full", 0),
                        ("bottleneck", "stored", "causal", 1)]
    assert plan[8] == ("lifelong", "stored", "causal", 0)


def test_the_peer_replaces_the_options_it_sets():
    options = ["--memory", "learned", "--envs_per_batch", "64"]
    assert with_overrides(options, ["--memory", "stored"]) == ["--envs_per_batch", "64", "--memory", "stored"]
    assert with_overrides(options, []) == options


def test_repeatable_options_may_repeat_others_may_not():
    from cli.main import build_parser, repeatable_options, repeated_option

    repeatable = repeatable_options(build_parser())
    assert "--set" in repeatable and "--agents" not in repeatable
    assert repeated_option(["bench", "train", "--set", "a=1", "--set", "b=2"], repeatable) is None
    assert repeated_option(["eval", "mazes", "--agents", "2", "--agents", "3"], repeatable) == "--agents"


def test_interrupted_training_measurement_kills_the_run_and_removes_its_directory(tmp_path, monkeypatch):
    import psutil

    from benchmarks import bench_train_speed

    workdir = tmp_path / "srmt-bench-train-x"
    workdir.mkdir()
    monkeypatch.setattr(bench_train_speed.tempfile, "mkdtemp", lambda prefix: str(workdir))
    started = []

    def interrupt(process):  # the first memory sample: the training process runs
        started.append(process)
        raise KeyboardInterrupt

    monkeypatch.setattr(bench_train_speed, "_tree_memory", interrupt)
    sleeper = ["-c", "import time; time.sleep(60)"]  # stands in for `srmt train` (its options are ignored)
    with pytest.raises(KeyboardInterrupt):
        bench_train_speed.measure([], 1.0, 0.0, entry=sleeper)
    assert not workdir.exists()
    assert not started[0].is_running() or started[0].status() == psutil.STATUS_ZOMBIE


def test_interrupted_suites_benchmark_keeps_the_suites_finished(tmp_path, monkeypatch):
    import json

    from benchmarks import bench_lifelong_suites

    def run_suite(name, plan):
        if name == "mazes":
            raise KeyboardInterrupt
        return {"throughput": 1.0}

    prepared = []
    monkeypatch.setattr(bench_lifelong_suites, "prepare", lambda name, **kw: prepared.append(name) or name)
    monkeypatch.setattr(bench_lifelong_suites, "run_suite", run_suite)
    args = argparse.Namespace(out=str(tmp_path / "suites"), decoding="policy", algo="pibt", checkpoint=None,
                              suites=["random", "mazes", "puzzles"], backend="torch", bench="suites", note="",
                              maps_dir=None, workers=1)
    with pytest.raises(KeyboardInterrupt):
        bench_lifelong_suites.run(args)
    assert prepared == ["random", "mazes", "puzzles"]  # every suite checked before the first runs
    record = json.loads((tmp_path / "suites" / "suites.json").read_text())
    assert record["figures"] == {"random": {"throughput": 1.0}} and record["summary"] == "Random 1.000"
    assert record["title"].endswith("(partial: 1 of 3 suites; the run was stopped)")


def test_every_benchmark_records_its_result_with_out_and_note():
    from cli.main import build_parser

    for name in BENCHMARKS:
        args = build_parser().parse_args(["bench", name, *(["policy.pt"] if name == "imitation" else []),
                                          "--out", "r.json", "--note", "idle"])
        assert (args.out, args.note) == ("r.json", "idle"), name


def test_a_result_file_holds_the_figures_the_command_and_the_machine(tmp_path, monkeypatch):
    out = tmp_path / "deeper" / "r.json"
    monkeypatch.setattr("sys.argv", ["/venv/bin/srmt", "bench", "eval", "--quick", "--note", "two jobs beside it"])
    result = Result.begin(argparse.Namespace(bench="eval", out=str(out), note="two jobs beside it"))
    result.save("Eval speed", "**7.5x**", {"ratio": 7.5}, ">= 5x")
    record = json.loads(out.read_text())
    assert {k: record[k] for k in ("format", "benchmark", "title", "summary", "target", "figures", "command")} == {
        "format": "srmt-bench-1", "benchmark": "eval", "title": "Eval speed", "summary": "**7.5x**",
        "target": ">= 5x", "figures": {"ratio": 7.5}, "command": "srmt bench eval --quick --note 'two jobs beside it'"}
    assert record["machine"]["note"] == "two jobs beside it" and record["machine"]["cpu_cores"] >= 1
    assert len(record["commit"]) == 40 and record["date"].startswith("20")


def test_a_bad_result_path_fails_before_the_benchmark_runs(tmp_path):
    from common.outputs import OutputPathError

    with pytest.raises(OutputPathError, match="--out .*: it is a directory"):
        Result.begin(argparse.Namespace(bench="eval", out=str(tmp_path), note=""))
    Result.begin(argparse.Namespace(bench="eval", out=None, note="")).save("t", "s", {})  # no --out: no file
    assert list(tmp_path.iterdir()) == []


def test_command_line_is_what_a_person_types():
    assert command_line(["/venv/bin/srmt", "bench", "env", "--rounds", "4"]) == "srmt bench env --rounds 4"
    assert command_line(["/repo/benchmarks/__main__.py", "train", "--seconds", "30"]) == \
        "srmt bench train --seconds 30"
    assert command_line(["x.py", "--note", "a b"]) == "python x.py --note 'a b'"


def test_set_overrides_become_training_options():
    assert overrides(["envs_per_batch=256", "lr=3e-4"]) == ["--envs_per_batch", "256", "--lr", "3e-4"]
    for bad in ("envs_per_batch", "=3", "lr="):
        with pytest.raises(ValueError, match="expected KEY=VALUE"):
            overrides([bad])
