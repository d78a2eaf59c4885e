"""SRMT and PIBT through pogema-toolbox's evaluator (the `toolbox` extra; skipped without it)."""
import pytest
import yaml

pytest.importorskip("pogema_toolbox", reason="the toolbox extra is not installed: pip install -e '.[toolbox]'")

from cli.main import main as srmt  # noqa: E402
from eval.evaluate import evaluate  # noqa: E402
from agents.spec import AgentSpec  # noqa: E402
from eval.suites import EvalError  # noqa: E402
from eval.toolbox import load_config, register, run_config  # noqa: E402

MAPS = ["validation-mazes-seed-000", "validation-mazes-seed-001"]
CONFIG = {  # a tiny slice of maps/data/pogema-benchmark/02-mazes/02-mazes.yaml
    "environment": {"name": "Environment", "on_target": "restart", "max_episode_steps": 128,
                    "observation_type": "POMAPF", "collision_system": "soft",
                    "seed": {"grid_search": [0, 1]}, "num_agents": {"grid_search": [8]},
                    "map_name": {"grid_search": MAPS}},
    "algorithms": {"SRMT": {"name": "SRMT"}, "PIBT": {"name": "PIBT"}},
}


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    register()
    path = tmp_path_factory.mktemp("toolbox") / "tiny.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    return path


def _by_episode(records):
    return {(r["algorithm"].upper(), r["env_grid_search"]["map_name"], r["env_grid_search"]["seed"]):
            r["metrics"] for r in records}

@pytest.mark.slow

def test_toolbox_evaluator_runs_srmt_and_pibt_like_srmt_eval(config_file, tmp_path):
    toolbox = _by_episode(run_config(load_config(config_file), tmp_path / "raw"))
    assert sorted((tmp_path / "raw").glob("*.json")) == [tmp_path / "raw" / "PIBT.json", tmp_path / "raw" / "SRMT.json"]
    assert len(toolbox) == 8  # 2 algorithms x 2 maps x 2 seeds
    ours = {}
    for algo in ("srmt", "pibt"):
        result = evaluate("mazes", spec=AgentSpec(algo=algo, lifelong=True), maps="|".join(MAPS), agents=[8],
                          seeds=[0, 1], out_dir=tmp_path / algo, workers=1, progress=False)
        ours.update(_by_episode(result.records))
    assert set(ours) == set(toolbox)
    for key, metrics in toolbox.items():  # same episodes, same agents, same random streams
        assert metrics["avg_throughput"] == ours[key]["avg_throughput"], key
        assert 0 < metrics["avg_agents_density"] <= ours[key]["avg_agents_density"]  # pogema's count never higher


def test_unknown_algorithm_and_replacing_the_algorithms(config_file, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**CONFIG, "algorithms": {"RHCR": {"name": "RHCR", "num_process": 32}}}))
    with pytest.raises(EvalError, match=r"algorithm 'RHCR' names 'RHCR', which is not registered with pogema-toolbox "
                                        r"\(registered: .*PIBT, SRMT.*\); pass --algo SRMT PIBT"):
        load_config(bad)
    config = load_config(bad, ["PIBT"], spec=AgentSpec())
    assert config["algorithms"] == {"PIBT": {"name": "PIBT"}}
    not_a_config = tmp_path / "x.yaml"
    not_a_config.write_text("a: 1\n")
    with pytest.raises(EvalError, match="not a pogema-toolbox config: it needs an 'environment:' mapping"):
        load_config(not_a_config)
    with pytest.raises(EvalError, match="cannot read toolbox config .*missing.yaml"):
        load_config(tmp_path / "missing.yaml")

@pytest.mark.slow

def test_toolbox_command_on_a_benchmark_config(capsys, tmp_path, config_file):
    assert srmt(["toolbox", str(config_file), "--algo", "PIBT", "--out", str(tmp_path / "raw")]) == 0
    out = capsys.readouterr().out
    assert "PIBT avg_throughput" in out and (tmp_path / "raw" / "PIBT.json").is_file()
    with pytest.raises(SystemExit) as exit_info:
        srmt(["toolbox", str(config_file), "--algo", "XYZ"])
    assert exit_info.value.code == 2 and "invalid choice: 'XYZ'" in capsys.readouterr().err


def test_a_policy_that_does_not_fit_the_config_is_refused_as_srmt_eval_does(config_file, tmp_path, capsys):
    from agents.pretrained import default_policy_path

    bottleneck = str(default_policy_path(lifelong=False))
    with pytest.raises(EvalError, match=r"the policy was trained for Bottleneck-style \(on_target=finish\) "
                                        r"episodes; suite 'toolbox config tiny.yaml' is lifelong"):
        load_config(config_file, ["SRMT"], spec=AgentSpec(checkpoint=bottleneck))
    assert srmt(["toolbox", str(config_file), "--algo", "SRMT", "--checkpoint", bottleneck]) == 2
    assert "srmt toolbox: error: the policy was trained for Bottleneck-style" in capsys.readouterr().err
    finish = tmp_path / "finish.yaml"
    finish.write_text(yaml.safe_dump({**CONFIG, "environment": {**CONFIG["environment"], "on_target": "finish"}}))
    assert load_config(finish, ["SRMT"])["algorithms"]["SRMT"]["lifelong"] is False  # the shipped one that fits


def test_toolbox_out_is_checked_before_the_evaluator_runs(config_file, tmp_path):
    from common.outputs import OutputPathError

    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(OutputPathError, match="--out .*notes.txt: it exists and is not a directory"):
        run_config(load_config(config_file, ["PIBT"]), tmp_path / "notes.txt")


def test_srmt_options_reach_the_entry_and_name_it(config_file, capsys):
    """Issue 33, case 2: --shield (and every agent option) reaches SRMT's entry, and the entry is keyed by its
    agent's name, so the records, the table and the file name say SRMT+pibt-shield (a later unshielded run
    writes SRMT.json beside it); SRMT options with PIBT alone are refused, naming them."""
    config = load_config(config_file, ["SRMT", "PIBT"], spec=AgentSpec(shield="pibt", seed=3))
    assert list(config["algorithms"]) == ["SRMT+pibt-shield", "PIBT"]
    assert config["algorithms"]["SRMT+pibt-shield"] == {"name": "SRMT", "shield": "pibt", "seed": 3, "lifelong": True}
    assert list(load_config(config_file, ["SRMT"], spec=AgentSpec())["algorithms"]) == ["SRMT"]
    own = load_config(config_file, spec=AgentSpec(memory_intervention="zero-pool"))  # the config's own entries
    assert list(own["algorithms"]) == ["PIBT", "SRMT-zero-pool"]  # the file keeps them sorted
    with pytest.raises(EvalError, match=r"^--agent-seed 3 --shield pibt: these options act on SRMT, but the run has "
                                        r"PIBT only: add SRMT to --algo, or drop them$"):
        load_config(config_file, ["PIBT"], spec=AgentSpec(shield="pibt", seed=3))
    assert srmt(["toolbox", str(config_file), "--algo", "PIBT", "--argmax"]) == 2
    assert capsys.readouterr().err.endswith("error: --argmax: this option acts on SRMT, but the run has PIBT only: "
                                            "add SRMT to --algo, or drop it\n")
