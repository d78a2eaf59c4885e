"""`evaluate` end to end on tiny selections: records, resume, reports, parallel workers, bad input."""
import ast
import dataclasses
import hashlib
import json
from pathlib import Path

import matplotlib.image
import pytest
import torch
import yaml

from agents import AStarAgent, GreedyAgent, RandomAgent
from envs.config import resolve_config
from envs.errors import EnvConfigError
from envs.pogema_backend import make_grid_config
from envs.task import Task
from eval.evaluate import EvalOptions, evaluate, options_of
from eval.results import load_records
from eval.runner import AgentSpec, env_config
from eval.suites import EvalError, get_suite
from conftest import ASTAR_EPISODE, BENCHMARK_DIR

PUZZLES = {"puzzle-00": "....#\n..#.#\n#.#..\n.###.\n.....", "puzzle-01": "##...\n....#\n...##\n#....\n..#.."}


@pytest.fixture
def maps_dir(tmp_path):
    """A maps directory holding two of the benchmark's puzzle maps, in its layout."""
    root = tmp_path / "benchmark"
    (root / "05-puzzles").mkdir(parents=True)
    (root / "05-puzzles" / "maps.yaml").write_text(yaml.safe_dump(PUZZLES))
    return root


def _metrics(records):
    return {(r["env_grid_search"]["map_name"], r["env_grid_search"]["seed"]):
            {k: v for k, v in r["metrics"].items() if k != "runtime"} for r in records}


def test_bottleneck_records_are_pinned_and_in_raw_format(tmp_path):
    out = tmp_path / "out"
    result = evaluate("bottleneck", agent=AStarAgent(), maps="bottleneck-3", seeds=[0, 1], out_dir=out,
                      workers=1, progress=False)
    assert (result.ran, result.skipped) == (2, 0)
    first = result.records[0]
    assert first["env_grid_search"] == {"seed": 0, "num_agents": 2, "map_name": "bottleneck-3"}
    assert first["algorithm"] == "AStar"
    assert {k: v for k, v in first["metrics"].items() if k != "runtime"} == ASTAR_EPISODE  # the recorded episode
    exported = json.loads((out / "AStar.json").read_text())
    assert exported == result.records
    assert len((out / "episodes.jsonl").read_text().splitlines()) == 2
    md = (out / "summary.md").read_text()
    # 2 seeds: CSR 2/2 -> Wilson [0.34, 1]; SoC 99 and 44 -> mean 71.5, t(1 dof) = 12.706: 71.5 +- 12.706 * 27.5
    # (seed 1's SoC 44 is recorded from the same A* run: arrivals on steps 17 and 27)
    assert "| 3 | 1.00 [0.34, 1.00] | 1.00 [1.00, 1.00] | 71.5 [0.0, 420.9] | 2 |" in md
    csv_lines = (out / "summary.csv").read_text().splitlines()
    assert csv_lines[0] == "suite,algorithm,group_by,group,metric,n,mean,ci95_low,ci95_high"
    assert "bottleneck,AStar,corridor_length,3,SoC,2,71.5,0,420.915" in csv_lines
    # one panel per metric (CSR, ISR, SoC) of 4.2 x 3.4 inches at 120 dpi (eval/tables.py plot), not blank
    image = matplotlib.image.imread(out / "plot.png")
    assert image.shape == (408, 3 * 504, 4) and (image[..., :3] < 0.5).any()


def test_resume_skips_finished_episodes_and_repairs_a_cut_line(tmp_path, no_plot):
    out = tmp_path / "out"
    kw = dict(maps="bottleneck-(3|4)", seeds=[0, 1], out_dir=out, workers=1, progress=False)
    part = evaluate("bottleneck", agent=GreedyAgent(), episodes=3, **kw)
    assert part.ran == 3
    full = evaluate("bottleneck", agent=GreedyAgent(), **kw)
    assert (full.ran, full.skipped) == (1, 3)
    again = evaluate("bottleneck", agent=GreedyAgent(), **kw)
    assert (again.ran, again.skipped) == (0, 4)
    # An interruption in the middle of writing a line: that episode runs again, nothing else does.
    path = out / "episodes.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:3]) + "\n" + lines[3][: len(lines[3]) // 2])
    repaired = evaluate("bottleneck", agent=GreedyAgent(), **kw)
    assert (repaired.ran, repaired.skipped) == (1, 3)
    assert _metrics(repaired.records) == _metrics(full.records)
    assert len(load_records(path)) == 4


def test_results_of_another_agent_are_not_mixed(tmp_path, no_plot):
    out = tmp_path / "out"
    evaluate("bottleneck", agent=GreedyAgent(), maps="bottleneck-3", seeds=[0], out_dir=out, workers=1,
             progress=False)
    with pytest.raises(EvalError, match="holds results of another evaluation.*algorithm: 'Greedy' there, "
                                        "'Random' now"):
        evaluate("bottleneck", agent=RandomAgent(), maps="bottleneck-3", seeds=[0], out_dir=out, workers=1,
                 progress=False)
    assert len(load_records(out / "episodes.jsonl")) == 1


