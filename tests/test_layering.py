"""The direction of dependencies between the packages (DESIGN.md, docs/architecture.md), checked over every
module's imports, and no import cycle between modules.

`common` (the ground floor) imports nothing of the project; `maps <- common`; `srmt` (pure torch) stands
alone but for `common`; `planners <- common`; `envs <- maps, planners`; `agents <- envs, srmt, planners`;
`train <- envs, srmt, planners`; `eval <- envs, agents`; `render <- eval`; `benchmarks` and `cli` (the
console script) sit on top, `cli` above `benchmarks`. Function-level imports count too.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_BELOW = {
    "common": set(),
    "maps": {"common"},
    "srmt": {"common"},
    "planners": {"common"},
    "envs": {"maps", "planners"},
    "agents": {"envs", "srmt", "planners"},
    "train": {"envs", "srmt", "planners"},
    "eval": {"envs", "agents"},
    "render": {"eval"},
    "benchmarks": {"render", "train"},
    "cli": {"benchmarks"},
}


def _closure(package: str) -> set[str]:
    """Every package `package` may import: those right below it and everything below them."""
    seen, todo = set(), list(_BELOW[package])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_BELOW[name])
    return seen


ALLOWED = {package: _closure(package) for package in _BELOW}


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


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports (`from pkg import mod` counts as pkg.mod)."""
    paths = [p for package in ALLOWED for p in sorted((ROOT / package).rglob("*.py"))]
    names = {_module_name(p) for p in paths}
    graph: dict[str, set[str]] = {}
    for path in paths:
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
            else:
                continue
            for target in targets:
                while target and target not in names:
                    target = target.rpartition(".")[0]
                if target:
                    edges.add(target)
        name = _module_name(path)
        graph[name] = edges - {name} - {n for n in names if name.startswith(n + ".")}  # a package's own __init__
    return graph


def test_no_import_cycle_between_modules():
    graph, state, cycles = module_graph(), {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_every_package_is_installed_and_doctested():
    """pyproject.toml names every package of the layering: installed (packages.find) and doctested (testpaths)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    installed = {name.rstrip("*") for name in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    doctested = set(project["tool"]["pytest"]["ini_options"]["testpaths"]) - {"tests"}
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert installed == doctested == packages == set(ALLOWED)
