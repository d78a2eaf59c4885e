"""srmt bench hooks: both trees act with the same policy on the same observations and must agree."""
import json
import subprocess

import pytest

from cli.main import main


@pytest.mark.slow  # end to end: a whole command or evaluation
def test_hooks_benchmark_compares_two_trees(tmp_path):
    out = tmp_path / "hooks.json"
    assert main(["bench", "hooks", "--baseline", "HEAD", "--envs", "1", "--agents", "4", "--steps", "1",
                 "--rounds", "1", "--out", str(out)]) == 0
    figures = json.loads(out.read_text())["figures"]
    assert figures["identical_logits"] is True
    assert set(figures["agent_steps_per_s"]) == {"this checkout", "baseline HEAD"}
    assert [len(runs) for runs in figures["runs"].values()] == [1, 1]


def test_bad_input_is_refused_before_any_worktree_is_made(tmp_path, capsys):
    """Issue 33, cases 4 and 5: a missing policy file or an unknown commit exits 2 naming it, and no git
    worktree was made (before: a worktree, then a child's traceback; an unknown commit exited 1)."""
    from benchmarks.options import ROOT

    def worktrees() -> str:
        return subprocess.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True).stdout

    before = worktrees()
    assert main(["bench", "hooks", "--baseline", "no-such-commit", "--steps", "1", "--rounds", "1"]) == 2
    assert "error: --baseline no-such-commit: not a commit of this repository" in capsys.readouterr().err
    missing = tmp_path / "missing.pt"
    assert main(["bench", "hooks", "--checkpoint", str(missing), "--steps", "1", "--rounds", "1"]) == 2
    assert f"{missing}" in capsys.readouterr().err
    assert worktrees() == before
