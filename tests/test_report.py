"""`srmt report` (eval/report.py): the README's lifelong and benchmark tables and the per agent count page
are what the committed result files give; the published means are the POGEMA benchmark paper's."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main as srmt
from eval.suites import get_suite
from eval.report import (ABLATION, ABLATION_BEGIN, ABLATION_END, ABLATION_FIGURE, BEGIN, BENCH, BENCH_BEGIN, BENCH_END,
                         BENCH_FORMAT, BENCH_ROWS, CURVES, CURVES_BEGIN, CURVES_END, END, FIGURE, RELAY_ABLATION,
                         RESULTS, ROOT, ReportError, ablation_block, bench_block, bench_row, curves_block,
                         per_count_page, published, readme_block, replace_block, stale)

# the POGEMA benchmark paper's table of lifelong results, typed by hand
PAPER_MEANS = {
    "mazes": {"RHCR": 1.554, "Follower": 1.140, "MATS-LP": 1.125, "QPLEX-tuned": 0.881, "MAMBA": 0.599},
    "random": {"RHCR": 2.164, "Follower": 1.637, "MATS-LP": 1.674, "QPLEX-tuned": 1.220, "MAMBA": 0.955},
    "warehouse": {"RHCR": 2.352, "Follower": 2.731, "MATS-LP": 1.701, "QPLEX-tuned": 2.017, "MAMBA": 1.510},
    "movingai": {"RHCR": 3.480, "Follower": 3.271, "MATS-LP": 3.320, "QPLEX-tuned": 2.992, "MAMBA": 1.737},
    "puzzles": {"RHCR": 0.538, "Follower": 0.319, "MATS-LP": 0.394, "QPLEX-tuned": 0.217, "MAMBA": 0.133},
}


@pytest.mark.parametrize("suite", list(PAPER_MEANS))
def test_published_means_from_the_shipped_files_are_the_papers(suite):
    scores = published(get_suite(suite))
    assert {name: round(scores[name].suite, 3) for name in PAPER_MEANS[suite]} == PAPER_MEANS[suite]


def _record(map_name: str, agents: int, throughput: float) -> dict:
    return {"metrics": {"avg_throughput": throughput}, "algorithm": "X",
            "env_grid_search": {"map_name": map_name, "num_agents": agents, "seed": 0}}


def test_tables_are_built_from_the_result_files(tmp_path):
    column = dict(key="mine", label="Mine", decoding="sample", shield="none", command="srmt eval SUITE",
                  machine="idle")
    (tmp_path / RESULTS).mkdir(parents=True)
    (tmp_path / RESULTS / "columns.json").write_text(json.dumps([column]))
    mazes = tmp_path / RESULTS / "mine" / "mazes"
    mazes.mkdir(parents=True)
    # 8 agents: mean of 0.2 and 0.4 = 0.3; 16 agents: 0.9 -> suite score (0.3 + 0.9) / 2 = 0.6
    m0, m1 = "validation-mazes-seed-000", "validation-mazes-seed-001"
    records = [_record(m0, 8, 0.2), _record(m1, 8, 0.4), _record(m0, 16, 0.9)]
    (mazes / "episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    block = readme_block(tmp_path)
    mazes_row = next(line for line in block.splitlines() if line.startswith("| Mazes |"))
    # ours, partial (3 of the suite's 768 episodes: not bold, said in the cell), then MAMBA's published mean
    assert mazes_row.startswith("| Mazes | 0.600 (partial: 3 of 768 episodes) | 0.599 |")
    assert next(line for line in block.splitlines() if line.startswith("| Random |")).startswith(
        "| Random | - (not run) |")
    assert "(every map, agent count and seed of each suite, except the cells marked partial or not run;" in block
    assert "`srmt eval SUITE`; sample actions, shield none; machine: idle" in block
    page = per_count_page(tmp_path)
    assert "| 8 | 0.300 |" in page and "| 16 | 0.900 |" in page and "| episodes | 3 of 768 |" in page
    assert "| **suite** | 0.600 (partial) |" in page
    readme = f"intro\n{block.replace('0.600', '0.700')}\noutro\n"
    fixed = replace_block(readme, block)
    assert fixed == f"intro\n{block}\noutro\n" and fixed.endswith(END + "\noutro\n")


def test_the_committed_readme_and_results_page_match_their_files():
    assert stale() == []


def _bench_record(title: str, summary: str, note: str = "loaded: tests") -> dict:
    return {"format": BENCH_FORMAT, "benchmark": "x", "title": title, "summary": summary, "target": ">= 5x",
            "figures": {"ratio": 7.5}, "command": "srmt bench x --out f.json", "date": "2026-01-01T00:00:00+00:00",
            "seconds": 1.0, "commit": None, "modified": False,
            "machine": {"note": note, "cpu_cores": 2, "load_average_before": 1.5, "load_average_after": 2.0}}


def _bottleneck_record(length: int, seed: int, csr: float, soc: float) -> dict:
    return {"algorithm": "SRMT", "metrics": {"CSR": csr, "ISR": csr, "SoC": soc},
            "env_grid_search": {"map_name": f"bottleneck-{length}", "num_agents": 2, "seed": seed}}


def test_bench_rows_come_from_result_files_and_evaluation_folders(tmp_path):
    (tmp_path / "r.json").write_text(json.dumps(_bench_record("Speed", "**7.50x**")))
    row = bench_row(tmp_path, Path("r.json"))
    assert (row.what, row.measured, row.target, row.command, row.machine) == (
        "Speed", "**7.50x**", ">= 5x", "srmt bench x --out f.json", "loaded: tests")
    (tmp_path / "plain.json").write_text(json.dumps(_bench_record("Speed", "1x", note="")))
    assert bench_row(tmp_path, Path("plain.json")).machine == "load average 1.5 before, 2.0 after, 2 cores"
    (tmp_path / "curve.json").write_text(json.dumps({"curve": []}))  # an old-style file, not a result record
    with pytest.raises(ValueError, match="not a benchmark result file"):
        bench_row(tmp_path, Path("curve.json"))

    folder = tmp_path / "shipped"
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"suite": "bottleneck"}))
    (folder / "how.json").write_text(json.dumps(dict(title="Shipped", command="srmt eval bottleneck",
                                                     machine="idle", target="CSR 1.0")))
    # L=3: one of two episodes solved (CSR 0.5); L=8: both; overall 3 of 4 -> 0.750; SoC (10+30+20+40)/4 = 25
    records = [_bottleneck_record(3, 0, 1.0, 10), _bottleneck_record(3, 1, 0.0, 30),
               _bottleneck_record(8, 0, 1.0, 20), _bottleneck_record(8, 1, 1.0, 40)]
    (folder / "episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    row = bench_row(tmp_path, Path("shipped"))
    assert row.measured.startswith("**CSR 0.750** [")
    assert row.measured.endswith(": 1.00 at every L but L=3 (0.50); SoC 25.0; partial: 4 of 580 episodes, L=3..8")
    assert (row.what, row.command, row.machine, row.target) == ("Shipped", "srmt eval bottleneck", "idle", "CSR 1.0")


def test_the_readme_bench_table_is_what_its_files_give():
    readme = (ROOT / "README.md").read_text()
    block = bench_block()
    assert block in readme
    assert replace_block(readme, block) == readme
    assert len([line for line in block.splitlines() if line.startswith("| ")]) == len(BENCH_ROWS) + 1  # + header


def test_every_bench_row_has_its_file_and_every_result_file_a_row():
    from benchmarks.options import RESULT_FORMAT

    assert RESULT_FORMAT == BENCH_FORMAT
    for source in BENCH_ROWS:
        path = ROOT / source
        files = [path / name for name in ("how.json", "run.json", "episodes.jsonl")] if path.is_dir() else [path]
        for file in files:
            assert file.is_file(), f"{source}: {file.name} is missing"
            assert file.stat().st_size < 2**20, f"{file} is over 1 MB: commit a summary"
        assert f"[`{source}`]({source})" in bench_block()
    committed = {path.relative_to(ROOT) for path in (ROOT / BENCH).glob("*.json")}
    assert committed == {source for source in BENCH_ROWS if source.suffix == ".json"}


def test_bench_block_has_a_row_per_file_naming_its_command_and_file(tmp_path, monkeypatch):
    import eval.report

    (tmp_path / "r.json").write_text(json.dumps(_bench_record("Speed (a|b)", "**7.50x**")))
    monkeypatch.setattr(eval.report, "BENCH_ROWS", (Path("r.json"),))
    assert bench_block(tmp_path).splitlines()[3] == (
        "| Speed (a\\|b) | **7.50x** | >= 5x | `srmt bench x --out f.json`; machine: loaded: tests; [`r.json`](r.json) |")


def _checkout(root: Path, monkeypatch, throughput: float = 0.5) -> Path:
    """A tiny checkout `srmt report` can rebuild: README.md with both blocks, one column complete on Puzzles
    (every one of its 480 episodes), one benchmark row; returns it."""
    import eval.report

    monkeypatch.setattr(eval.report, "BENCH_ROWS", (Path("r.json"),))
    column = dict(key="mine", label="Mine", decoding="sample", shield="none", command="srmt eval SUITE",
                  machine="idle")
    (root / RESULTS).mkdir(parents=True)
    (root / RESULTS / "columns.json").write_text(json.dumps([column]))
    (root / RESULTS / "mine" / "puzzles").mkdir(parents=True)
    records = [_record(ep.map_name, ep.num_agents, throughput) | {"env_grid_search": {
        "map_name": ep.map_name, "num_agents": ep.num_agents, "seed": ep.seed}} for ep in get_suite("puzzles").episodes()]
    (root / RESULTS / "mine" / "puzzles" / "episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (root / "r.json").write_text(json.dumps(_bench_record("Speed", "**7.50x**")))
    (root / FIGURE.parent).mkdir(parents=True)
    (root / "README.md").write_text(f"# x\n\n{BEGIN}\nold\n{END}\n\n{ABLATION_BEGIN}\nold\n{ABLATION_END}\n\n"
                                    f"{CURVES_BEGIN}\nold\n{CURVES_END}\n\n{BENCH_BEGIN}\nold\n{BENCH_END}\n")
    return root


def test_report_rebuilds_the_checkout_it_runs_in_not_the_installed_one(tmp_path, monkeypatch, capsys):
    """Issue 33, case 8: the tables of the current directory (or --root), never the installed tree's."""
    installed = (ROOT / "README.md").read_text()
    root = _checkout(tmp_path / "copy", monkeypatch)
    monkeypatch.chdir(root)
    assert srmt(["report", "--check"]) == 1
    assert capsys.readouterr().err.startswith(f"{root / 'README.md'}: differs from its result files")
    assert srmt(["report"]) == 0
    readme = (root / "README.md").read_text()
    assert "| Puzzles | **0.500** |" in readme and "except the cells marked partial or not run;" in readme
    assert "| Mazes | - (not run) |" in readme and "| Speed | **7.50x** |" in readme
    assert f"{ABLATION_BEGIN}\n## Does the shared memory help?\n\nNot run: " in readme
    assert f"{CURVES_BEGIN}\n## Learning curves\n\nNot run: " in readme
    assert (root / FIGURE).read_bytes().startswith(b"\x89PNG")
    assert srmt(["report", "--check"]) == 0
    monkeypatch.chdir(tmp_path)
    assert srmt(["report", "--check", "--root", str(root)]) == 0
    assert (ROOT / "README.md").read_text() == installed
    assert srmt(["report", "--root", str(tmp_path)]) == 2
    assert (f"--root {tmp_path} is not an srmt checkout (no README.md or {RESULTS / 'columns.json'})"
            in capsys.readouterr().err)


