"""The `eval` sub-command through its argparse front end (eval.cli)."""
import argparse
import json
from pathlib import Path
from typing import get_args

import pytest
import torch

import benchmarks
from agents import ALGORITHMS, INTERVENTIONS, POOL_KINDS, REGISTRY, SHIELDS
from agents.options import shield_value
from cli.main import main as srmt
from envs.backends import BACKENDS
from envs.config import CollisionSystem, OnTarget
from eval import cli
from eval.cluster import ENGINES
from srmt.checkpoint import save_policy
from srmt.config import ModelConfig
from srmt.model import SRMTPolicy
from render import cli as render_cli

pytestmark = pytest.mark.usefixtures("no_plot")  # no test here reads plot.png


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    cfg = ModelConfig.preset("bottleneck")
    return save_policy(tmp_path / "policy.pt", SRMTPolicy(cfg), cfg, {"map_name": "bottleneck-8"}, {})


def test_parsers_register_with_the_srmt_entry_point():
    parser = argparse.ArgumentParser(prog="srmt")
    sub = parser.add_subparsers(dest="command")
    cli.add_subparser(sub)
    render_cli.add_subparser(sub)
    benchmarks.add_subparsers(sub.add_parser("bench").add_subparsers(dest="bench"))
    args = parser.parse_args(["eval", "random", "--algo", "astar", "--agents", "8", "16", "--seeds", "0",
                              "--workers", "3", "--compare", "a.json", "b.json"])
    assert (args.suite, args.algo, args.agents, args.seeds, args.workers) == ("random", "astar", [8, 16], [0], 3)
    assert args.compare == ["a.json", "b.json"] and args.func is cli.run_eval
    args = parser.parse_args(["render", "--map", "bottleneck-9", "--agents", "2", "--path-channel"])
    assert args.func is render_cli.run_render and args.path_channel
    assert parser.parse_args(["bench", "eval", "--quick"]).quick


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = argparse.ArgumentParser(prog="srmt")
    commands = parser.add_subparsers(dest="command")
    cli.add_subparser(commands)
    render_cli.add_subparser(commands)
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices


def test_every_choice_list_is_its_definitions_own():
    """Each `choices` of `srmt eval` / `render` / `toolbox` is the tuple (or Literal) that defines the values."""
    policy = {"memory_intervention": INTERVENTIONS, "pool": POOL_KINDS}
    expected = {
        "eval": {"algo": ALGORITHMS, **policy, "backend": tuple(BACKENDS), "engine": ENGINES},
        "render": {"algo": ALGORITHMS, **policy, "on_target": get_args(OnTarget),
                   "collision_system": get_args(CollisionSystem), "formats": ("svg", "mp4", "gif")},
        "toolbox": {"algo": tuple(cli.TOOLBOX_ALGORITHMS), **policy},
    }
    for command, parser in _subparsers().items():
        found = {a.dest: tuple(a.choices) for a in parser._actions if a.choices is not None}
        assert found == expected[command], command
        (shield,) = [a for a in parser._actions if a.dest == "shield"]  # 'none' becomes None at the parser
        assert (shield.type, shield.default, shield.metavar) == (shield_value, None, "{none,pibt,guided-pibt}"), command
    assert [shield_value(text) for text in ("none", *SHIELDS)] == [None, *SHIELDS]
    with pytest.raises(argparse.ArgumentTypeError, match=r"invalid choice: 'cbs' \(choose from none, pibt, guided-pibt\)"):
        shield_value("cbs")


def test_the_algo_help_names_every_registered_algorithm():
    for command in ("eval", "render"):
        (algo,) = [a for a in _subparsers()[command]._actions if a.dest == "algo"]
        for name, algorithm in REGISTRY.items():
            assert f"{name} ({algorithm.help})" in algo.help, (command, name)


def test_toolbox_registers_the_names_the_command_line_accepts():
    toolbox = pytest.importorskip("eval.toolbox")
    assert toolbox.TOOLBOX_ALGORITHMS is cli.TOOLBOX_ALGORITHMS


