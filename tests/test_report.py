"""`srmt report` (eval/tables.py): the README's lifelong table and the per agent count page are what the
committed result files give; the published means are the POGEMA benchmark paper's."""
from __future__ import annotations

import json

import pytest

from eval.suites import get_suite
from eval.tables import END, RESULTS, per_count_page, published, readme_block, replace_block, stale

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
    records = [_record("m0", 8, 0.2), _record("m1", 8, 0.4), _record("m0", 16, 0.9)]
    (mazes / "episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    block = readme_block(tmp_path)
    mazes_row = next(line for line in block.splitlines() if line.startswith("| Mazes |"))
    assert mazes_row.startswith("| Mazes | **0.600** | 0.599 |")  # ours, then MAMBA's published mean
    assert next(line for line in block.splitlines() if line.startswith("| Random |")).startswith("| Random | - |")
    assert "`srmt eval SUITE`; sample actions, shield none; machine: idle" in block
    page = per_count_page(tmp_path)
    assert "| 8 | 0.300 |" in page and "| 16 | 0.900 |" in page and "| episodes | 3 |" in page
    readme = f"intro\n{block.replace('0.600', '0.700')}\noutro\n"
    (tmp_path / "README.md").write_text(readme)
    assert "README.md" in stale(tmp_path)
    fixed = replace_block(readme, block)
    assert fixed == f"intro\n{block}\noutro\n" and fixed.endswith(END + "\noutro\n")


def test_the_committed_readme_and_results_page_match_their_files():
    assert stale() == []
