"""The POGEMA benchmark's published results shipped beside the maps, and `--compare` (names, files, none)."""
import json
from pathlib import Path

import pytest
import yaml

from agents import GreedyAgent
from cli.main import main as srmt
from eval.evaluate import evaluate
from eval.tables import match_counts
from eval.results import compare_paths, label_compared, load_records, published_files
from eval.suites import EvalError, get_suite
from maps.registry import BENCHMARK_DIR, load_collection

LIFELONG = ("random", "mazes", "warehouse", "movingai", "puzzles")
NAMES = ["Follower", "MAMBA", "MATS-LP", "QMIX-tuned", "QPLEX-tuned", "RHCR"]
QUICK = dict(quick=True, workers=1, progress=False)
"""The --quick Puzzles subset: puzzle-00 and puzzle-01, 2 and 3 agents, seed 0 (4 episodes)."""


def _mean(path: Path, keys: set) -> float:
    """Mean over agent counts of the per-count mean throughput of a file's records of `keys`, by hand."""
    by_count: dict[int, list[float]] = {}
    for r in json.loads(path.read_text()):
        grid = r["env_grid_search"]
        if (grid["map_name"], grid["num_agents"], grid.get("seed", 0)) in keys:
            by_count.setdefault(grid["num_agents"], []).append(r["metrics"]["avg_throughput"])
    return sum(sum(v) / len(v) for v in by_count.values()) / len(by_count)


@pytest.mark.parametrize("name", LIFELONG)
def test_every_lifelong_suite_ships_six_published_results(name):
    suite = get_suite(name)
    files = published_files(suite)
    assert list(files) == NAMES
    for path in files.values():
        records = load_records(path, suite.maps[0] if len(suite.maps) == 1 else None)
        assert {r["env_grid_search"]["map_name"] for r in records} <= set(suite.maps)


def test_the_package_data_ships_them():
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert '"data/pogema-benchmark/*/published/*.json"' in text
    assert "published/ALGO.json" in (BENCHMARK_DIR / "SOURCE.md").read_text()


def test_warehouse_records_name_no_map_and_match_the_suite_map():
    """The benchmark's Warehouse files give seed and agents only: the suite's one map is theirs."""
    path = published_files(get_suite("warehouse"))["Follower"]
    assert "map_name" not in json.loads(path.read_text())[0]["env_grid_search"]
    ours = [{"algorithm": "Ours", "metrics": {},
             "env_grid_search": {"map_name": "wfi_warehouse", "num_agents": 32, "seed": s}} for s in (0, 1)]
    # 6 agent counts x 128 seeds = 768 episodes in the file, both of ours among them
    assert match_counts(ours, load_records(path, "wfi_warehouse")) == {"Follower": (2, 768)}


def test_default_compares_with_every_published_result_on_our_episodes(tmp_path):
    out = tmp_path / "out"
    result = evaluate("puzzles", agent=GreedyAgent(), out_dir=out, compare=None, **QUICK)
    # the published Puzzles files hold 16 maps x 3 agent counts x 10 seeds = 480 episodes each
    assert result.compared == {name.replace("-tuned", ""): (4, 480) for name in NAMES}
    md = (out / "summary.md").read_text()
    assert "compared: Follower matched 4 of our 4 episodes (480 in its file)" in md
    assert "| agents | avg_throughput Greedy | avg_throughput Follower |" in md
    keys = {(r["env_grid_search"]["map_name"], r["env_grid_search"]["num_agents"], 0) for r in result.records}
    rhcr = _mean(published_files(get_suite("puzzles"))["RHCR"], keys)
    all_row = next(line for line in md.splitlines() if line.startswith("| **all** |"))
    assert f"{rhcr:.3f}" in all_row.split(" | ")[7]  # columns: all, Greedy, Follower, MAMBA, MATS-LP, QMIX, QPLEX, RHCR
    assert (out / "plot.png").stat().st_size > 1000


@pytest.mark.slow  # end to end: a whole command or evaluation
def test_names_pick_published_results_and_none_turns_them_off(tmp_path):
    picked = evaluate("puzzles", agent=GreedyAgent(), out_dir=tmp_path / "a", compare=["Follower", "rhcr"], **QUICK)
    assert list(picked.compared) == ["Follower", "RHCR"]
    off = evaluate("puzzles", agent=GreedyAgent(), out_dir=tmp_path / "b", compare=["none"], **QUICK)
    assert off.compared == {} and "compared" not in (tmp_path / "b" / "summary.md").read_text()
    with pytest.raises(EvalError, match="--compare none compares with nothing: give it alone"):
        compare_paths(get_suite("puzzles"), ["none", "RHCR"])


