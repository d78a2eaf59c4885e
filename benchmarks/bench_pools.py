"""Does reading only nearby memories cost anything? Global vs local shared pool, same episodes.

Rows: `--policies` as trained (each with its own pool), and `--local` policies again with a
local pool on the same weights (`srmt eval --pool local`). Columns: each suite of `--suites` at
its largest agent count (the first `--episodes` episodes of it), and the `scale` suite at
`--scale-agents` (one episode per map); the figure is the mean avg_throughput, decoding sampled
for every row (the lifelong policies' recommended decoding). One `srmt eval` per cell
(eval.evaluate; its results in WORK/ROW/SUITE, rerunning resumes). The table goes to
OUT/pools.md and OUT/pools.json.

    srmt bench pools --out docs/results/local-pool \\
        --policies agents/pretrained/lifelong_srmt.pt runs/bc-local/imitation.pt \\
        --local agents/pretrained/lifelong_srmt.pt
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from agents import default_policy_path
from agents.spec import AgentSpec
from benchmarks.bench_interventions import score
from benchmarks.options import (EPISODES, WORKERS, Result, add_backend, add_note, add_ranged, check_unique_names,
                                partial_title)
from common.options import Range
from eval.evaluate import EvalPlan, prepare
from eval.suites import get_suite
from common.outputs import DIRECTORY, check_output

SUITES = ("mazes", "random", "warehouse", "movingai", "puzzles")
NEIGHBOURS = Range(1, 4096, integer=True)
RADIUS = Range(0, 1024, integer=True)
SCALE_AGENTS = Range(0, 16384, integer=True)


@dataclass(frozen=True)
class Row:
    """A policy file, as trained (`local` None) or with a local pool of K neighbours within R cells."""

    policy: Path
    local: tuple[int, int] | None = None

    @property
    def name(self) -> str:
        return self.policy.stem + ("" if self.local is None else f"+local-k{self.local[0]}-r{self.local[1]}")

    @property
    def option(self) -> str:
        """The option that named it: '--policies FILE' or '--local FILE'."""
        return f"--{'policies' if self.local is None else 'local'} {self.policy}"

    def spec(self) -> AgentSpec:
        pool = () if self.local is None else (("pool", "local"), ("pool_neighbours", self.local[0]),
                                               ("pool_radius", self.local[1]))
        return AgentSpec(checkpoint=str(self.policy), sample=True, lifelong=True, pool=pool)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    shipped = default_policy_path(True, None)
    parser.add_argument("--policies", nargs="+", type=Path, default=[shipped], metavar="FILE",
                        help="policy files evaluated as trained (default: the shipped lifelong policy)")
    parser.add_argument("--local", nargs="*", type=Path, default=[shipped], metavar="FILE",
                        help="policy files evaluated again with a local pool on the same weights")
    add_ranged(parser, "--neighbours", NEIGHBOURS, 16, "local pool: memories read, the agent's own included",
               metavar="K")
    add_ranged(parser, "--radius", RADIUS, 5, "local pool: search radius in cells (5: the observation radius)",
               metavar="R")
    parser.add_argument("--suites", nargs="*", choices=SUITES, default=list(SUITES),
                        help="suites scored at their largest agent count (default: the five lifelong suites)")
    add_ranged(parser, "--episodes", EPISODES, 16, "episodes per suite: the first N at its largest agent count",
               metavar="N")
    add_ranged(parser, "--scale-agents", SCALE_AGENTS, 1024,
               "agents of the scale suite column, one of its counts; 0 leaves it out", metavar="A")
    add_backend(parser)
    add_ranged(parser, "--workers", WORKERS, 1, "evaluation worker processes")
    parser.add_argument("--work", default="runs/pools-work", metavar="DIR",
                        help="the evaluations' results directories (default runs/pools-work)")
    parser.add_argument("--out", default="runs/pools", metavar="DIR",
                        help="the table: pools.md and pools.json (default runs/pools)")
    add_note(parser)


def columns(args: argparse.Namespace) -> list[tuple[str, int, int | None]]:
    """(suite, agents, episodes) per column: the largest agent count of each suite, then the scale suite;
    ValueError when there is nothing to measure or --scale-agents is not a count of the scale suite."""
    cols = [(name, max(e.num_agents for e in get_suite(name).episodes()), args.episodes)
            for name in dict.fromkeys(args.suites)]
    if args.scale_agents:
        counts = sorted({e.num_agents for e in get_suite("scale").episodes()})
        if args.scale_agents not in counts:
            raise ValueError(f"--scale-agents {args.scale_agents} is not an agent count of the scale suite {counts}; "
                             "pass one of them, or 0 to leave the scale column out")
        cols.append(("scale", args.scale_agents, None))
    if not cols:
        raise ValueError("nothing to measure: --suites names no suite and --scale-agents is 0; name a suite "
                         f"({' '.join(SUITES)}) or an agent count of the scale suite")
    return cols


def plan_row(row: Row, cols: list[tuple[str, int, int | None]], args: argparse.Namespace) -> dict[str, EvalPlan]:
    """One checked evaluation per column for `row` (nothing run or written yet); ValueError naming the row's
    option when one cannot run."""
    try:
        agent = AgentSpec(checkpoint=str(row.policy), sample=True, lifelong=True).build()
    except ValueError as err:
        raise ValueError(f"{row.option}: {err}") from err
    if row.local is not None and not agent.cfg.uses_pool:
        raise ValueError(f"{row.option}: this policy is of variant {agent.cfg.variant!r}, which has no shared pool "
                         "to read locally (only variant 'srmt' has one): drop it from --local")
    plans = {}
    for suite, agents, episodes in cols:
        try:
            plans[suite] = prepare(suite, spec=row.spec(), out_dir=Path(args.work) / row.name / suite, agents=[agents],
                                   episodes=episodes, workers=args.workers, backend=args.backend, progress=False,
                                   compare=())
        except ValueError as err:
            raise ValueError(f"{row.option}, suite {suite}: {err}") from err
    return plans


def markdown(table: list[dict], cols: list[tuple[str, int, int | None]], title: str) -> str:
    """One row per policy x pool, mean throughput per column (episodes in the header)."""
    head = [f"{suite} A={agents}" for suite, agents, _ in cols]
    lines = [f"# {title}", "", "| policy, pool | " + " | ".join(head) + " |", "|---" * (len(cols) + 1) + "|"]
    for t in table:
        cells = [f"{t['cells'][suite]['mean']:.3f}" if suite in t["cells"] else "-" for suite, _, _ in cols]
        lines.append(f"| {t['row']} | " + " | ".join(cells) + " |")
    lines += ["", "Episodes per cell: " + ", ".join(
        f"{suite} {table[0]['cells'][suite]['episodes']}" for suite, _, _ in cols if suite in table[0]["cells"])]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    out = check_output(args.out, "--out", DIRECTORY)
    check_output(args.work, "--work", DIRECTORY)
    result = Result.begin(args, out / "pools.json")
    cols = columns(args)
    rows = [Row(p) for p in args.policies] + [Row(p, (args.neighbours, args.radius)) for p in args.local]
    check_unique_names({row.option: row.name for row in rows})
    plans = [(row, plan_row(row, cols, args)) for row in rows]  # every row x column checked before any run
    table = []
    try:
        for row, row_plans in plans:
            cells = {}
            table.append(dict(row=row.name, policy=str(row.policy), local=row.local, cells=cells))
            for suite, agents, _ in cols:
                evaluated = row_plans[suite].run()
                cells[suite] = {k: v for k, v in score(get_suite(suite), evaluated.records).items() if k != "groups"}
                cells[suite]["agents"] = agents
                print(f"{row.name} {suite} A={agents}: throughput {cells[suite]['mean']:.3f} over "
                      f"{cells[suite]['episodes']} episodes", flush=True)
    finally:  # also on Ctrl-C: the cells finished so far, the title saying so
        if table:
            done = sum(len(t["cells"]) for t in table)
            title = partial_title("Global vs local shared pool: mean throughput at the largest agent counts "
                                  f"({args.backend} backend)", done, len(rows) * len(cols), "cells")
            text = markdown(table, cols, title)
            out.mkdir(parents=True, exist_ok=True)
            (out / "pools.md").write_text(text)
            result.save(title, "; ".join(f"{t['row']}: " + ", ".join(f"{s} {c['mean']:.3f}" for s, c in t["cells"].items())
                                         for t in table), dict(table=table))
            print(text, end="")
    return 0
