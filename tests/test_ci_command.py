"""CI runs exactly the test command README.md gives (its second command), on every core."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    first_block = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    commands = first_block.strip().splitlines()
    assert len(commands) == 2 and commands[0].endswith("srmt demo")
    assert (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1] == commands[1]
    assert commands[1].endswith('pip install -q -e ".[test,toolbox,cluster]" && .venv/bin/python -m pytest -q -n auto')
    test_extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    assert "pytest-xdist==3.8.0" in test_extra  # `-n auto` needs it, pinned
