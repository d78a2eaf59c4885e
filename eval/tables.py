"""Tables (markdown, CSV) and plots (PNG) from raw-format records.

Bottleneck: CSR (Wilson interval), ISR and SoC (t intervals) per corridor
length over the seeds, plus one row over all lengths. Lifelong suites: average
throughput per agent count (t interval over maps x seeds) and the suite score,
the mean over agent counts (how SPEC section 3 and the POGEMA paper report it).

Compared results (`--compare`: the benchmark's published files by default)
are aggregated over the same episodes (map, agent count, seed) as ours, so the
columns compare like with like; the `n` column shows how many of our episodes
each algorithm covers. A metric a record holds as null (not a number) is left
out of that metric's estimate.
"""
from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from eval.results import replace_files, staging_path
from eval.stats import Estimate, mean_ci, wilson_ci
from eval.suites import Suite
from maps.bottleneck import parse_bottleneck_length

ALL = "all"
BOUNDS = {"CSR": (0.0, 1.0), "ISR": (0.0, 1.0), "SoC": (0.0, math.inf), "avg_throughput": (0.0, math.inf)}
"""The values a metric can take: t intervals are clipped to them (CSR's Wilson interval is inside by
construction), and plots of a share show [0, 1]."""
REPORT_FILES = ("summary.md", "summary.csv", "plot.png")
"""The reports `write_reports` writes into an evaluation's folder."""
DIGITS = {"CSR": 2, "ISR": 2, "SoC": 1, "avg_throughput": 3}
"""Decimals of a metric in summary.md (3 for any other)."""


def _clip(e: Estimate, lo: float, hi: float) -> Estimate:
    if math.isnan(e.lo):
        return e
    return Estimate(e.mean, min(max(e.lo, lo), hi), max(min(e.hi, hi), lo))


@dataclass(frozen=True)
class Row:
    algorithm: str
    group: int | str
    """corridor length or agent count; ALL for the whole suite"""
    metric: str
    n: int
    estimate: Estimate


def episode_key(record: dict) -> tuple[str, int, int]:
    grid = record["env_grid_search"]
    return (grid["map_name"], int(grid["num_agents"]), int(grid.get("seed", 0)))


def match_counts(ours: Iterable[dict], others: Iterable[dict]) -> dict[str, tuple[int, int]]:
    """Per compared algorithm: (episodes of ours it also ran, by map, agents and seed; episodes in its file)."""
    keys = {episode_key(r) for r in ours}
    counts: dict[str, list[set]] = {}
    for r in others:
        seen = counts.setdefault(r["algorithm"], [set(), set()])
        seen[1].add(episode_key(r))
        if episode_key(r) in keys:
            seen[0].add(episode_key(r))
    return {name: (len(matched), len(total)) for name, (matched, total) in counts.items()}


def restrict(records: Iterable[dict], keys: set[tuple[str, int, int]]) -> list[dict]:
    """The records of the episodes in `keys` (map_name, num_agents, seed)."""
    return [r for r in records if episode_key(r) in keys]


def _group(suite: Suite, record: dict) -> int:
    grid = record["env_grid_search"]
    if suite.lifelong:
        return int(grid["num_agents"])
    length = parse_bottleneck_length(grid["map_name"])
    return length if length is not None else -1


def _values(records: Iterable[dict], metric: str) -> list[float]:
    """The values of `metric` in `records` that are numbers (absent and null ones left out)."""
    return [float(r["metrics"][metric]) for r in records if r["metrics"].get(metric) is not None]


