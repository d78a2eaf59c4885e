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

The "Does the shared memory help?" section (between ``<!-- report:ablation -->`` and
``<!-- /report:ablation -->``) is the Bottleneck ablation's committed summary
(``docs/results/ablation/summary.json``, `srmt bench ablation --out`), then the relay task's
(``docs/results/memory-task/ablation.json``) when it is there: per reward scheme and cell the seeds
done, CSR, ISR and SoC with their 95% intervals over seeds, the env steps to training CSR 0.9, and its
figure; a cell with fewer than ``COMPLETE_SEEDS`` seeds (or than the run planned) is marked incomplete. The
"Learning curves" section (``<!-- report:curves -->``) has one table per learning-curve result file in
``docs/results/recipe/`` (`srmt bench lifelong --out`, `srmt bench imitation --out`). A section whose files
are not there says ``not run``.

``srmt report --check`` rebuilds in memory and fails when a committed table differs (tests/test_report.py
runs it).

`srmt report` works on the checkout it runs in (the current directory, or ``--root DIR``), not on the
installed package. Every input is read and checked first, with errors naming the file; everything is
built in memory; every target is checked writable; then the three files are replaced together (temporary
files, then renames), so a failure leaves all three as they were. A cell whose result file covers only
part of its suite says so where the figure stands (``0.512 (partial: 100 of 480 episodes)``, not bold),
and a column with no folder for a suite says ``not run``.