@pytest.mark.parametrize("damage, named", [
    (lambda root: (root / RESULTS / "columns.json").write_text('[{"key": "mine"'), "columns.json: not valid JSON"),
    (lambda root: (root / RESULTS / "columns.json").write_text('[{"key": "mine"}]'),
     "columns.json: missing label, decoding, shield, command, machine"),
    (lambda root: (root / RESULTS / "mine" / "puzzles" / "episodes.jsonl").write_text('{"metrics": \n{}\n'),
     "episodes.jsonl:1: invalid JSON line"),
    (lambda root: (root / "r.json").write_text(json.dumps({"format": BENCH_FORMAT, "title": "x"})),
     "r.json: missing summary, target, command, machine"),
    (lambda root: (root / "r.json").unlink(), "r.json: cannot read it (No such file or directory)"),
    (lambda root: (root / "README.md").write_text("no markers\n"), "README.md has no <!-- report:lifelong -->"),
])
def test_a_damaged_input_is_named_and_nothing_is_written(tmp_path, monkeypatch, capsys, damage, named):
    root = _checkout(tmp_path, monkeypatch)
    damage(root)
    readme = (root / "README.md").read_bytes()
    assert srmt(["report", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"srmt report: error: {root}") and named in err and "Traceback" not in err
    assert (root / "README.md").read_bytes() == readme
    assert not (root / RESULTS / "README.md").exists() and not (root / FIGURE).exists()


@pytest.mark.parametrize("lock", ["page", "folder"])
def test_an_unwritable_target_leaves_every_file_as_it_was(tmp_path, monkeypatch, capsys, lock):
    """All or none: a read-only results page (or a missing figure folder) is found before README.md is
    touched (before: README.md rewritten, then a failure on the page)."""
    root = _checkout(tmp_path, monkeypatch)
    page = root / RESULTS / "README.md"
    page.write_text("hand-protected\n")
    if lock == "page":
        page.chmod(0o444)
    else:
        (root / FIGURE.parent).rmdir()
    readme = (root / "README.md").read_bytes()
    assert srmt(["report", "--root", str(root)]) == 2
    expected = f"{page}: it is read-only" if lock == "page" else f"{root / FIGURE}: its folder"
    assert expected in capsys.readouterr().err
    assert (root / "README.md").read_bytes() == readme and page.read_text() == "hand-protected\n"
    assert not (root / FIGURE).exists() and not list(root.rglob(".*.new.*"))


def test_report_errors_are_bad_input():
    assert issubclass(ReportError, ValueError)


def _estimate(mean, lo=None, hi=None) -> dict:
    return {"mean": mean, "lo": lo, "hi": hi}


def _ablation_record(planned_seeds: int = 5, runs: int = 5) -> dict:
    """A summary `srmt bench ablation --out` could write: on the sparse reward, srmt with `runs` seeds (3 of which
    reached training CSR 0.9), empty with one seed (no intervals), gru not run."""
    srmt_cell = dict(reward="sparse", cell="srmt", runs=runs, seeds=list(range(runs)), CSR=_estimate(0.9, 0.8, 1.0),
                     ISR=_estimate(0.95, 0.9, 1.0), SoC=_estimate(300.0, 280.0, 320.0),
                     steps_to_csr90={"reached": 3, **_estimate(630_000, 410_000, 850_000)})
    empty_cell = dict(reward="sparse", cell="empty", runs=1, seeds=[0], CSR=_estimate(0.5), ISR=_estimate(0.75),
                      SoC=_estimate(400.0), steps_to_csr90={"reached": 0, **_estimate(None)})
    figures = dict(budget=1000, cells=["srmt", "empty", "gru"], rewards=["sparse"], seeds=planned_seeds,
                   planned=3 * planned_seeds, finished=runs + 1, steps_to_csr90_source="first CSR >= 0.9",
                   summary=[srmt_cell, empty_cell])
    return _bench_record("Ablation", "srmt ...") | {"benchmark": "ablation", "target": "SRMT first", "figures": figures}


def test_the_ablation_section_says_each_cells_seeds_and_intervals(tmp_path):
    (tmp_path / ABLATION.parent).mkdir(parents=True)
    (tmp_path / ABLATION).write_text(json.dumps(_ablation_record()))
    (tmp_path / ABLATION_FIGURE).write_bytes(b"\x89PNG")
    assert ablation_block(tmp_path) == f"""{ABLATION_BEGIN}
## Does the shared memory help?

From [`{ABLATION}`]({ABLATION}) (`srmt bench ablation`): Ablation.

**6 of 15 runs done; 1 of 3 cells complete.** Every cell is planned with 5 seeds; a cell with fewer than 5 seeds \
is incomplete (marked so in its row), and its figures are not yet a result. CSR, ISR and SoC: means over the \
cell's seeds of each run's mean over the test corridors, with 95% t intervals over seeds (none with one seed). Env \
steps to CSR 0.9: first CSR >= 0.9, in the runs that reached it (k of n). Target: SRMT first.

### sparse reward

| cell | seeds | CSR | ISR | SoC | env steps to training CSR 0.9 |
|---|---|---|---|---|---|
| srmt | 5 of 5 | 0.900 [0.800, 1.000] | 0.950 [0.900, 1.000] | 300.0 [280.0, 320.0] | 3 of 5 reached: 0.63M [0.41M, \
0.85M] |
| empty | 1 of 5 (incomplete) | 0.500 | 0.750 | 400.0 | 0 of 1 reached |
| gru | 0 of 5 (not run) | - | - | - | - |

![CSR against corridor length, one curve per cell and reward scheme]({ABLATION_FIGURE})

Measured by `srmt bench x --out f.json` (2026-01-01T00:00:00+00:00); machine: loaded: tests.
{ABLATION_END}"""


def test_a_cell_with_fewer_than_five_seeds_is_incomplete_even_when_the_run_planned_fewer(tmp_path):
    (tmp_path / ABLATION.parent).mkdir(parents=True)
    (tmp_path / ABLATION).write_text(json.dumps(_ablation_record(planned_seeds=3, runs=3)))
    block = ablation_block(tmp_path)
    assert "**4 of 9 runs done; 0 of 3 cells complete.** Every cell is planned with 3 seeds; a cell with fewer " \
           "than 5 seeds is incomplete" in block
    assert "\n| srmt | 3 of 5 (incomplete) | 0.900 [0.800, 1.000] |" in block
    assert f"(no figure: `{ABLATION_FIGURE}` is not there)" in block


def test_the_relay_ablation_is_a_subsection_after_the_bottleneck_one(tmp_path):
    for source in (ABLATION, RELAY_ABLATION):
        (tmp_path / source.parent).mkdir(parents=True, exist_ok=True)
        record = _ablation_record()
        record["title"] = f"Ablation of {source.parent.name}"
        (tmp_path / source).write_text(json.dumps(record))
    block = ablation_block(tmp_path)
    bottleneck, relay = block.split("### The relay task")
    assert f"From [`{ABLATION}`]({ABLATION}) (`srmt bench ablation`): Ablation of ablation." in bottleneck
    assert "\n### sparse reward\n" in bottleneck and RELAY_ABLATION.name not in bottleneck
    assert f"From [`{RELAY_ABLATION}`]({RELAY_ABLATION}) (`srmt bench ablation`): Ablation of memory-task." in relay
    assert "\n#### sparse reward\n" in relay and "\n| srmt | 5 of 5 | 0.900 [0.800, 1.000] |" in relay
    assert f"(no figure: `{RELAY_ABLATION.with_suffix('.png')}` is not there)" in relay
    assert block.endswith(f"machine: loaded: tests.\n{ABLATION_END}")


def test_sections_without_their_files_say_not_run(tmp_path):
    assert ablation_block(tmp_path) == (
        f"{ABLATION_BEGIN}\n## Does the shared memory help?\n\nNot run: `{ABLATION}` is not there yet (`srmt bench "
        f"ablation --out {ABLATION}` writes it).\n{ABLATION_END}")
    assert curves_block(tmp_path) == (
        f"{CURVES_BEGIN}\n## Learning curves\n\nNot run: no result files in `{CURVES}/` yet (`srmt bench lifelong "
        f"--out {CURVES}/NAME.json` and `srmt bench imitation POLICY --out {CURVES}/NAME.json` write them).\n"
        f"{CURVES_END}")


def _curve_record(benchmark: str, figures: dict) -> dict:
    return _bench_record(f"{benchmark} curve", "...") | {"benchmark": benchmark, "figures": figures}


def test_learning_curves_have_a_table_per_result_file(tmp_path):
    (tmp_path / CURVES).mkdir(parents=True)
    lifelong = dict(stage="appo-shielded", init_policy="bc.pt", training_shield="pibt", shield="pibt",
                    decodings=["argmax"], baselines={"greedy": {"throughput": 0.5}, "pibt": {"throughput": 1.5}},
                    curve=[dict(wall_minutes=0.3, env_steps=0, argmax={"throughput": 1.2}),
                           dict(wall_minutes=2.67, env_steps=700_416, argmax={"throughput": 1.3})])
    (tmp_path / CURVES / "b-appo.json").write_text(json.dumps(_curve_record("lifelong", lifelong)))
    old = json.loads((ROOT / "docs/results/imitation/hidden32.json").read_text())  # figures of an older run
    (tmp_path / CURVES / "a-bc.json").write_text(json.dumps(_curve_record("imitation", old)))
    block = curves_block(tmp_path)
    bc = block.index("### a-bc")
    assert block[bc:block.index("### appo-shielded")].splitlines()[:7] == [
        "### a-bc", "",
        f"[`{CURVES}/a-bc.json`]({CURVES}/a-bc.json) (`srmt bench imitation`): imitation curve. Initial policy: "
        "not recorded.", "",
        "| wall min | samples | held-out accuracy | no shield | pibt shield |", "|---|---|---|---|---|",
        "| - | 1,007,616 | 0.704 | 0.381 | 0.922 |"]
    assert "| - | 10,002,432 | 0.722 | 0.560 | 1.467 |\n\nMeasured by" in block
    assert block[block.index("### appo-shielded"):] == f"""### appo-shielded

[`{CURVES}/b-appo.json`]({CURVES}/b-appo.json) (`srmt bench lifelong`): lifelong curve. Initial policy: `bc.pt`.

| wall min | env steps | argmax actions, pibt shield |
|---|---|---|
| 0.3 | 0 | 1.200 |
| 2.7 | 700,416 | 1.300 |

Baselines on the same episodes: greedy 0.500, pibt 1.500. Measured by `srmt bench x --out f.json` \
(2026-01-01T00:00:00+00:00); machine: loaded: tests.
{CURVES_END}"""
    (tmp_path / CURVES / "c.json").write_text(json.dumps(_bench_record("Speed", "1x")))
    with pytest.raises(ReportError, match=r"c.json: not a result file of `srmt bench lifelong / imitation --out` "
                                          r"\(format 'srmt-bench-1', benchmark 'x'\)"):
        curves_block(tmp_path)
