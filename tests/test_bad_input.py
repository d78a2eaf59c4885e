"""Bad and edge-case input: every output path is checked before any work starts (common.outputs.check_output),
and every numeric option of the benchmarks has a bound. The table of cases is docs/bad_input.md."""
from __future__ import annotations

import argparse

import pytest

from cli.main import build_parser
from cli.main import main as srmt
from common.outputs import DIRECTORY, PNG, OutputPathError, check_output, output_problem
from srmt.checkpoint import save_policy
from srmt.config import ModelConfig
from srmt.model import SRMTPolicy
from train.export import POLICY_OUTPUT


@pytest.fixture
def places(tmp_path):
    """A directory, a text file and a policy file."""
    (tmp_path / "dir").mkdir()
    (tmp_path / "notes.txt").write_text("keep me\n")
    cfg = ModelConfig.preset("bottleneck")
    save_policy(tmp_path / "old.pt", SRMTPolicy(cfg), cfg)
    return tmp_path


def test_output_paths_are_checked_without_touching_anything(places):
    assert output_problem(places / "new" / "deeper" / "policy.pt", POLICY_OUTPUT) is None
    assert output_problem(places / "old.pt", POLICY_OUTPUT) is None  # a policy file may be replaced
    assert output_problem(places / "dir", POLICY_OUTPUT) == f"it is a directory; pass a file path, e.g. " \
                                                            f"{places / 'dir' / 'policy.pt'}"
    assert "is not a srmt policy file (.pt), so it is not overwritten" in output_problem(places / "notes.txt",
                                                                                         POLICY_OUTPUT)
    (places / "fake.pt").write_text("not a policy")
    assert "not overwritten" in output_problem(places / "fake.pt", POLICY_OUTPUT)
    assert output_problem(places / "notes.txt" / "x.pt", POLICY_OUTPUT) == \
        f"{places / 'notes.txt'} is a file, so nothing can be created under it; pass a path in a directory"
    assert "is not writable" in output_problem("/proc/srmt-test/x.pt", POLICY_OUTPUT)
    assert "more than the 255" in output_problem(places / ("x" * 300) / "p.pt", POLICY_OUTPUT)
    assert "longer than the" in output_problem(places / ("d/" * 2100) / "p.pt", POLICY_OUTPUT)
    assert output_problem(places / "notes.txt", DIRECTORY).startswith("it exists and is not a directory")
    assert output_problem(places / "dir", DIRECTORY) is None
    assert "not a regular file" in output_problem("/dev/null", PNG)
    assert sorted(p.name for p in places.iterdir()) == ["dir", "fake.pt", "notes.txt", "old.pt"]
    assert (places / "notes.txt").read_text() == "keep me\n"


def test_check_output_names_the_option_and_the_path(places):
    with pytest.raises(OutputPathError, match=f"^--png {places / 'dir'}: it is a directory"):
        check_output(places / "dir", "--png", PNG)
    assert check_output(places / "a.png", "--png", PNG) == places / "a.png"


@pytest.mark.parametrize("target, message", [
    ("dir", "it is a directory; pass a file path"),
    ("notes.txt", "it exists and is not a srmt policy file (.pt), so it is not overwritten"),
    ("notes.txt/x.pt", "is a file, so nothing can be created under it"),
])
def test_imitate_refuses_a_bad_out_before_any_work(places, capsys, target, message):
    assert srmt(["imitate", "--out", str(places / target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"srmt imitate: error: --out {places / target}: ") and message in err
    assert not (places / "maps").exists() and (places / "notes.txt").read_text() == "keep me\n"


def test_imitate_refuses_out_where_its_maps_folder_cannot_go(places, capsys):
    (places / "maps").write_text("a file where imitate writes its training maps")
    assert srmt(["imitate", "--out", str(places / "bc.pt")]) == 2
    assert "srmt imitate also writes maps/ beside it" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["render", "--algo", "greedy", "--map", "bottleneck-3", "--out", "{tmp}/notes.txt", "--no-progress"],
     "--out {tmp}/notes.txt: it exists and is not a directory"),
    (["maps", "show", "bottleneck-3", "--png", "{tmp}/dir"], "--png {tmp}/dir: it is a directory"),
    (["maps", "show", "bottleneck-3", "--png", "{tmp}/notes.txt"], "it exists and is not a PNG picture"),
    (["maps", "generate", "--out-dir", "{tmp}/notes.txt"], "--out-dir {tmp}/notes.txt: it exists and is not a"),
    (["demo", "--out", "{tmp}/notes.txt"], "--out {tmp}/notes.txt: it exists and is not a directory"),
    (["bench", "suites", "--out", "{tmp}/notes.txt"], "--out {tmp}/notes.txt: it exists and is not a directory"),
    (["bench", "lifelong", "--eval-only", "--experiment", "{tmp}/notes.txt"], "--experiment {tmp}/notes.txt"),
    (["bench", "learning", "--out", "{tmp}/notes.txt"], "it exists and is not a JSON file"),
    (["bench", "modes", "--out", "{tmp}/dir"], "--out {tmp}/dir: it is a directory"),
])
def test_every_command_checks_its_outputs_first(places, capsys, argv, message):
    assert srmt([a.format(tmp=places) for a in argv]) == 2
    assert message.format(tmp=places) in capsys.readouterr().err
    assert (places / "notes.txt").read_text() == "keep me\n" and not list((places / "dir").iterdir())