def aggregate(suite: Suite, records: Iterable[dict]) -> list[Row]:
    """Per-group and whole-suite estimates of the suite's metrics, per algorithm."""
    by_algo: dict[str, dict[int, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        by_algo[r["algorithm"]][_group(suite, r)].append(r)
    rows: list[Row] = []
    for algo, groups in by_algo.items():
        everything = [r for g in sorted(groups) for r in groups[g]]
        for group, recs in [*sorted(groups.items()), (ALL, everything)]:
            for metric in suite.metrics:
                values = _values(recs, metric)
                if not values:
                    continue
                if metric == "CSR":
                    est = wilson_ci(sum(values), len(values))
                elif group == ALL and suite.lifelong:
                    # suite score: mean over agent counts of the per-count means (no interval)
                    per_count = [mean_ci(_values(groups[g], metric)).mean for g in groups]
                    per_count = [m for m in per_count if not math.isnan(m)]
                    est = Estimate(sum(per_count) / len(per_count), math.nan, math.nan)
                else:
                    est = _clip(mean_ci(values), *BOUNDS.get(metric, (-math.inf, math.inf)))
                rows.append(Row(algo, group, metric, len(values), est))
    return rows


def _fmt(x: float, digits: int) -> str:
    return "-" if math.isnan(x) else f"{x:.{digits}f}"


def interval(e: Estimate, digits: int = 3) -> str:
    """'[lo, hi]', or '-' for an estimate without an interval (one value, or a lifelong suite score).

    >>> interval(Estimate(0.5, 0.4, 0.6)), interval(Estimate(0.5, math.nan, math.nan))
    ('[0.400, 0.600]', '-')
    """
    return "-" if math.isnan(e.lo) else f"[{_fmt(e.lo, digits)}, {_fmt(e.hi, digits)}]"


def _cell(row: Row | None, digits: int) -> str:
    if row is None:
        return "-"
    e = row.estimate
    if math.isnan(e.lo):
        return _fmt(e.mean, digits)
    return f"{_fmt(e.mean, digits)} {interval(e, digits)}"


def _groups(rows: Iterable[Row]) -> list[int | str]:
    """The groups of `rows` in table order: sorted, then ALL."""
    return sorted({r.group for r in rows if r.group != ALL}) + [ALL]


def comparison(suite: Suite, ours: list[dict], others: Iterable[dict]) -> tuple[list[Row], list[str]]:
    """Rows of our records and of `others` restricted to our episodes, and the algorithms, ours first."""
    theirs = restrict(others, {episode_key(r) for r in ours})
    algorithms = list(dict.fromkeys([r["algorithm"] for r in ours] + [r["algorithm"] for r in theirs]))
    return aggregate(suite, ours + theirs), algorithms


def text_table(rows: list[Row], suite: Suite, algorithms: list[str]) -> str:
    """The suite's main metric per group (rows) and algorithm (columns), aligned for a terminal; the last
    row counts each algorithm's episodes."""
    metric = suite.main_metric
    index = {(r.algorithm, r.group): r for r in rows if r.metric == metric}
    table = [["agents" if suite.lifelong else "L", *algorithms]]
    for g in _groups(rows):
        table.append([str(g), *(_fmt(index[a, g].estimate.mean, 3) if (a, g) in index else "-" for a in algorithms)])
    table.append(["episodes", *(str(index[a, ALL].n) if (a, ALL) in index else "0" for a in algorithms)])
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = ["  ".join([line[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(line[1:], widths[1:])])
             for line in table]
    return f"{metric} ('{ALL}': {'mean over agent counts' if suite.lifelong else 'every episode'})\n" + "\n".join(lines)


def csv_text(rows: list[Row], suite: Suite) -> str:
    """summary.csv: one line per row (algorithm x group x metric) with its estimate."""
    out = io.StringIO(newline="")
    w = csv.writer(out)
    w.writerow(["suite", "algorithm", "group_by", "group", "metric", "n", "mean", "ci95_low", "ci95_high"])
    group_by = "num_agents" if suite.lifelong else "corridor_length"
    for r in rows:
        w.writerow([suite.name, r.algorithm, group_by, r.group, r.metric, r.n, *(f"{v:.6g}" for v in r.estimate)])
    return out.getvalue()


def markdown(rows: list[Row], suite: Suite, algorithms: list[str], note: str = "") -> str:
    """A markdown page: one table, rows = groups, columns = algorithm x metric."""
    index = {(r.algorithm, r.group, r.metric): r for r in rows}
    groups = _groups(rows)
    label = "agents" if suite.lifelong else "L"
    head = [label] + [f"{m} {a}" if len(algorithms) > 1 else m for a in algorithms for m in suite.metrics]
    head += [f"n {a}" if len(algorithms) > 1 else "n" for a in algorithms]
    lines = [f"# {suite.title}: evaluation summary", ""]
    if note:
        lines += [note, ""]
    ci = "CSR: Wilson 95% interval; others: Student-t 95% interval" if not suite.lifelong else \
        "avg_throughput: mean [Student-t 95% interval] per agent count; 'all' = mean over agent counts"
    lines += [ci, "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in groups:
        cells = [str(g) if g != ALL else "**all**"]
        for a in algorithms:
            cells += [_cell(index.get((a, g, m)), DIGITS.get(m, 3)) for m in suite.metrics]
        for a in algorithms:
            row = index.get((a, g, suite.main_metric))
            cells.append(str(row.n) if row else "0")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[Row], suite: Suite, algorithms: list[str], path: Path,
         labels: dict[str, str] | None = None) -> Path:
    """CSR/ISR/SoC vs corridor length (bottleneck) or throughput vs agent count (lifelong); `labels`:
    legend text per algorithm (default its name)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = suite.metrics
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for algo in algorithms:
            pts = sorted((r.group, r.estimate) for r in rows
                         if r.algorithm == algo and r.metric == metric and r.group != ALL)
            if not pts:
                continue
            xs = [p[0] for p in pts]
            mean = [p[1].mean for p in pts]
            lo = [p[1].lo if not math.isnan(p[1].lo) else p[1].mean for p in pts]
            hi = [p[1].hi if not math.isnan(p[1].hi) else p[1].mean for p in pts]
            ax.plot(xs, mean, marker="o", markersize=3, label=(labels or {}).get(algo, algo))
            ax.fill_between(xs, lo, hi, alpha=0.2)
        ax.set_xlabel("number of agents" if suite.lifelong else "corridor length L")
        ax.set_ylabel(metric)
        if not suite.lifelong:
            ax.set_xscale("log")
        if BOUNDS.get(metric) == (0.0, 1.0):
            ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(suite.title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_reports(suite: Suite, ours: list[dict], others: list[dict], out_dir: Path, note: str = "",
                  matched: dict[str, tuple[int, int]] | None = None,
                  also: dict[Path, bytes] | None = None) -> dict[str, Path]:
    """summary.md, summary.csv and plot.png in `out_dir`, with the files of `also`, all replaced together
    or none (eval.results.replace_files); `others` are restricted to our episodes and the note says how
    many of ours each compared algorithm matched (`matched`: `match_counts(ours, others)`)."""
    ours_n = len({episode_key(r) for r in ours})
    matched = matched or {}
    if matched:
        note += "; compared: " + ", ".join(f"{name} matched {m} of our {ours_n} episodes ({n} in its file)"
                                         for name, (m, n) in matched.items())
    rows, algorithms = comparison(suite, ours, others)
    out = {"csv": out_dir / REPORT_FILES[1], "markdown": out_dir / REPORT_FILES[0]}
    files: dict[Path, bytes | Path] = {**(also or {}), out["csv"]: csv_text(rows, suite).encode(),
                                       out["markdown"]: markdown(rows, suite, algorithms, note).encode()}
    if rows:
        labels = {name: f"{name} ({m}/{ours_n} matched)" for name, (m, _) in matched.items()}
        out["plot"] = out_dir / REPORT_FILES[2]
        files[out["plot"]] = plot(rows, suite, algorithms, staging_path(out["plot"]), labels)
    replace_files(files)
    return out
