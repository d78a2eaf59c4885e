"""The benchmark runner's own logic (the measurements themselves are run by hand, see README)."""
from __future__ import annotations

import argparse

import pytest

from benchmarks.bench_memory_modes import runs
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

    def run_suite(name, spec, out, args):
        if name == "mazes":
            raise KeyboardInterrupt
        return {"throughput": 1.0}

    monkeypatch.setattr(bench_lifelong_suites, "run_suite", run_suite)
    args = argparse.Namespace(out=str(tmp_path / "suites"), decoding="policy", algo="pibt", checkpoint=None,
                              suites=["random", "mazes", "puzzles"])
    with pytest.raises(KeyboardInterrupt):
        bench_lifelong_suites.run(args)
    assert json.loads((tmp_path / "suites" / "suites.json").read_text()) == {"random": {"throughput": 1.0}}
