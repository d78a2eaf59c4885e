"""Issue 33: every option honoured or refused on every path, every input checked before any work, exit 2 for
bad input everywhere (docs/bad_input.md lists the cases; the numbers below are the issue's)."""
from __future__ import annotations

import json

import pytest
import torch

from agents import AgentError
from agents.pretrained import default_policy_path
from agents.spec import AgentSpec
from cli.main import main as srmt
from srmt.checkpoint import save_policy
from srmt.config import ModelConfig
from srmt.model import SRMTPolicy

pytestmark = pytest.mark.usefixtures("no_plot")

SMALL = dict(hidden=16, heads=4, filters=4, resnet_blocks=0)
RESTART = {"on_target": "restart", "collision_system": "soft", "reward": "directional", "obs_radius": 5}
FINISH = {"on_target": "finish", "collision_system": "block_both", "obs_radius": 2}
ONE_PUZZLE = ["--agents", "2", "--maps", "puzzle-00", "--seeds", "0", "--workers", "1", "--backend", "torch",
              "--no-progress"]
LIFELONG = default_policy_path(lifelong=True)


def policy(tmp_path, variant: str, lifelong: bool = True, name: str | None = None):
    """A small untrained policy file of `variant` (lifelong: radius 5, restart; else the Bottleneck preset)."""
    torch.manual_seed(0)
    cfg = ModelConfig.preset("lifelong" if lifelong else "bottleneck", variant=variant, **(SMALL if lifelong else {}))
    return save_policy(tmp_path / (name or f"{variant}.pt"), SRMTPolicy(cfg), cfg, RESTART if lifelong else FINISH)


def test_checkpoints_honour_every_agent_option(tmp_path, capsys):
    """Case 1: --checkpoints takes --shield, --memory-intervention, --pool* and --compare like a single
    --checkpoint (before: a plain 'SRMT' run, shield none, and --compare dropped)."""
    path = policy(tmp_path, "srmt")
    mine = tmp_path / "mine.jsonl"
    mine.write_text(json.dumps({"metrics": {"avg_throughput": 0.5}, "algorithm": "Mine",
                                "env_grid_search": {"map_name": "puzzle-00", "num_agents": 2, "seed": 0}}) + "\n")
    out = tmp_path / "curve"
    assert srmt(["eval", "puzzles", "--checkpoints", str(path), "--shield", "pibt", "--memory-intervention",
                 "zero-pool", "--pool", "local", "--pool-neighbours", "2", "--compare", str(mine), "--out", str(out),
                 *ONE_PUZZLE]) == 0
    run = json.loads((out / "00-srmt" / "run.json").read_text())
    assert run["algorithm"] == "SRMT-local-k2-r5+pibt-shield-zero-pool"
    assert run["agent"]["shield"] == "pibt" and run["agent"]["memory_intervention"] == "zero-pool"
    assert run["agent"]["pool"] == {"pool": "local", "pool_neighbours": 2}
    assert "compared: Mine matched 1 of our 1 episodes (1 in its file)" in (out / "00-srmt" / "summary.md").read_text()
    assert "| 0 | srmt.pt |" in capsys.readouterr().out


def test_checkpoints_check_every_option_against_every_file_before_any_work(tmp_path, capsys):
    """Case 1: a gru policy among the files with --memory-intervention is refused naming the file and the
    option, before the first file runs (before: accepted)."""
    good, gru = policy(tmp_path, "srmt"), policy(tmp_path, "gru")
    out = tmp_path / "curve"
    assert srmt(["eval", "puzzles", "--checkpoints", str(good), str(gru), "--memory-intervention", "freeze",
                 "--out", str(out), *ONE_PUZZLE]) == 2
    err = capsys.readouterr().err
    assert f"error: {gru}: --memory-intervention freeze replaces the shared pool: it needs a policy with one " \
           "(variant 'srmt'; this one is 'gru')" in err
    assert not out.exists()


def test_pool_sizes_without_a_local_pool_are_refused(tmp_path):
    """Case 3: --pool-neighbours / --pool-radius on a policy reading the global pool, without --pool local
    (before: ignored, the run labelled '-global'); pool options on a variant without a pool."""
    with pytest.raises(AgentError, match=r"^--pool-neighbours size a local pool, but this policy reads the global "
                                         r"pool \(every agent\): add --pool local"):
        AgentSpec(checkpoint=str(LIFELONG), pool={"pool_neighbours": 4}).build()
    with pytest.raises(AgentError, match="--pool-neighbours / --pool-radius size a local pool"):
        AgentSpec(checkpoint=str(LIFELONG), pool={"pool_neighbours": 4, "pool_radius": 3, "pool": "global"}).build()
    assert AgentSpec(checkpoint=str(LIFELONG), pool={"pool": "local", "pool_neighbours": 4}).build().name == \
        "SRMT-local-k4-r5"
    with pytest.raises(AgentError, match=r"^--pool local --pool-radius 2: this policy is of variant 'rmt', which has "
                                         "no shared pool"):
        AgentSpec(checkpoint=str(policy(tmp_path, "rmt")), pool={"pool": "local", "pool_radius": 2}).build()