A suite's score is the mean over its agent counts of the per-count mean throughput, as the POGEMA
benchmark paper reports suites.
"""
from __future__ import annotations

import argparse
import functools
import io
import json
import math
import os
import sys
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any

from eval.tables import ALL, aggregate, episode_key, interval
from eval.results import load_records, published_files, replace_files
from eval.suites import Suite, get_suite, main_metric

ROOT = Path(__file__).resolve().parents[1]
"""The source tree this module lies in (an editable install's checkout): the tests' committed files.
`srmt report` itself works on the current directory or --root."""
RESULTS = Path("docs/results/lifelong")
FIGURE = Path("docs/media/lifelong-suites.png")
SUITES = ("mazes", "random", "warehouse", "movingai", "puzzles")
PUBLISHED = ("MAMBA", "QMIX-tuned", "QPLEX-tuned", "Follower", "MATS-LP", "RHCR")
"""Published methods in table order (file names in NN-suite/published/)."""
BEGIN, END = "<!-- report:lifelong -->", "<!-- /report:lifelong -->"
METRIC = main_metric("restart")
BENCH = Path("docs/results/bench")
BENCH_BEGIN, BENCH_END = "<!-- report:bench -->", "<!-- /report:bench -->"
BENCH_ROWS = (BENCH / "train.json", BENCH / "train-shield.json", BENCH / "learning.json",
              Path("docs/results/bottleneck/shipped"),
              BENCH / "eval.json", BENCH / "env.json", BENCH / "cluster.json", BENCH / "params.json",
              BENCH / "memory.json", BENCH / "hooks.json", BENCH / "planner.json")
"""The README benchmark table's rows in order: a benchmark's result file or a Bottleneck evaluation folder."""
BENCH_FORMAT = "srmt-bench-1"
"""The result files' format (benchmarks/options.py RESULT_FORMAT; tests/test_report.py checks they agree)."""
ABLATION = Path("docs/results/ablation/summary.json")
ABLATION_FIGURE = ABLATION.with_suffix(".png")
RELAY_ABLATION = Path("docs/results/memory-task/ablation.json")
"""The same benchmark on the relay task (`srmt bench ablation --task relay`), a subsection when it is there."""
ABLATION_BEGIN, ABLATION_END = "<!-- report:ablation -->", "<!-- /report:ablation -->"
COMPLETE_SEEDS = 5
"""Seeds a cell of the ablation needs before its figures are a result (more if the run planned more)."""
CURVES = Path("docs/results/recipe")
CURVES_BEGIN, CURVES_END = "<!-- report:curves -->", "<!-- /report:curves -->"
CURVE_STEPS = {"lifelong": ("env_steps", "env steps"), "imitation": ("samples", "samples")}
"""The learning-curve benchmarks: each point's training amount, by the key and the name its table gives it."""


class ReportError(ValueError):
    """A checkout or result file `srmt report` cannot build its tables from; the message names the file."""


def read_json(path: Path) -> Any:
    """The JSON content of `path`; ReportError naming the file when it is missing or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ReportError(f"{path}: cannot read it ({err.strerror or err})") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ReportError(f"{path}: not valid JSON ({err}); restore it from git or rewrite it with the command "
                          "that made it") from err


def fields_of(record: Any, keys: tuple[str, ...], path: Path) -> dict:
    """The entries `keys` of a JSON object read from `path`; ReportError naming the file and what is missing."""
    if not isinstance(record, dict):
        raise ReportError(f"{path}: expected a JSON object, found {type(record).__name__}")
    missing = [key for key in keys if key not in record]
    if missing:
        raise ReportError(f"{path}: missing {', '.join(missing)}")
    return {key: record[key] for key in keys}


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
    covered: int | None = None
    """episodes of the suite the records hold (None: not counted, the published files)"""
    expected: int | None = None
    """episodes of the full suite"""

    @property
    def suite(self) -> float:
        return sum(self.per_count.values()) / len(self.per_count)

    @property
    def partial(self) -> bool:
        return self.covered is not None and self.covered < self.expected

    def partial_note(self) -> str:
        """'partial: 100 of 480 episodes', or '' for a complete suite."""
        return f"partial: {self.covered} of {self.expected} episodes" if self.partial else ""


def load_columns(root: Path = ROOT) -> list[Column]:
    path = root / RESULTS / "columns.json"
    entries = read_json(path)
    if not isinstance(entries, list) or not entries:
        raise ReportError(f"{path}: expected a list of columns, one object each")
    keys = tuple(f.name for f in fields(Column))
    columns = [Column(**fields_of(entry, keys, path)) for entry in entries]
    for column in columns:
        if not column.key or Path(column.key).name != column.key:
            raise ReportError(f"{path}: column key {column.key!r} must be a folder name under {RESULTS}")
    return columns


def scores(suite: Suite, records: list[dict]) -> Scores:
    """Per agent count means (eval.tables.aggregate) of records of one algorithm, and how many of the
    suite's episodes they cover."""
    rows = [r for r in aggregate(suite, records) if r.metric == METRIC and r.group != ALL]
    wanted = {ep.key for ep in suite.episodes()}
    covered = len({episode_key(r) for r in records} & wanted)
    return Scores({int(r.group): r.estimate.mean for r in rows}, len(records), covered, len(wanted))


@functools.lru_cache(maxsize=None)  # the README table, the page and the figure read the same files
def ours(root: Path, column: Column, suite: Suite) -> Scores | None:
    """The column's scores on `suite`; None when it has no folder there (not run); ReportError for a folder
    without records."""
    folder = root / RESULTS / column.key / suite.name
    if not folder.exists():
        return None
    records = load_records(folder / "episodes.jsonl")
    if not records:
        raise ReportError(f"{folder / 'episodes.jsonl'}: no records; rerun the column's command or remove the "
                          "folder")
    return scores(suite, records)


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


def our_cell(s: Scores | None) -> str:
    """A README cell of ours: the bold suite score, or the score with what it lacks, or 'not run'."""
    if s is None:
        return "- (not run)"
    return f"{_num(s.suite)} ({s.partial_note()})" if s.partial else f"**{_num(s.suite)}**"


def readme_block(root: Path = ROOT) -> str:
    """The README's table: one row per suite, our columns then the published methods, with how each
    of our columns was measured."""
    columns = load_columns(root)
    head = [c.label for c in columns] + [published_label(p) for p in PUBLISHED]
    lines = [BEGIN, "| suite | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
    complete = True
    for name in SUITES:
        suite = get_suite(name)
        mine = [ours(root, c, suite) for c in columns]
        complete &= all(s is not None and not s.partial for s in mine)
        theirs = published(suite)
        cells = [our_cell(s) for s in mine]
        cells += [_num(theirs[p].suite) + (f" ({theirs[p].partial_note()})" if theirs[p].partial else "")
                  if p in theirs else "-" for p in PUBLISHED]
        lines.append(f"| {suite.title} | " + " | ".join(cells) + " |")
    coverage = ("every map, agent count and seed of each suite" if complete else
                "every map, agent count and seed of each suite, except the cells marked partial or not run")
    lines += ["", f"How each of our columns was measured ({coverage}; files in `{RESULTS}/COLUMN/SUITE/`):", ""]
    lines += [f"- **{c.label}**: `{c.command}`; {c.decoding} actions, shield {c.shield}; machine: {c.machine}."
              for c in columns]
    lines.append(END)
    return "\n".join(lines)


def _episodes(s: Scores | None) -> str:
    """The page's episode count of a method: '0', '768', or '100 of 480' for a partial result file."""
    if s is None:
        return "0"
    return f"{s.covered} of {s.expected}" if s.partial else str(s.episodes)


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
        lines.append("| **suite** | " + " | ".join(_num(s.suite if s else None) + (" (partial)" if s and s.partial
                                                                                   else "")
                                                    for s in methods.values()) + " |")
        lines.append("| episodes | " + " | ".join(_episodes(s) for s in methods.values()) + " |")
        lines.append("")
    return "\n".join(lines)


def figure(root: Path = ROOT) -> bytes:
    """The PNG: one panel per suite, throughput against agent count, ours solid (a partial column labelled
    so), published dashed."""
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
                ax.plot(list(s.per_count), list(s.per_count.values()), marker="o", lw=2,
                        label=c.label + (" (partial)" if s.partial else ""), color=color[c.label])
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
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    plt.close(fig)
    return png.getvalue()


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
    record = read_json(path)
    if not isinstance(record, dict) or record.get("format") != BENCH_FORMAT:
        found = record.get("format") if isinstance(record, dict) else None
        raise ReportError(f"{path}: not a benchmark result file (format {found!r}, expected {BENCH_FORMAT!r}); "
                          "write it with the benchmark's --out")
    r = fields_of(record, ("title", "summary", "target", "command", "machine"), path)
    return BenchRow(r["title"], r["summary"], r["target"], r["command"], machine_text(r["machine"], path))


def machine_text(machine: Any, path: Path) -> str:
    """A result file's machine as a table says it: its note, or its load and cores."""
    m = fields_of(machine, ("note", "load_average_before", "load_average_after", "cpu_cores"), path)
    return m["note"] or (f"load average {m['load_average_before']} before, {m['load_average_after']} after, "
                         f"{m['cpu_cores']} cores")


def result_file(path: Path, benchmarks: tuple[str, ...]) -> dict:
    """A result file one of `benchmarks` wrote with --out; ReportError naming the file otherwise."""
    record = read_json(path)
    found = record.get("benchmark") if isinstance(record, dict) else None
    if not isinstance(record, dict) or record.get("format") != BENCH_FORMAT or found not in benchmarks:
        raise ReportError(f"{path}: not a result file of `srmt bench {' / '.join(benchmarks)} --out` (format "
                          f"{record.get('format') if isinstance(record, dict) else None!r}, benchmark {found!r})")
    return record


def evaluation_row(root: Path, folder: Path) -> BenchRow:
    """A Bottleneck evaluation's row: CSR with its interval, the lengths below CSR 1, mean SoC."""
    how = fields_of(read_json(root / folder / "how.json"), ("title", "target", "command", "machine"),
                    root / folder / "how.json")
    suite = get_suite(fields_of(read_json(root / folder / "run.json"), ("suite",), root / folder / "run.json")["suite"])
    if suite.lifelong:
        raise ReportError(f"{root / folder}: a lifelong evaluation; its results belong in {RESULTS}")
    records = load_records(root / folder / "episodes.jsonl")
    if not records:
        raise ReportError(f"{root / folder / 'episodes.jsonl'}: no records")
    metric = suite.main_metric
    rows = {(r.group, r.metric): r for r in aggregate(suite, records)}
    lengths = sorted(g for g, m in rows if m == metric and g != ALL)
    below = [f"L={g} ({rows[g, metric].estimate.mean:.2f})" for g in lengths if rows[g, metric].estimate.mean < 1]
    csr = rows[ALL, metric].estimate
    covered = len({episode_key(r) for r in records} & {ep.key for ep in suite.episodes()})
    full = len(suite.episodes())
    episodes = f"{len(records)} episodes" if covered == full else f"partial: {covered} of {full} episodes"
    measured = (f"**{metric} {csr.mean:.3f}** {interval(csr)}: 1.00 at every L"
                + (f" but {', '.join(below)}" if below else "")
                + f"; SoC {rows[ALL, 'SoC'].estimate.mean:.1f}; {episodes}, "
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


def _estimate(e: dict, digits: int = 3, scale: float = 1.0, unit: str = "") -> str:
    """An estimate of the ablation's summary ({mean, lo, hi}, None where undefined): 'mean [lo, hi]', the mean
    alone without an interval (one seed), '-' without a mean."""
    if e["mean"] is None:
        return "-"
    text = f"{e['mean'] / scale:.{digits}f}{unit}"
    return text if e["lo"] is None else f"{text} [{e['lo'] / scale:.{digits}f}{unit}, {e['hi'] / scale:.{digits}f}{unit}]"


def ablation_block(root: Path = ROOT) -> str:
    """The README's "Does the shared memory help?" section: the Bottleneck ablation's summary per reward scheme
    and cell, or 'not run' without its file; then the relay task's, when its file is there."""
    head = [ABLATION_BEGIN, "## Does the shared memory help?", ""]
    if not (root / ABLATION).is_file():
        return "\n".join(head + [f"Not run: `{ABLATION}` is not there yet (`srmt bench ablation --out {ABLATION}` "
                                  "writes it).", ABLATION_END])
    lines = head + ablation_lines(root, ABLATION, "###")
    if (root / RELAY_ABLATION).is_file():
        lines += ["", "### The relay task: information only the partner sees (docs/maps.md, \"Relay\")", ""]
        lines += ablation_lines(root, RELAY_ABLATION, "####")
    return "\n".join(lines + [ABLATION_END])


def ablation_lines(root: Path, source: Path, level: str) -> list[str]:
    """One `srmt bench ablation --out` summary (`source`, relative to `root`): what ran, a table per reward scheme
    (headings at `level`) with each cell's seeds, CSR, ISR, SoC and env steps to CSR 0.9, its figure, how it was
    measured."""
    path = root / source
    figure = source.with_suffix(".png")
    record = result_file(path, ("ablation",))
    r = fields_of(record, ("title", "target", "command", "date", "machine", "figures"), path)
    f = fields_of(r["figures"], ("cells", "rewards", "seeds", "planned", "finished", "summary",
                                 "steps_to_csr90_source"), path)
    needed = max(COMPLETE_SEEDS, f["seeds"])
    found = {(c["reward"], c["cell"]): fields_of(c, ("runs", "CSR", "ISR", "SoC", "steps_to_csr90"), path)
             for c in f["summary"]}
    planned = [(reward, cell) for reward in f["rewards"] for cell in f["cells"]]
    complete = sum(found[key]["runs"] >= needed for key in planned if key in found)
    lines = [
        f"From [`{source}`]({source}) (`srmt bench ablation`): {r['title']}.", "",
        f"**{f['finished']} of {f['planned']} runs done; {complete} of {len(planned)} cells complete.** Every cell "
        f"is planned with {f['seeds']} seeds; a cell with fewer than {needed} seeds is incomplete (marked so in its "
        "row), and its figures are not yet a result. CSR, ISR and SoC: means over the cell's seeds of each run's "
        "mean over the test corridors, with 95% t intervals over seeds (none with one seed). Env steps to CSR 0.9: "
        f"{f['steps_to_csr90_source']}, in the runs that reached it (k of n). Target: {r['target']}.", ""]
    for reward in f["rewards"]:
        lines += [f"{level} {reward} reward", "", "| cell | seeds | CSR | ISR | SoC | env steps to training CSR 0.9 |",
                  "|---|---|---|---|---|---|"]
        for cell in f["cells"]:
            c = found.get((reward, cell))
            if c is None:
                lines.append(f"| {cell} | 0 of {needed} (not run) | - | - | - | - |")
                continue
            s = c["steps_to_csr90"]
            steps = f"{s['reached']} of {c['runs']} reached" + (
                f": {_estimate(s, 2, 1e6, 'M')}" if s["reached"] else "")
            seeds = f"{c['runs']} of {needed}" + (" (incomplete)" if c["runs"] < needed else "")
            lines.append(f"| {cell} | {seeds} | {_estimate(c['CSR'])} | {_estimate(c['ISR'])} | "
                         f"{_estimate(c['SoC'], 1)} | {steps} |")
        lines.append("")
    figure_line = (f"![CSR against corridor length, one curve per cell and reward scheme]({figure})"
                   if (root / figure).is_file() else f"(no figure: `{figure}` is not there)")
    return lines + [figure_line, "", f"Measured by `{r['command']}` ({r['date']}); machine: "
                                     f"{machine_text(r['machine'], path)}."]


def curve_columns(benchmark: str, shield: str | None, point: dict) -> dict[str, tuple[str, ...]]:
    """A learning curve's columns after the training amount: header -> the keys of a point's figure. `srmt bench
    lifelong`: each decoding's throughput (under the run's scoring shield); `srmt bench imitation`: the held-out
    accuracy, then throughput_none and throughput_SHIELD.

    >>> curve_columns("lifelong", "pibt", {"env_steps": 0, "argmax": {"throughput": 1.0}})
    {'argmax actions, pibt shield': ('argmax', 'throughput')}
    >>> curve_columns("imitation", "pibt", {"samples": 1, "accuracy": 0.7, "throughput_none": 0.5, "throughput_pibt": 1.2})
    {'held-out accuracy': ('accuracy',), 'no shield': ('throughput_none',), 'pibt shield': ('throughput_pibt',)}
    """
    if benchmark == "lifelong":
        suffix = f", {shield} shield" if shield else ""
        return {f"{name} actions{suffix}": (name, "throughput") for name, value in point.items()
                if isinstance(value, dict) and "throughput" in value}
    throughputs = [k for k in point if k.startswith("throughput_")]
    return {"held-out accuracy": ("accuracy",), **{
        "no shield" if k == "throughput_none" else f"{k.removeprefix('throughput_')} shield": (k,)
        for k in throughputs}}


def curve_table(root: Path, source: Path) -> list[str]:
    """One learning-curve result file (`source`, relative to `root`) as a README subsection: its stage, what
    trained, a row per snapshot (wall minutes, samples or env steps, throughput per column), its baselines."""
    path = root / source
    record = result_file(path, tuple(CURVE_STEPS))
    r = fields_of(record, ("benchmark", "title", "command", "date", "machine", "figures"), path)
    figures = r["figures"]
    curve = fields_of(figures, ("curve",), path)["curve"]
    if not isinstance(curve, list) or not curve:
        raise ReportError(f"{path}: its curve has no points; rerun the command that wrote it")
    key, steps_name = CURVE_STEPS[r["benchmark"]]
    columns = curve_columns(r["benchmark"], figures.get("shield"), curve[0])
    init = ("not recorded" if "init_policy" not in figures else
            f"`{figures['init_policy']}`" if figures["init_policy"] else "none (new weights)")
    lines = [f"### {figures.get('stage') or source.stem}", "",
             f"[`{source}`]({source}) (`srmt bench {r['benchmark']}`): {r['title']}. Initial policy: {init}.", "",
             f"| wall min | {steps_name} | " + " | ".join(columns) + " |", "|---" * (len(columns) + 2) + "|"]
    for point in curve:
        wall, amount = point.get("wall_minutes"), fields_of(point, (key,), path)[key]
        values = []
        for keys in columns.values():
            value = point
            for k in keys:
                value = fields_of(value, (k,), path)[k]
            values.append(_num(value))
        lines.append(f"| {'-' if wall is None else f'{wall:.1f}'} | {amount:,} | " + " | ".join(values) + " |")
    baselines = figures.get("baselines") or {}
    said = ", ".join(f"{name} {_num(b['throughput'])}" for name, b in baselines.items())
    lines += ["", (f"Baselines on the same episodes: {said}. " if said else "")
              + f"Measured by `{r['command']}` ({r['date']}); machine: {machine_text(r['machine'], path)}.", ""]
    return lines


def curves_block(root: Path = ROOT) -> str:
    """The README's "Learning curves" section: a table per result file in docs/results/recipe, or 'not run'."""
    sources = sorted(path.relative_to(root) for path in (root / CURVES).glob("*.json"))
    lines = [CURVES_BEGIN, "## Learning curves", ""]
    if not sources:
        return "\n".join(lines + [f"Not run: no result files in `{CURVES}/` yet (`srmt bench lifelong --out "
                                   f"{CURVES}/NAME.json` and `srmt bench imitation POLICY --out {CURVES}/NAME.json` "
                                   "write them).", CURVES_END])
    lines += [f"One table per result file in `{CURVES}/`: throughput (mean goals per step) on the held-out "
              "`validation` suite at every snapshot of a training run, by wall-clock minutes and training "
              "samples or env steps.", ""]
    for source in sources:
        lines += curve_table(root, source)
    return "\n".join(lines[:-1] + [CURVES_END])


def replace_block(text: str, block: str, where: str = "README.md") -> str:
    """`text` with the part between the block's first and last line (its markers, included) replaced by `block`."""
    lines = block.splitlines()
    begin, end = lines[0], lines[-1]
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise ReportError(f"{where} has no {begin} ... {end} block to rebuild; restore the markers")
    return text[:start] + block + text[stop + len(end):]


README_BLOCKS = (readme_block, ablation_block, curves_block, bench_block)
"""The README's generated parts, each between its marker comments."""


def rebuilt_readme(text: str, root: Path = ROOT) -> str:
    """README.md's text with every generated part rebuilt from the result files."""
    for block in README_BLOCKS:
        text = replace_block(text, block(root), str(root / "README.md"))
    return text


def pages(root: Path = ROOT) -> dict[Path, str]:
    """The text pages `srmt report` writes, by path relative to `root`, built from the result files."""
    readme = root / "README.md"
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError as err:
        raise ReportError(f"{readme}: cannot read it ({err.strerror or err})") from err
    return {Path("README.md"): rebuilt_readme(text, root), RESULTS / "README.md": per_count_page(root)}


def stale(root: Path = ROOT) -> list[str]:
    """The committed files whose tables differ from what their result files give."""
    out = []
    for relative, text in pages(root).items():
        path = root / relative
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            out.append(str(relative))
    return out


def checkout(root: str | None) -> Path:
    """The checkout to work on: `root`, or the current directory; ReportError unless it holds README.md and
    the lifelong results' columns.json."""
    path = Path(root or os.getcwd()).resolve()
    missing = [str(name) for name in (Path("README.md"), RESULTS / "columns.json") if not (path / name).is_file()]
    if missing:
        where = f"--root {root}" if root else f"the current directory {path}"
        raise ReportError(f"{where} is not an srmt checkout (no {' or '.join(missing)}); run srmt report in the "
                          "repository, or pass --root DIR")
    return path


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("report", help="rebuild the README's and docs' results tables from docs/results",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="only compare: exit 1 if a table differs from its files")
    p.add_argument("--root", metavar="DIR",
                   help="the checkout whose tables are rebuilt (default: the current directory)")
    p.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    root = checkout(args.root)
    if args.check:
        bad = stale(root)
        for name in bad:
            print(f"{root / name}: differs from its result files; run `srmt report`", file=sys.stderr)
        return 1 if bad else 0
    files = {root / relative: text.encode("utf-8") for relative, text in pages(root).items()}
    files[root / FIGURE] = figure(root)
    replace_files(files)
    print(f"rebuilt {', '.join(str(path.relative_to(root)) for path in files)} in {root}")
    return 0