def test_bench_lifelong_eval_only_needs_an_experiment(capsys):
    assert srmt(["bench", "lifelong", "--eval-only"]) == 2
    assert "--eval-only needs --experiment DIR" in capsys.readouterr().err


def _numeric_bench_options() -> list[tuple[str, argparse.Action]]:
    bench = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["bench"]
    names = next(a for a in bench._actions if isinstance(a, argparse._SubParsersAction)).choices
    found = []
    for name, parser in names.items():
        for action in parser._actions:
            if action.option_strings and action.type is not None:
                try:
                    numeric = isinstance(action.type("1"), (int, float))
                except (argparse.ArgumentTypeError, TypeError, ValueError):
                    numeric = False
                if numeric:
                    found.append((name, action))
    return found


def test_every_numeric_benchmark_option_has_an_upper_bound():
    options = _numeric_bench_options()
    assert len(options) > 20
    for name, action in options:
        try:
            value = action.type("1e12")
        except (argparse.ArgumentTypeError, ValueError):
            continue
        assert action.choices is not None and value not in action.choices, f"bench {name} {action.dest}"


@pytest.mark.parametrize("argv, message", [
    (["bench", "train", "--warmup", "1e9"], "--warmup=1000000000.0 must be in [0, 3600]"),
    (["bench", "memory", "--envs", "1e9"], "--envs=1000000000 must be an integer in [1, 16384]"),
    (["bench", "train", "--rounds", "0"], "--rounds=0 must be an integer in [1, 100]"),
    (["bench", "env", "--pogema-envs", "1e9"], "--pogema-envs=1000000000 must be an integer in [1, 4096]"),
    (["bench", "modes", "--minutes-lifelong", "nan"], "--minutes-lifelong=nan must be a finite number"),
])
def test_benchmark_budgets_name_their_range(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        srmt(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.slow  # end to end: a whole command or evaluation
def test_an_interrupted_snapshot_training_stops_its_child(tmp_path, monkeypatch):
    """train.snapshots: Ctrl-C / SIGTERM in the benchmark reaches the training child as SIGINT (it then saves
    as `srmt train` does) and the child is waited for, never left running."""
    import subprocess
    import sys
    import time
    import types

    import train.snapshots
    from train.snapshots import train_with_snapshots

    ready = tmp_path / "handler-installed"
    child = ("import pathlib, signal, sys, time\nsignal.signal(signal.SIGINT, lambda *a: sys.exit(7))\n"
             "pathlib.Path(sys.argv[1]).touch()\ntime.sleep(60)\n")
    started = {}
    real_popen = subprocess.Popen

    def popen(*args, **kwargs):
        started["proc"] = real_popen(*args, **kwargs)
        return started["proc"]

    deadline = time.time() + 60

    def sleep(seconds):  # each poll: Ctrl-C once the child says its handler is installed, else wait a bit
        if ready.is_file():
            raise KeyboardInterrupt
        assert time.time() < deadline, "the child never installed its SIGINT handler"
        time.sleep(0.02)

    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setattr(train.snapshots, "time", types.SimpleNamespace(time=time.time, sleep=sleep))
    with pytest.raises(KeyboardInterrupt):
        train_with_snapshots([sys.executable, "-c", child, str(ready)], tmp_path / "exp", tmp_path / "snap",
                             tmp_path / "log")
    assert started["proc"].returncode == 7  # it got SIGINT, ran its handler and was waited for