def test_output_directory_not_writable(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    from common.outputs import OutputPathError

    with pytest.raises(OutputPathError, match="--out .*file.txt/out: .*file.txt is a file, so nothing can be "
                                              "created under it; pass a path in a directory"):
        evaluate("bottleneck", agent=GreedyAgent(), maps="bottleneck-3", seeds=[0], out_dir=blocker / "out",
                 workers=1, progress=False)


def test_unknown_suite(tmp_path):
    with pytest.raises(EvalError, match="unknown suite 'bottlenecks'"):
        evaluate("bottlenecks", agent=GreedyAgent(), out_dir=tmp_path, progress=False)


def test_missing_maps_directory(tmp_path):
    with pytest.raises(EvalError, match="suite 'puzzles': maps directory .*nowhere does not exist; "
                                        "pass --maps-dir DIR"):
        evaluate("puzzles", agent=GreedyAgent(), maps_dir=str(tmp_path / "nowhere"), out_dir=tmp_path / "o",
                 progress=False)


def test_missing_map_names_the_replacing_file(maps_dir, tmp_path, monkeypatch):
    """A maps directory's 05-puzzles/maps.yaml replaces the shipped suite; maps it lacks are named."""
    # the suite has puzzle-00 .. puzzle-15, the file only 00 and 01: puzzle-02 and 13 more are missing
    with pytest.raises(EvalError, match=r"suite 'puzzles' needs map 'puzzle-02' and 13 more from "
                                        r"05-puzzles/maps.yaml: .*benchmark/05-puzzles/maps.yaml replaces the "
                                        r"shipped 05-puzzles maps; complete it from .*pogema-benchmark"):
        evaluate("puzzles", agent=GreedyAgent(), maps_dir=str(maps_dir), out_dir=tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists()


def test_benchmark_suites_need_no_maps_dir(tmp_path, monkeypatch, no_plot):
    monkeypatch.delenv("SRMT_MAPS_DIR", raising=False)
    result = evaluate("puzzles", agent=GreedyAgent(), maps="puzzle-0[01]", agents=[2], seeds=[0],
                      out_dir=tmp_path / "o", workers=1, progress=False)
    assert sorted(r["env_grid_search"]["map_name"] for r in result.records) == ["puzzle-00", "puzzle-01"]


def test_more_agents_than_free_cells_loses_nothing(maps_dir, tmp_path, no_plot):
    out = tmp_path / "out"
    kw = dict(maps_dir=str(maps_dir), maps="puzzle-00", out_dir=out, workers=1, progress=False)
    evaluate("puzzles", agent=GreedyAgent(), agents=[2], seeds=[0], **kw)
    # puzzle-00 by hand: 4 + 3 + 3 + 2 + 5 free cells in its five rows = 17
    with pytest.raises(EnvConfigError, match="num_agents=30 is more than the 17 free cells of map 'puzzle-00'"):
        evaluate("puzzles", agent=GreedyAgent(), agents=[2, 30], **kw)
    assert len(load_records(out / "episodes.jsonl")) == 1


def test_lifelong_suite_with_published_results_beside_ours(maps_dir, tmp_path):
    published = tmp_path / "RHCR.json"
    published.write_text(json.dumps([
        {"metrics": {"avg_throughput": 0.5, "runtime": 0.1},
         "env_grid_search": {"seed": 0, "num_agents": n, "map_name": m}, "algorithm": "RHCR"}
        for n in (2, 3, 4) for m in PUZZLES]))
    out = tmp_path / "out"
    result = evaluate("puzzles", agent=GreedyAgent(), maps_dir=str(maps_dir), quick=True, out_dir=out,
                      workers=1, progress=False, compare=[published])
    # pinned from a run of the greedy agent (regression values): goals reached / 256 steps
    assert [(r["env_grid_search"]["map_name"], r["env_grid_search"]["num_agents"], r["metrics"]["avg_throughput"])
            for r in result.records] == [("puzzle-00", 2, 1 / 256), ("puzzle-01", 2, 97 / 256),
                                         ("puzzle-00", 3, 15 / 256), ("puzzle-01", 3, 93 / 256)]
    md = (out / "summary.md").read_text()
    assert "| agents | avg_throughput Greedy | avg_throughput RHCR | n Greedy | n RHCR |" in md
    # mean over agent counts: ((1 + 97) / 512 + (15 + 93) / 512) / 2 = 0.201; RHCR restricted to our 4 episodes
    assert "| **all** | 0.201 | 0.500 | 4 | 4 |" in md
    assert result.compared == {"RHCR": (4, 6)}  # its file: 3 agent counts x 2 maps, seed 0
    assert "compared: RHCR matched 4 of our 4 episodes (6 in its file)" in md
    assert (out / "plot.png").exists()


def test_compare_file_must_be_raw_format(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"throughput": 1}]))
    with pytest.raises(EvalError, match=r"bad.json\[0\]: not a POGEMA raw result record"):
        evaluate("bottleneck", agent=GreedyAgent(), maps="bottleneck-3", seeds=[0], out_dir=tmp_path / "o",
                 progress=False, compare=[bad])

