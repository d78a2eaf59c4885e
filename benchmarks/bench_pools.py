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
from benchmarks.bench_interventions import score
from benchmarks.options import EPISODES, WORKERS, Result, add_backend, add_note, add_ranged
from common.options import Range
from eval.evaluate import evaluate
from eval.runner import AgentSpec
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
    """(suite, agents, episodes) per column: the largest agent count of each suite, then the scale suite."""
    cols = [(name, max(e.num_agents for e in get_suite(name).episodes()), args.episodes) for name in args.suites]
    if args.scale_agents:
        scale = get_suite("scale")
        if args.scale_agents not in {e.num_agents for e in scale.episodes()}:
            raise SystemExit(f"--scale-agents {args.scale_agents} is not an agent count of the scale suite "
                             f"{sorted({e.num_agents for e in scale.episodes()})}")
        cols.append(("scale", args.scale_agents, None))
    return cols


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
    result = Result.begin(args, out / "pools.json")
    rows = [Row(p) for p in args.policies] + [Row(p, (args.neighbours, args.radius)) for p in args.local]
    for row in rows:  # every file loads (and takes the pool) before any episode runs
        row.spec().build()
    cols = columns(args)
    table = []
    try:
        for row in rows:
            cells = {}
            table.append(dict(row=row.name, policy=str(row.policy), local=row.local, cells=cells))
            for suite, agents, episodes in cols:
                evaluated = evaluate(suite, spec=row.spec(), out_dir=Path(args.work) / row.name / suite,
                                     agents=[agents], episodes=episodes, workers=args.workers,
                                     backend=args.backend, progress=False, compare=())
                cells[suite] = {k: v for k, v in score(get_suite(suite), evaluated.records).items() if k != "groups"}
                cells[suite]["agents"] = agents
                print(f"{row.name} {suite} A={agents}: throughput {cells[suite]['mean']:.3f} over "
                      f"{cells[suite]['episodes']} episodes", flush=True)
    finally:  # also on Ctrl-C: the cells finished so far
        if table:
            title = f"Global vs local shared pool: mean throughput at the largest agent counts ({args.backend} backend)"
            text = markdown(table, cols, title)
            out.mkdir(parents=True, exist_ok=True)
            (out / "pools.md").write_text(text)
            result.save(title, "; ".join(f"{t['row']}: " + ", ".join(f"{s} {c['mean']:.3f}" for s, c in t["cells"].items())
                                         for t in table), dict(table=table))
            print(text, end="")
    return 0
