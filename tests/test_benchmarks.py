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
