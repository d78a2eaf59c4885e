"""The direction of dependencies between the packages (DESIGN.md), checked over every module's imports.

`maps <- envs`, `srmt` stands alone, `agents <- envs, srmt`, `train <- envs, srmt`,
`eval <- envs, agents`; every package may use `maps` below it; `cli` (the console script) and `benchmarks` sit on top.
Function-level imports count too.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {
    "maps": set(),
    "srmt": set(),
    "envs": {"maps"},
    "agents": {"envs", "srmt", "maps"},
    "train": {"envs", "srmt", "maps"},
    "eval": {"envs", "agents", "maps"},
    "cli": {"maps", "srmt", "envs", "agents", "train", "eval", "benchmarks"},
    "benchmarks": {"maps", "srmt", "envs", "agents", "train", "eval", "cli"},
}


def project_imports(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import of a project package in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, name.split(".")[0]) for name in names if name.split(".")[0] in ALLOWED]
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_package_reaches_upward(package):
    modules = sorted((ROOT / package).rglob("*.py"))
    assert modules
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {target}"
             for path in modules for line, target in project_imports(path)
             if target != package and target not in ALLOWED[package]]
    assert wrong == []


def test_the_checker_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import os\nfrom maps import grid\n\ndef f():\n    from eval.cli import main\n    import train.run\n")
    assert project_imports(module) == [(2, "maps"), (5, "eval"), (6, "train")]
