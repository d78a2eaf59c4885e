"""`srmt report`: the README's results tables (lifelong and benchmarks), the per agent count tables and
the five-suite figure, rebuilt from the committed result files, so a figure cannot drift from its file.

Inputs of the lifelong tables (all committed):

- ``docs/results/lifelong/columns.json``: our columns in table order, each with the command that
  measured it, its decoding and shield, and whether the machine was loaded while it ran;
- ``docs/results/lifelong/COLUMN/SUITE/episodes.jsonl``: the per-episode records `srmt eval SUITE
  --out docs/results/lifelong/COLUMN/SUITE` wrote;
- the POGEMA benchmark's published per-episode results shipped beside the maps
  (``maps/data/pogema-benchmark/NN-suite/published/ALGO.json``).

Outputs: the README block between ``<!-- report:lifelong -->`` and ``<!-- /report:lifelong -->``,
``docs/results/lifelong/README.md`` (per agent count, every column and published method) and
``docs/media/lifelong-suites.png`` (one panel per suite).

The README's benchmark table (between ``<!-- report:bench -->`` and ``<!-- /report:bench -->``) has one row
per entry of ``BENCH_ROWS``: a result file a benchmark wrote with ``--out`` (``docs/results/bench/NAME.json``:
title, headline figures, target, command, machine; benchmarks/options.py) or an ``srmt eval bottleneck
--out DIR`` folder, whose ``how.json`` says how it was measured and whose ``episodes.jsonl`` gives the figures.

``srmt report --check`` rebuilds in memory and fails when a committed table differs (tests/test_report.py
runs it).

A suite's score is the mean over its agent counts of the per-count mean throughput, as the POGEMA
benchmark paper reports suites.
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import sys
from dataclasses import astuple, dataclass
from pathlib import Path

from eval.tables import ALL, aggregate, interval
from eval.results import load_records, published_files
from eval.suites import Suite, get_suite

ROOT = Path(__file__).resolve().parents[1]
"""The repository checkout `srmt report` works on (an editable install's source tree)."""
RESULTS = Path("docs/results/lifelong")
FIGURE = Path("docs/media/lifelong-suites.png")
SUITES = ("mazes", "random", "warehouse", "movingai", "puzzles")
PUBLISHED = ("MAMBA", "QMIX-tuned", "QPLEX-tuned", "Follower", "MATS-LP", "RHCR")
"""Published methods in table order (file names in NN-suite/published/)."""
BEGIN, END = "<!-- report:lifelong -->", "<!-- /report:lifelong -->"
METRIC = "avg_throughput"
BENCH = Path("docs/results/bench")
BENCH_BEGIN, BENCH_END = "<!-- report:bench -->", "<!-- /report:bench -->"
BENCH_ROWS = (BENCH / "train.json", BENCH / "learning.json", Path("docs/results/bottleneck/shipped"),
              BENCH / "eval.json", BENCH / "env.json", BENCH / "cluster.json", BENCH / "params.json",
              BENCH / "memory.json", BENCH / "hooks.json")
"""The README benchmark table's rows in order: a benchmark's result file or a Bottleneck evaluation folder."""
BENCH_FORMAT = "srmt-bench-1"
"""The result files' format (benchmarks/options.py RESULT_FORMAT; tests/test_report.py checks they agree)."""


@dataclass(frozen=True)
class Column:
    """One of our result columns (columns.json)."""

    key: str
    """folder under docs/results/lifelong"""
    label: str
    decoding: str
    shield: str
    command: str
    """the command that measured it, SUITE standing for each suite"""
    machine: str
    """'idle' or what else ran on the machine meanwhile"""


@dataclass(frozen=True)
class Scores:
    """Mean throughput per agent count and the suite score of one method on one suite."""

    per_count: dict[int, float]
    episodes: int

    @property
    def suite(self) -> float:
        return sum(self.per_count.values()) / len(self.per_count)


def load_columns(root: Path = ROOT) -> list[Column]:
    return [Column(**c) for c in json.loads((root / RESULTS / "columns.json").read_text())]


def scores(suite: Suite, records: list[dict]) -> Scores:
    """Per agent count means (eval.tables.aggregate) of records of one algorithm."""
    rows = [r for r in aggregate(suite, records) if r.metric == METRIC and r.group != ALL]
    return Scores({int(r.group): r.estimate.mean for r in rows}, len(records))


@functools.lru_cache(maxsize=None)  # the README table, the page and the figure read the same files
def ours(root: Path, column: Column, suite: Suite) -> Scores | None:
    path = root / RESULTS / column.key / suite.name / "episodes.jsonl"
    return scores(suite, load_records(path)) if path.is_file() else None


@functools.lru_cache(maxsize=None)
def published(suite: Suite) -> dict[str, Scores]:
    """The published methods' scores over all their episodes of the suite (the POGEMA benchmark paper's means)."""
    files = published_files(suite)
    return {name: scores(suite, load_records(files[name], suite.only_map)) for name in PUBLISHED if name in files}


def published_label(name: str) -> str:
    """A published method's column name (the benchmark's files call the tuned QMIX/QPLEX '-tuned')."""
    return name.removesuffix("-tuned")


def _num(x: float | None) -> str:
    return "-" if x is None or math.isnan(x) else f"{x:.3f}"


def readme_block(root: Path = ROOT) -> str:
    """The README's table: one row per suite, our columns then the published methods, with how each
    of our columns was measured."""
    columns = load_columns(root)
    head = [c.label for c in columns] + [published_label(p) for p in PUBLISHED]
    lines = [BEGIN, "| suite | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
    for name in SUITES:
        suite = get_suite(name)
        mine = [ours(root, c, suite) for c in columns]
        theirs = published(suite)
        cells = [f"**{_num(s.suite)}**" if s else "-" for s in mine]
        cells += [_num(theirs[p].suite) if p in theirs else "-" for p in PUBLISHED]
        lines.append(f"| {suite.title} | " + " | ".join(cells) + " |")
    lines += ["", "How each of our columns was measured (every map, agent count and seed of each suite; files in "
              f"`{RESULTS}/COLUMN/SUITE/`):", ""]
    lines += [f"- **{c.label}**: `{c.command}`; {c.decoding} actions, shield {c.shield}; machine: {c.machine}."
              for c in columns]
    lines.append(END)
    return "\n".join(lines)


def per_count_page(root: Path = ROOT) -> str:
    """docs/results/lifelong/README.md: per suite, mean throughput per agent count of every method."""
    columns = load_columns(root)
    lines = ["# Lifelong results per agent count", "",
             "Generated by `srmt report` from the files in this folder and the published results shipped "
             "in `maps/data/pogema-benchmark/`; do not edit by hand. Mean average throughput (goals per step) "
             "per agent count; the last row is the suite score, the mean over agent counts.", "",
             *(f"- **{c.label}**: `{c.command}` ({c.decoding} actions, shield {c.shield}; machine: {c.machine})"
               for c in columns), "", f"![five suites](../../media/{FIGURE.name})", ""]
    for name in SUITES:
        suite = get_suite(name)
        methods = {c.label: ours(root, c, suite) for c in columns}
        methods.update({published_label(p): s for p, s in published(suite).items()})
        head = list(methods)
        lines += [f"## {suite.title}", "", "| agents | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
        for count in suite.agents:
            lines.append(f"| {count} | " + " | ".join(_num(s.per_count.get(count) if s else None)
                                                     for s in methods.values()) + " |")
        lines.append("| **suite** | " + " | ".join(_num(s.suite if s else None) for s in methods.values()) + " |")
        lines.append("| episodes | " + " | ".join(str(s.episodes) if s else "0" for s in methods.values()) + " |")
        lines.append("")
    return "\n".join(lines)


def figure(path: Path, root: Path = ROOT) -> Path:
    """One panel per suite: throughput against agent count, ours solid, published dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = load_columns(root)
    palette = plt.get_cmap("tab10").colors
    color = {name: palette[i % len(palette)] for i, name in enumerate([c.label for c in columns] + list(PUBLISHED))}
    fig, axes = plt.subplots(1, len(SUITES), figsize=(4.0 * len(SUITES), 3.6))
    for ax, name in zip(axes, SUITES):
        suite = get_suite(name)
        for c in columns:
            s = ours(root, c, suite)
            if s:
                ax.plot(list(s.per_count), list(s.per_count.values()), marker="o", lw=2, label=c.label,
                        color=color[c.label])
        for p, s in published(suite).items():
            ax.plot(list(s.per_count), list(s.per_count.values()), ls="--", lw=1, label=published_label(p),
                    color=color[p])
        ax.set_title(suite.title)
        ax.set_xlabel("agents")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("average throughput")
    legend = {}  # every method once, in drawing order, whichever panel has it
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    fig.legend(list(legend.values()), list(legend), loc="lower center", ncol=len(legend), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


@dataclass(frozen=True)
class BenchRow:
    """One row of the README's benchmark table."""

    what: str
    measured: str
    target: str
    command: str
    machine: str


def bench_row(root: Path, source: Path) -> BenchRow:
    """The row of a benchmark's result file or of a Bottleneck evaluation folder (`source`, relative to `root`)."""
    path = root / source
    if path.is_dir():
        return evaluation_row(root, source)
    record = json.loads(path.read_text())
    if record.get("format") != BENCH_FORMAT:
        raise ValueError(f"{source}: not a benchmark result file (format {record.get('format')!r}, "
                         f"expected {BENCH_FORMAT!r}); write it with the benchmark's --out")
    machine = record["machine"]
    return BenchRow(record["title"], record["summary"], record["target"], record["command"],
                    machine["note"] or f"load average {machine['load_average_before']} before, "
                                       f"{machine['load_average_after']} after, {machine['cpu_cores']} cores")


def evaluation_row(root: Path, folder: Path) -> BenchRow:
    """A Bottleneck evaluation's row: CSR with its interval, the lengths below CSR 1, mean SoC."""
    how = json.loads((root / folder / "how.json").read_text())
    suite = get_suite(json.loads((root / folder / "run.json").read_text())["suite"])
    if suite.lifelong:
        raise ValueError(f"{folder}: a lifelong evaluation; its results belong in {RESULTS}")
    records = load_records(root / folder / "episodes.jsonl")
    rows = {(r.group, r.metric): r for r in aggregate(suite, records)}
    lengths = sorted(g for g, m in rows if m == "CSR" and g != ALL)
    below = [f"L={g} ({rows[g, 'CSR'].estimate.mean:.2f})" for g in lengths if rows[g, "CSR"].estimate.mean < 1]
    csr = rows[ALL, "CSR"].estimate
    measured = (f"**CSR {csr.mean:.3f}** {interval(csr)}: 1.00 at every L"
                + (f" but {', '.join(below)}" if below else "")
                + f"; SoC {rows[ALL, 'SoC'].estimate.mean:.1f}; {len(records)} episodes, "
                f"L={lengths[0]}..{lengths[-1]}")
    return BenchRow(how["title"], measured, how["target"], how["command"], how["machine"])


def bench_block(root: Path = ROOT) -> str:
    """The README's benchmark table: one row per entry of BENCH_ROWS, with the command and file behind it."""
    lines = [BENCH_BEGIN, "| what | measured | target / reference | how (command; machine; file) |",
             "|---|---|---|---|"]
    for source in BENCH_ROWS:
        row = BenchRow(*(text.replace("|", "\\|") for text in astuple(bench_row(root, source))))  # GFM cells
        lines.append(f"| {row.what} | {row.measured} | {row.target} | `{row.command}`; machine: {row.machine}; "
                     f"[`{source}`]({source}) |")
    lines.append(BENCH_END)
    return "\n".join(lines)


def replace_block(text: str, block: str) -> str:
    """`text` with the part between the block's first and last line (its markers, included) replaced by `block`."""
    lines = block.splitlines()
    begin, end = lines[0], lines[-1]
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise ValueError(f"README.md has no {begin} ... {end} block to rebuild")
    return text[:start] + block + text[stop + len(end):]


def rebuilt_readme(text: str, root: Path = ROOT) -> str:
    """README.md's text with both tables rebuilt from the result files."""
    return replace_block(replace_block(text, readme_block(root)), bench_block(root))


def stale(root: Path = ROOT) -> list[str]:
    """The committed files whose tables differ from what their result files give."""
    readme = (root / "README.md").read_text()
    out = []
    if rebuilt_readme(readme, root) != readme:
        out.append("README.md")
    page = root / RESULTS / "README.md"
    if not page.is_file() or page.read_text() != per_count_page(root):
        out.append(str(RESULTS / "README.md"))
    return out


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("report", help="rebuild the README's and docs' results tables from docs/results",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="only compare: exit 1 if a table differs from its files")
    p.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    if args.check:
        bad = stale()
        for name in bad:
            print(f"{name}: differs from its result files; run `srmt report`", file=sys.stderr)
        return 1 if bad else 0
    readme = ROOT / "README.md"
    readme.write_text(rebuilt_readme(readme.read_text()))
    (ROOT / RESULTS / "README.md").write_text(per_count_page())
    figure(ROOT / FIGURE)
    print(f"rebuilt README.md, {RESULTS / 'README.md'} and {FIGURE}")
    return 0