@pytest.mark.slow

def test_two_workers_give_the_same_results_as_one(tmp_path, no_plot):
    kw = dict(maps="bottleneck-(3|4|5)", seeds=[0, 1], progress=False)
    inline = evaluate("bottleneck", spec=AgentSpec("random", seed=2), out_dir=tmp_path / "a", workers=1, **kw)
    parallel = evaluate("bottleneck", spec=AgentSpec("random", seed=2), out_dir=tmp_path / "b", workers=2, **kw)
    assert parallel.ran == 6
    assert _metrics(parallel.records) == _metrics(inline.records)


def test_srmt_checkpoint_run_records_its_hash(tmp_path, no_plot):
    from srmt.checkpoint import save_policy
    from srmt.config import ModelConfig
    from srmt.model import SRMTPolicy

    torch.manual_seed(0)
    cfg = ModelConfig.preset("bottleneck")
    path = save_policy(tmp_path / "p.pt", SRMTPolicy(cfg), cfg, {}, {})
    out = tmp_path / "out"
    result = evaluate("bottleneck", spec=AgentSpec("srmt", checkpoint=str(path)), maps="bottleneck-3",
                      seeds=[0, 1], out_dir=out, workers=1, progress=False)
    assert [r["algorithm"] for r in result.records] == ["SRMT", "SRMT"]
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["agent"]["checkpoint_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    other = save_policy(tmp_path / "q.pt", SRMTPolicy(cfg), cfg, {}, {"algorithm": "SRMT"})
    with pytest.raises(EvalError, match="holds results of another evaluation.*checkpoint_sha256"):
        evaluate("bottleneck", spec=AgentSpec("srmt", checkpoint=str(other)), maps="bottleneck-3", seeds=[0],
                 out_dir=out, workers=1, progress=False)



WAREHOUSE = BENCHMARK_DIR / "03-warehouse" / "maps.yaml"


def test_warehouse_start_and_goal_markers_reach_pogema(tmp_path):
    root = tmp_path / "benchmark" / "03-warehouse"
    root.mkdir(parents=True)
    (root / "maps.yaml").write_text(WAREHOUSE.read_text())
    suite = get_suite("warehouse")
    episodes = suite.episodes(quick=True)
    grid = make_grid_config(resolve_config(env_config(suite, episodes[:1], 5, str(root.parent))), Task(0, 0))
    rows = WAREHOUSE.read_text().split("|-")[1].split()
    assert {rows[r][c] for r, c in grid.possible_agents_xy} == {".", "@"}
    assert {rows[r][c] for r, c in grid.possible_targets_xy} == {".", "$"}

def test_options_come_as_one_object_or_as_keywords():
    assert options_of(None, {"agents": [8, 16], "workers": 1}) == EvalOptions(agents=(8, 16), workers=1)
    assert options_of(EvalOptions(workers=3, backend="torch"), {"progress": False}) == \
        EvalOptions(workers=3, backend="torch", progress=False)
    with pytest.raises(TypeError, match=r"unknown evaluation option\(s\) \['episode'\]; EvalOptions fields"):
        options_of(None, {"episode": 1})


def test_every_keyword_the_benchmarks_pass_to_evaluate_is_an_option():
    """benchmarks/*.py call evaluate(..., episodes=..., workers=..., backend=...): those keywords must stay."""
    allowed = {"spec", "agent", "out_dir", "options"} | {f.name for f in dataclasses.fields(EvalOptions)}
    used = set()
    for path in sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "evaluate":
                used |= {k.arg for k in node.keywords if k.arg is not None}
    assert used and used <= allowed, sorted(used - allowed)


def test_the_command_line_sets_every_option_but_max_rows():
    import argparse

    from eval import cli

    parser = argparse.ArgumentParser()
    cli.add_subparser(parser.add_subparsers())
    common = ["eval", "mazes", "--maps-dir", "m", "--quick", "--maps", "x", "--agents", "8", "--seeds", "1",
              "--episodes", "3", "--compare", "none", "--no-progress", "--backend", "torch"]
    set_here = {f.name for f in dataclasses.fields(EvalOptions) if f.name != "max_rows"}
    local = cli.eval_options(parser.parse_args([*common, "--workers", "1"]))
    dask = cli.eval_options(parser.parse_args([*common, "--engine", "dask", "--scheduler", "tcp://h:1"]))
    assert {name for name in set_here for options in (local, dask)
            if getattr(options, name) != getattr(EvalOptions(), name)} == set_here
    with pytest.raises(ValueError, match="--workers sets the local engine's processes"):  # the cluster's business
        cli.eval_options(parser.parse_args([*common, "--workers", "1", "--engine", "dask", "--scheduler", "tcp://h:1"]))
