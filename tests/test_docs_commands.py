"""Every `srmt ...` command written in README.md and docs/*.md is checked against the real parsers.

Nothing runs: the console script's parser is built (`cli.main.build_parser`) and the command's argv
is parsed; no sub-command's `func` is ever called.

What is collected:

- **fenced** commands: lines of ``` code blocks that start with `srmt ` (a leading `$ ` prompt is
  dropped). A trailing `\\` joins the next line; in a usage synopsis, indented lines that start with
  `[` right below it continue it too. A `#` after whitespace starts a comment. A line whose second
  word ends with `:` (`srmt train: error: ...`) is program output, not a command;
- **inline** commands: `srmt ...` code spans in the prose (they may wrap over lines).

How each one is checked:

1. the sub-command path (`srmt maps show`, `srmt bench env`) must exist. A path that goes on with an
   upper-case placeholder where a sub-command belongs (`srmt COMMAND --help`, `srmt bench NAME`)
   names no command and is skipped;
2. every `--flag` written must be an option of that command, spelled in full (argparse would also
   accept an abbreviation, which this check does not);
3. a fenced command that is a **synopsis** (it holds `[`, `]`, `|` or `...` tokens) or asks for
   `--help` stops there, except that `--flag a|b|c` alternatives must be choices of the flag when
   it has choices. Any other fenced command is **concrete**: placeholders in `PLACEHOLDERS`
   are replaced by sample values, and argparse must accept the whole argv (its `SystemExit` is
   reported as a failure naming the doc file and line), as must cli/main.py's check that no option
   is given twice. Inline spans get checks 1-2 only: they are often fragments.

`srmt train` passes its arguments through unparsed (train/cli.py `_PassThroughParser`) to
train/overrides.py: its options are checked against the override keys train/overrides.py resolves
(`resolve_key`: run / env / model / sample-factory fields) plus `--verbose`, the one flag
train/run.py takes itself; `--preset` must name a preset, and a concrete command must also pass
`parse_overrides` (every option has a value, none is given twice).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

PLACEHOLDERS = {
    "SUITE": "mazes", "FILE": "policy.pt", "POLICY": "policy.pt", "DIR": "runs/docs-check",
    "CONFIG": "config.yaml", "N": "8", "S": "0", "K": "2", "T": "10", "F": "6", "RE": "bottleneck-.*",
    "REGEX": "bottleneck-.*", "ADDRESS": "tcp://127.0.0.1:8786", "OUT.png": "map.png",
}
"""Placeholders of concrete commands -> sample values (NAME is left out: it stands for a map, a
preset or a published method depending on the option, so a line using it must be a synopsis)."""

TRAIN_FLAGS = {"--verbose"}
"""Flags of `srmt train` that are not config overrides (train/run.py `train` takes them out)."""

SYNOPSIS_MARKS = ("[", "]", "|", "...")


@dataclass(frozen=True)
class DocCommand:
    file: str
    line: int
    text: str
    fenced: bool

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.text}"


def _strip_comment(line: str) -> str:
    return re.split(r"\s#", line, maxsplit=1)[0].rstrip()


def fenced_commands(path: Path) -> list[DocCommand]:
    lines = path.read_text().splitlines()
    found, fence, i = [], False, 0
    while i < len(lines):
        raw = lines[i]
        i += 1
        if raw.lstrip().startswith("```"):
            fence = not fence
            continue
        text = raw.strip()
        if text.startswith("$ "):
            text = text[2:]
        if not fence or not text.startswith("srmt "):
            continue
        start, indent = i, len(raw) - len(raw.lstrip())
        text = _strip_comment(text)
        while text.endswith("\\") and i < len(lines):
            text = text[:-1].rstrip() + " " + _strip_comment(lines[i].strip())
            i += 1
        while "[" in text and i < len(lines) and lines[i].lstrip().startswith("[") \
                and len(lines[i]) - len(lines[i].lstrip()) > indent:
            text += " " + _strip_comment(lines[i].strip())
            i += 1
        words = text.split()
        if len(words) > 1 and words[1].endswith(":"):
            continue  # program output quoted in the docs
        found.append(DocCommand(_doc_name(path), start, text, True))
    return found


def inline_commands(path: Path) -> list[DocCommand]:
    text = path.read_text()
    # blank out fenced blocks (keeping line numbers) so only prose spans remain
    prose = re.sub(r"^\s*```.*?^\s*```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S | re.M)
    found = []
    for match in re.finditer(r"`(srmt [^`]+)`", prose):
        line = prose.count("\n", 0, match.start()) + 1
        found.append(DocCommand(_doc_name(path), line, " ".join(match.group(1).split()), False))
    return found


def _doc_name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def all_commands() -> list[DocCommand]:
    return [command for path in DOCS for command in fenced_commands(path) + inline_commands(path)]


COMMANDS = all_commands()


@lru_cache(maxsize=None)
def parser() -> argparse.ArgumentParser:
    from cli.main import build_parser

    return build_parser()


def _subparsers(p: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    return next((a for a in p._actions if isinstance(a, argparse._SubParsersAction)), None)


def _is_placeholder(word: str) -> bool:
    return bool(re.fullmatch(r"[A-Z][A-Z0-9_]*", word))


def command_parser(tokens: list[str]) -> tuple[list[str], argparse.ArgumentParser | None, str]:
    """(sub-command path, its parser, problem): descends through the sub-command parsers."""
    path, p = [], parser()
    for word in tokens[1:]:
        sub = _subparsers(p)
        if sub is None:
            break
        first = word.split("/")[0]  # `srmt maps list/show/generate`: alternatives, checked together
        if word in sub.choices or ("/" in word and all(w in sub.choices for w in word.split("/"))):
            path.append(first)
            p = sub.choices[first]
            continue
        if _is_placeholder(word):
            return path, None, "placeholder"
        if word in ("-h", "--help"):
            return path, p, ""
        return path, None, f"`srmt {' '.join(path + [word])}`: no such command; choose from {sorted(sub.choices)}"
    return path, p, ""


def _flags(tokens: list[str]) -> list[tuple[str, str | None]]:
    """(--flag, the token after it or None) for every --flag token (brackets stripped)."""
    clean = [t.strip("[]") for t in tokens]
    flags = []
    for i, token in enumerate(clean):
        if token.startswith("--") and len(token) > 2:
            name, eq, value = token.partition("=")
            flags.append((name, value if eq else (clean[i + 1] if i + 1 < len(clean) else None)))
    return flags


def _train_problems(tokens: list[str], concrete: bool) -> list[str]:
    from train.config import TrainConfigError
    from train.overrides import parse_overrides, resolve_key
    from train.presets import TRAINING_PRESETS

    problems = []
    for flag, value in _flags(tokens):
        if flag in TRAIN_FLAGS or flag in ("--help",):
            continue
        key = flag[2:].replace("-", "_")
        _, error = resolve_key(key)
        if error:
            problems.append(error)
        if key in ("preset", "run.preset") and value is not None and not _is_placeholder(value) \
                and not any(m in value for m in SYNOPSIS_MARKS):
            if value not in TRAINING_PRESETS:
                problems.append(f"--preset {value}: no such preset; choose from {sorted(TRAINING_PRESETS)}")
    if concrete and not problems:
        try:
            parse_overrides([t for t in tokens if t not in TRAIN_FLAGS])
        except TrainConfigError as err:
            problems.append(str(err))
    return problems


def _option_problems(p: argparse.ArgumentParser, path: list[str], tokens: list[str]) -> list[str]:
    problems = []
    for flag, value in _flags(tokens):
        action = p._option_string_actions.get(flag)
        if action is None:
            close = [o for o in p._option_string_actions if o.startswith("--")]
            problems.append(f"`srmt {' '.join(path)}` has no option {flag}; its options: {sorted(close)}")
            continue
        if action.choices and value and "|" in value and re.fullmatch(r"[a-z0-9_-]+(\|[a-z0-9_-]+)+", value):
            wrong = [v for v in value.split("|") if v not in action.choices]
            if wrong:
                problems.append(f"{flag} {value}: {wrong} not among its choices {list(action.choices)}")
    return problems


def _parse(path: list[str], tokens: list[str]) -> list[str]:
    from cli.main import repeatable_options, repeated_option

    argv = [PLACEHOLDERS.get(t, t) for t in tokens[1:]]
    repeated = repeated_option(argv, repeatable_options(parser()))
    if repeated:
        return [f"option {repeated} is given twice"]
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            args = parser().parse_args(argv)
    except SystemExit as exit_:
        return [f"argparse refused it (exit {exit_.code}): {err.getvalue().strip()}"]
    if path == ["train"]:
        return _train_problems(args.train_argv, concrete=True)
    return []


def problems_of(command: DocCommand) -> list[str]:
    """What is wrong with one doc command (empty: nothing); never runs the command."""
    try:
        tokens = shlex.split(command.text)
    except ValueError as err:
        return [f"cannot split into words: {err}"]
    path, p, problem = command_parser(tokens)
    if problem == "placeholder":
        return []
    if problem:
        return [problem]
    rest = tokens[1 + len(path):]
    if path == ["train"]:
        problems = _train_problems(rest, concrete=False)
    else:
        problems = _option_problems(p, path, rest)
    synopsis = any(m in t for t in tokens for m in SYNOPSIS_MARKS) or "-h" in rest or "--help" in rest
    if problems or not command.fenced or synopsis:
        return problems
    return _parse(path, tokens)


def test_the_docs_have_commands_to_check():
    fenced = [c for c in COMMANDS if c.fenced]
    assert len(fenced) >= 40 and {c.file for c in fenced} >= {"README.md", "docs/evaluation.md", "docs/maps.md"}
    assert any(c.text.startswith("srmt train --preset lifelong-cpu --init_policy") and "--experiment runs/ll"
               in c.text for c in fenced), "a `\\` continuation was not joined"


@pytest.mark.parametrize("command", COMMANDS, ids=[f"{c.file}:{c.line}" for c in COMMANDS])
def test_doc_command_parses(command):
    problems = problems_of(command)
    if problems:
        pytest.fail(f"{command}\n  " + "\n  ".join(problems), pytrace=False)


@pytest.mark.parametrize("text, expected", [
    ("srmt eval mazes --quick", ""),
    ("srmt eval mazes --seed 3", "has no option --seed"),            # argparse alone would take --seeds
    ("srmt eval mazes --backend jax", "argparse refused it"),
    ("srmt eval SUITE [--backend pogema|jax]", "not among its choices"),
    ("srmt evaluate mazes", "no such command"),
    ("srmt train --preset bottleneck --hiden 32", "unknown option --hiden"),
    ("srmt train --preset nano", "no such preset"),
    ("srmt train --preset bottleneck --verbose", ""),
    ("srmt train --experiment", "needs a value"),
    ("srmt bench NAME --help", ""),
    ("srmt maps show bottleneck-3 --seed 1 --seed 2", "given twice"),
])
def test_the_checker_catches_what_it_should(text, expected):
    problems = problems_of(DocCommand("doc.md", 1, text, True))
    if expected:
        assert any(expected in p for p in problems), problems
    else:
        assert problems == []


def test_argparse_exit_names_the_doc_line():
    command = DocCommand("docs/x.md", 7, "srmt render --agents 2", True)  # --map is required
    problems = problems_of(command)
    assert problems and "argparse refused it" in problems[0] and "--map" in problems[0]
