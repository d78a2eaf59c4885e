"""srmt bench pools: the table's cells are `srmt eval`'s figures, and a local pool that reaches every agent
scores what the global pool scores on the same episodes."""
import json

import pytest

from benchmarks import BENCHMARKS
from cli.main import main


@pytest.mark.slow  # end to end: a whole command or evaluation
def test_local_pool_reaching_everyone_equals_global(tmp_path):
    assert main(["bench", "pools", "--suites", "puzzles", "--episodes", "2", "--scale-agents", "0",
                 "--neighbours", "4", "--radius", "8", "--out", str(tmp_path / "out"),
                 "--work", str(tmp_path / "work")]) == 0
    table = json.loads((tmp_path / "out" / "pools.json").read_text())["figures"]["table"]
    assert [t["row"] for t in table] == ["lifelong_srmt", "lifelong_srmt+local-k4-r8"]
    glob, local = (t["cells"]["puzzles"] for t in table)
    assert glob["agents"] == 4 and glob["episodes"] == 2
    assert local["mean"] == glob["mean"]
    assert "| lifelong_srmt+local-k4-r8 |" in (tmp_path / "out" / "pools.md").read_text()
    assert "pools" in BENCHMARKS