@pytest.mark.parametrize("argv, message", [
    (["--algo", "greedy", "--argmax"], "--sample / --argmax choose how an SRMT policy decodes its actions; 'greedy'"),
    (["--algo", "pibt", "--device", "cuda"], "--device cuda is where an SRMT policy runs; 'pibt' runs no policy"),
    (["--algo", "astar", "--pool-radius", "3"], "--memory-intervention and --pool act on an SRMT policy's"),
    (["--algo", "random", "--shield", "pibt"], "'random' picks one action per agent: drop --shield"),
])
def test_srmt_options_with_a_baseline_are_refused(argv, message, tmp_path, capsys):
    """Rule (a): an option the path does not use is refused, naming it (before: --argmax, --device ignored)."""
    assert srmt(["eval", "puzzles", *argv, "--out", str(tmp_path / "o"), *ONE_PUZZLE]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_render_takes_the_same_options_and_checks(tmp_path, capsys):
    assert srmt(["render", "--map", "puzzle-00", "--algo", "greedy", "--argmax", "--out", str(tmp_path / "r")]) == 2
    assert "--sample / --argmax choose" in capsys.readouterr().err and not (tmp_path / "r").exists()


def test_an_empty_compare_file_is_refused(tmp_path, capsys):
    """Case 7: before, an empty file was accepted and compared with nothing, silently."""
    empty = tmp_path / "empty.json"
    empty.write_text("")
    assert srmt(["eval", "puzzles", "--algo", "greedy", "--compare", str(empty), "--out", str(tmp_path / "o"),
                 *ONE_PUZZLE]) == 2
    assert f"--compare {empty}: the file holds no result records" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_scheduler_that_is_not_an_address_is_refused_at_once(tmp_path, capsys):
    """Case 9: before, the right message came after a 10 s wait, followed by a Client.__del__ traceback."""
    assert srmt(["eval", "puzzles", "--algo", "greedy", "--engine", "dask", "--scheduler", "notanaddress",
                 "--out", str(tmp_path / "o"), "--agents", "2", "--maps", "puzzle-00"]) == 2
    err = capsys.readouterr().err
    assert err == ("srmt eval: error: --scheduler 'notanaddress' is not a dask scheduler address (missing port number "
                   "in address 'notanaddress'); pass one like tcp://10.0.0.5:8786\n")


def test_a_policy_of_another_variant_is_labelled_by_it(tmp_path, monkeypatch):
    """Case 10: a policy of variant 'empty' writes SRMT-empty records, file and legend (before: SRMT)."""
    import eval.tables
    from eval.evaluate import evaluate

    drawn = []
    monkeypatch.setattr(eval.tables, "plot", lambda rows, suite, algorithms, path, labels=None: drawn.append(algorithms))
    result = evaluate("bottleneck", spec=AgentSpec(checkpoint=str(policy(tmp_path, "empty", lifelong=False))),
                      maps="bottleneck-3", seeds=[0], workers=1, out_dir=tmp_path / "o", progress=False)
    assert [r["algorithm"] for r in result.records] == ["SRMT-empty"]
    assert result.files["json"] == tmp_path / "o" / "SRMT-empty.json" and drawn == [["SRMT-empty"]]
    gru = evaluate("bottleneck", spec=AgentSpec(checkpoint=str(policy(tmp_path, "gru", lifelong=False))),
                   maps="bottleneck-3", seeds=[0], workers=1, progress=False, out_dir=tmp_path / "g",
                   compare=[str(result.files["json"])])
    assert gru.compared == {"SRMT-empty": (1, 1)} and drawn[-1] == ["SRMT-gru", "SRMT-empty"]  # not SRMT vs SRMT


def test_benchmark_bad_input_exits_2_before_any_measurement(tmp_path, capsys):
    """Cases 4-6: checked before measuring, exit 2 (bench pools exited 1 or 0 with an empty result)."""
    out = tmp_path / "out"
    cases = [
        (["bench", "pools", "--suites", "--scale-agents", "0", "--out", str(out)],
         "nothing to measure: --suites names no suite and --scale-agents is 0"),
        (["bench", "pools", "--scale-agents", "5", "--out", str(out)],
         "--scale-agents 5 is not an agent count of the scale suite [1024, 2048, 4096, 8192, 16384]"),
        (["bench", "scaling", "--agents", "256", "--parts", "env", "--steps", "1", "--episode-agents", "65536"],
         "--episode-agents 65536: "),
        (["bench", "interventions", "--work", str(tmp_path / "notes.txt"), "--out", str(out)],
         f"--work {tmp_path / 'notes.txt'}: it exists and is not a directory"),
        (["bench", "imitation", str(tmp_path / "missing.pt")], f"POLICY {tmp_path / 'missing.pt'} is not a file"),
        (["bench", "imitation", str(default_policy_path())], "the policy was trained for Bottleneck-style"),
        (["bench", "eval", "--checkpoint", str(LIFELONG)], f"--checkpoint {LIFELONG}: the per-agent reference loop "
                                                           "needs a memory='stored' policy"),
        (["bench", "attention", "--quick", "--lifelong-checkpoint", str(policy(tmp_path, "gru"))],
         f"--lifelong-checkpoint {tmp_path / 'gru.pt'} (run 'validation A=16'): attention to the shared memory needs "
         "a policy with a pool"),
        (["bench", "suites", "--algo", "greedy", "--decoding", "argmax", "--out", str(out)],
         "srmt bench suites: error: --decoding and --checkpoint are for --algo srmt (a policy file), not 'greedy'"),
    ]
    (tmp_path / "notes.txt").write_text("keep")
    for argv, message in cases:
        assert srmt(argv) == 2, argv
        captured = capsys.readouterr()
        assert message in captured.err, argv
        assert captured.out == "" and "Traceback" not in captured.err, argv
    assert not out.exists()


def test_bench_interventions_checks_every_row_before_the_first(tmp_path, capsys):
    """Case 4: a pool-less policy among --shielded / --policies is refused naming the benchmark's own
    options, before any row runs (before: a row ran, interventions.json was written without the bad row,
    and the message named srmt eval's --memory-intervention)."""
    gru = policy(tmp_path, "gru")
    out, work = tmp_path / "out", tmp_path / "work"
    assert srmt(["bench", "interventions", "--policies", str(LIFELONG), "--shielded", str(gru), "--interventions",
                 "zero-pool", "--quick", "--episodes", "1", "--workers", "1", "--out", str(out),
                 "--work", str(work)]) == 2
    err = capsys.readouterr().err
    assert f"--shielded {gru}: --interventions zero-pool replace the shared pool, but this policy is of variant " \
           "'gru', which has none: drop it from --shielded, or pass --interventions none" in err
    assert "--memory-intervention" not in err
    assert not out.exists() and not work.exists()
    twin = tmp_path / "twin"
    twin.mkdir()
    assert srmt(["bench", "interventions", "--policies", str(LIFELONG), str(policy(twin, "srmt", name=LIFELONG.name)),
                 "--out", str(out), "--work", str(work)]) == 2
    assert "would share the results folder 'lifelong_srmt'" in capsys.readouterr().err


def test_workers_with_the_dask_engine_is_refused(tmp_path, capsys):
    """Rule (a): --workers does nothing on a cluster (its workers run the episodes): refused, not ignored."""
    assert srmt(["eval", "puzzles", "--algo", "greedy", "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9",
                 "--workers", "3", "--out", str(tmp_path / "o"), "--agents", "2", "--maps", "puzzle-00"]) == 2
    assert "--workers sets the local engine's processes; with --engine dask" in capsys.readouterr().err


def test_a_report_that_cannot_be_replaced_stops_the_evaluation_before_it_runs(tmp_path, capsys):
    """Rules (b) and (e): a read-only summary.md left by an earlier run is found before any episode runs
    (not after the run, with ALGO.json and summary.csv already rewritten)."""
    out = tmp_path / "o"
    command = ["eval", "puzzles", "--algo", "greedy", "--out", str(out), "--agents", "2", "--maps", "puzzle-00",
               "--workers", "1", "--backend", "torch", "--no-progress", "--seeds"]
    assert srmt([*command, "0"]) == 0
    records = (out / "episodes.jsonl").read_bytes()
    (out / "summary.md").chmod(0o444)
    assert srmt([*command, "1"]) == 2
    assert f"{out / 'summary.md'}: it is read-only; nothing was written" in capsys.readouterr().err
    assert (out / "episodes.jsonl").read_bytes() == records