def test_an_unknown_name_lists_the_published_ones_before_any_work(tmp_path, capsys):
    out = tmp_path / "o"
    assert srmt(["eval", "puzzles", "--algo", "greedy", "--quick", "--compare", "Folower", "--out", str(out),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert ("--compare 'Folower' is neither a results file nor a published algorithm of suite 'puzzles'; "
            "published: Follower, MAMBA, MATS-LP, QMIX-tuned, QPLEX-tuned, RHCR") in err
    assert not out.exists()


def test_suites_without_published_results_compare_nothing_by_default(tmp_path):
    result = evaluate("bottleneck", agent=GreedyAgent(), maps="bottleneck-3", seeds=[0], out_dir=tmp_path / "o",
                      compare=None, workers=1, progress=False)
    assert result.compared == {} and result.compare_note == ""
    with pytest.raises(EvalError, match="suite 'validation' has no published results"):
        compare_paths(get_suite("validation"), ["RHCR"])


@pytest.mark.slow  # end to end: a whole command or evaluation
def test_maps_that_replace_the_benchmark_grids_are_not_compared_by_default(tmp_path):
    shipped = load_collection(BENCHMARK_DIR / "05-puzzles" / "maps.yaml")
    same, other = tmp_path / "same" / "05-puzzles", tmp_path / "other" / "05-puzzles"
    for folder, grids in [(same, shipped), (other, {**shipped, "puzzle-00": "....#\n.....\n#.#..\n.###.\n....."})]:
        folder.mkdir(parents=True)
        (folder / "maps.yaml").write_text(yaml.safe_dump(grids))
    kw = dict(maps="puzzle-00", agents=[2], seeds=[0], compare=None, workers=1, progress=False)
    copy = evaluate("puzzles", agent=GreedyAgent(), maps_dir=str(same.parent), out_dir=tmp_path / "a", **kw)
    assert copy.compare_note == "" and len(copy.compared) == 6
    changed = evaluate("puzzles", agent=GreedyAgent(), maps_dir=str(other.parent), out_dir=tmp_path / "b", **kw)
    assert changed.compared == {}
    assert "replaces the benchmark's 05-puzzles maps with other grids" in changed.compare_note
    assert changed.compare_note in (tmp_path / "b" / "summary.md").read_text()


@pytest.mark.slow  # end to end: a whole command or evaluation
def test_our_own_earlier_results_are_kept_apart_from_ours(tmp_path):
    """Issue: a compared file whose algorithm is ours was merged into our rows (4 episodes said, 8 in tables)."""
    evaluate("puzzles", agent=GreedyAgent(), out_dir=tmp_path / "before", compare=["none"], **QUICK)
    earlier = tmp_path / "before" / "Greedy.json"
    out = tmp_path / "now"
    result = evaluate("puzzles", agent=GreedyAgent(), out_dir=out, compare=[earlier], **QUICK)
    assert result.compared == {"Greedy (Greedy.json)": (4, 4)}
    md = (out / "summary.md").read_text()
    assert ("| agents | avg_throughput Greedy | avg_throughput Greedy (Greedy.json) | n Greedy "
            "| n Greedy (Greedy.json) |") in md
    csv_rows = [line.split(",") for line in (out / "summary.csv").read_text().splitlines()[1:]]
    assert {(row[1], row[5]) for row in csv_rows if row[3] == "all"} == {("Greedy", "4"), ("Greedy (Greedy.json)", "4")}


def test_one_algorithm_in_two_files_is_labelled_by_each_file(tmp_path):
    record = {"metrics": {"avg_throughput": 1.0}, "env_grid_search": {"map_name": "m", "num_agents": 2},
              "algorithm": "RHCR"}
    sources = [(tmp_path / "a" / "RHCR.json", [record]), (tmp_path / "b" / "RHCR.json", [record]),
               (tmp_path / "c.json", [{**record, "algorithm": "Follower"}])]
    labels = [r["algorithm"] for r in label_compared(sources, "SRMT")]
    assert labels == [f"RHCR ({tmp_path / 'a' / 'RHCR.json'})", f"RHCR ({tmp_path / 'b' / 'RHCR.json'})", "Follower"]


def test_the_terminal_shows_ours_beside_theirs_per_agent_count(tmp_path, capsys):
    assert srmt(["eval", "puzzles", "--algo", "greedy", "--quick", "--compare", "Follower", "RHCR", "--out",
                 str(tmp_path / "o"), "--workers", "1", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert ("compared with Follower: 4 of our 4 episodes matched by map, agents and seed "
            "(480 episodes in its file)") in text
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if line.split() == ["agents", "Greedy", "Follower", "RHCR"])
    assert [line.split()[0] for line in lines[head + 1:head + 5]] == ["2", "3", "all", "episodes"]
    assert lines[head + 4].split() == ["episodes", "4", "4", "4"]
