"""srmt bench hooks: both trees act with the same policy on the same observations and must agree."""
import json

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


def test_unknown_baseline_is_refused():
    with pytest.raises(SystemExit, match="--baseline no-such-commit: cannot check it out"):
        main(["bench", "hooks", "--baseline", "no-such-commit", "--steps", "1", "--rounds", "1"])