@pytest.mark.slow  # a whole quick Bottleneck evaluation through the CLI, ~6 s
def test_eval_with_a_checkpoint(checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    code = srmt(["eval", "bottleneck", "--checkpoint", str(checkpoint), "--quick", "--episodes", "2",
                     "--out", str(out), "--workers", "1", "--no-progress"])
    assert code == 0
    text = capsys.readouterr().out
    assert "2 episodes run, 0 already done" in text and "SRMT CSR:" in text
    records = json.loads((out / "SRMT.json").read_text())
    assert [r["env_grid_search"]["map_name"] for r in records] == ["bottleneck-3", "bottleneck-3"]


@pytest.mark.parametrize("argv, message", [
    (["eval", "nope"], "unknown suite 'nope'"),
    (["eval", "bottleneck", "--algo", "srmt", "--device", "tpu"], "device='tpu'"),
    (["eval", "puzzles", "--algo", "greedy", "--maps-dir", "/nonexistent/maps"], "does not exist"),
])
def test_bad_input_exits_2_with_the_reason(argv, message, capsys, tmp_path, checkpoint):
    if "--algo" in argv and "srmt" in argv:
        argv = argv + ["--checkpoint", str(checkpoint)]
        argv.remove("--algo"), argv.remove("srmt")
    assert srmt(argv + ["--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["eval", "bottleneck", "--workers", "0"], "--workers=0 must be an integer >= 1"),
    (["eval", "bottleneck", "--episodes", "-1"], "--episodes=-1 must be an integer >= 1"),
    (["eval", "bottleneck", "--seeds", "nan"], "--seeds=nan must be an integer >= 0"),
    (["render", "--map", "bottleneck-3", "--fps", "0"], "--fps=0 must be an integer in [1, 60]"),
    (["render", "--map", "bottleneck-3", "--fps", "-3"], "--fps=-3 must be an integer in [1, 60]"),
    (["render", "--map", "bottleneck-3", "--max-steps", "-1"], "--max-steps=-1 must be an integer >= 1"),
    (["demo", "--minutes", "0"], "--minutes=0.0 must be a finite number > 0"),
    (["bench", "env", "--envs", "0"], "--envs=0 must be an integer in [1, 16384]"),
    (["bench", "env", "--rounds", "0"], "--rounds=0 must be an integer in [1, 100]"),
    (["bench", "env", "--steps", "-1"], "--steps=-1 must be an integer in [1, 100000]"),
    (["bench", "train", "--seconds", "-5"], "--seconds=-5.0 must be in (0, 14400]"),
    (["imitate", "--learning-rate", "inf"], "--learning-rate=inf must be a finite number in (0, 1]"),
    (["eval", "bottleneck", "--agents", "2", "--agents", "3"], "option --agents is given twice"),
])
def test_numeric_options_are_range_checked_at_parse_time(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        srmt(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_corrupt_checkpoint_is_reported(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 100)
    code = srmt(["eval", "bottleneck", "--checkpoint", str(bad), "--quick", "--out", str(tmp_path / "o"),
                     "--no-progress"])
    assert code == 2
    assert "corrupt or truncated" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_the_policy_radius_sets_the_env_radius(tmp_path):
    cfg = ModelConfig.preset("bottleneck", obs_radius=3)
    path = save_policy(tmp_path / "r3.pt", SRMTPolicy(cfg), cfg, {}, {})
    out = tmp_path / "o"
    # evaluation builds the env with the policy's radius (3 here, not the bottleneck 2)
    assert srmt(["eval", "bottleneck", "--checkpoint", str(path), "--maps", "bottleneck-3", "--seeds", "0",
                     "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    assert json.loads((out / "run.json").read_text())["obs_radius"] == 3


@pytest.mark.slow
def test_a_list_of_checkpoints_gives_one_row_each(tmp_path, capsys):
    from agents.pretrained import default_policy_path, random_init_policy

    untrained = random_init_policy(tmp_path / "untrained.pt")
    out = tmp_path / "curve"
    argv = ["eval", "bottleneck", "--checkpoints", str(untrained), str(default_policy_path()), "--quick",
            "--workers", "1", "--out", str(out), "--no-progress"]
    assert srmt(argv) == 0
    rows = json.loads((out / "checkpoints.json").read_text())
    assert [Path(r["checkpoint"]).name for r in rows] == ["untrained.pt", "bottleneck_srmt.pt"]
    assert rows[0]["env_steps"] is None and rows[1]["env_steps"] > 0  # from each file's meta
    # the --quick Bottleneck subset: 4 maps x 2 seeds = 8 episodes per checkpoint
    assert rows[1]["mean"] > rows[0]["mean"] and {r["episodes"] for r in rows} == {8}
    assert (out / "00-untrained" / "episodes.jsonl").is_file() and (out / "01-bottleneck_srmt" / "summary.md").is_file()
    assert "| 1 | bottleneck_srmt.pt |" in capsys.readouterr().out
    assert srmt(argv) == 0  # resumes: every episode already done, none written twice
    assert [len((d / "episodes.jsonl").read_text().splitlines()) for d in sorted(out.glob("0*"))] == [8, 8]


def test_a_bad_file_in_the_list_fails_before_any_work(tmp_path, capsys):
    from agents.pretrained import default_policy_path

    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a policy")
    out = tmp_path / "curve"
    assert srmt(["eval", "bottleneck", "--checkpoints", str(default_policy_path()), str(bad), "--quick",
                 "--out", str(out), "--no-progress"]) == 2
    assert "bad.pt" in capsys.readouterr().err and not out.exists()


def test_checkpoints_refuse_an_algo_or_a_single_checkpoint(tmp_path, capsys):
    from agents.pretrained import default_policy_path

    out = tmp_path / "curve"
    assert srmt(["eval", "bottleneck", "--checkpoints", str(default_policy_path()), "--algo", "pibt", "--quick",
                 "--out", str(out), "--no-progress"]) == 2
    assert "--checkpoints evaluates SRMT policy files: drop --checkpoint / --algo" in capsys.readouterr().err
    assert not out.exists()


def test_the_backend_type_lists_every_backend():
    from typing import get_args

    from envs.backends import BACKENDS, Backend

    assert get_args(Backend) == tuple(BACKENDS)
