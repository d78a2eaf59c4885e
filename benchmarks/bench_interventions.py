"""Test-time memory interventions: how much of a policy's performance depends on the shared memory.

For every policy file x intervention (srmt.interventions: none, zero-pool, own-only, shuffle-envs,
freeze; same weights, no retraining) one `srmt eval` (eval.evaluate), with the decoding the policy
file recommends:

- a Bottleneck policy (trained with on_target=finish): CSR on the `bottleneck` suite, the SRMT
  test set (L = 3..1000 x 10 seeds, 580 episodes; `--quick`: its subset);
- a lifelong policy (on_target=restart): mean avg_throughput on the held-out `validation` suite
  (96 episodes; `--quick`: its subset).

`--shielded FILE` adds rows of FILE under the PIBT shield (`--shield pibt`). Each evaluation keeps
its episodes in WORK/ROW/INTERVENTION (rerunning resumes). The table, with a relative column
(intervened / none) and the share of episodes whose outcome the intervention left unchanged, goes to
OUT/interventions.md and OUT/interventions.json (the result file); each run's figures per corridor
length / agent count and its manifest to OUT/evaluations/ROW/INTERVENTION.json (not runs/: git
ignores that name).

shuffle-envs reads the environment next to it in the same forward pass, so its figure depends on
which episodes share a pass (the evaluation's chunks: same settings, same figure).

    srmt bench interventions --out docs/results/interventions \\
        --shielded agents/pretrained/lifelong_srmt_shield.pt
    srmt bench interventions --policies policy.pt --interventions none zero-pool --quick --out runs/iv
"""
from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

from agents import Agent, INTERVENTIONS, default_policy_path
from agents.spec import AgentSpec
from benchmarks.options import (EPISODES, ROOT, WORKERS, Result, add_backend, add_note, add_ranged, check_unique_names,
                                partial_title)
from envs.config import is_lifelong
from eval.evaluate import EvalPlan, describe_agent, prepare
from eval.tables import ALL, aggregate, episode_key
from eval.stats import mean_ci
from eval.suites import Suite, get_suite
from common.outputs import DIRECTORY, check_output

SHIPPED = (default_policy_path(False, None), default_policy_path(True, None), default_policy_path(True, "pibt"))
"""The shipped policies: Bottleneck, lifelong, lifelong trained with the shield."""


@dataclass(frozen=True)
class Row:
    """One row of the table: a policy file, with or without the PIBT shield."""

    policy: Path
    shield: str | None = None

    @property
    def name(self) -> str:
        """Its folder name and label, e.g. 'lifelong_srmt_shield+pibt'."""
        return self.policy.stem + (f"+{self.shield}" if self.shield else "")

    @property
    def option(self) -> str:
        """The option that named it: '--policies FILE' or '--shielded FILE'."""
        return f"--{'shielded' if self.shield else 'policies'} {self.policy}"

    def spec(self, intervention: str) -> AgentSpec:
        return AgentSpec(checkpoint=str(self.policy), shield=self.shield, memory_intervention=intervention)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policies", nargs="+", type=Path, default=list(SHIPPED), metavar="FILE",
                        help="policy files, one row each (default: the three shipped policies)")
    parser.add_argument("--shielded", nargs="+", type=Path, default=[], metavar="FILE",
                        help="policy files evaluated again under the PIBT shield, one extra row each")
    parser.add_argument("--interventions", nargs="+", choices=INTERVENTIONS, default=list(INTERVENTIONS),
                        help="the columns; 'none' is always run (the relative figures divide by it)")
    parser.add_argument("--quick", action="store_true", help="each suite's --quick subset")
    add_ranged(parser, "--episodes", EPISODES, None, "only the first N selected episodes of each suite (smoke runs)",
               metavar="N")
    add_backend(parser)
    add_ranged(parser, "--workers", WORKERS, 2, "evaluation worker processes")
    parser.add_argument("--work", default="runs/interventions-work", metavar="DIR",
                        help="the evaluations' results directories (episodes, reports; default "
                             "runs/interventions-work)")
    parser.add_argument("--out", default="runs/interventions", metavar="DIR",
                        help="the table: interventions.md, interventions.json and evaluations/ROW/INTERVENTION.json "
                             "(default runs/interventions)")
    add_note(parser)


def interventions(chosen: list[str]) -> list[str]:
    """The columns in srmt.interventions' order, 'none' first and always.

    >>> interventions(["freeze", "zero-pool"])
    ['none', 'zero-pool', 'freeze']
    """
    return [name for name in INTERVENTIONS if name == "none" or name in chosen]


def suite_of(spec: AgentSpec) -> tuple[Suite, dict]:
    """The suite a policy is scored on (validation for lifelong policies, bottleneck otherwise) and what
    the table says about the policy: memory mode, decoding, shield, how it was trained."""
    return suite_of_agent(spec.build())


def suite_of_agent(agent: Agent) -> tuple[Suite, dict]:
    """`suite_of` for an agent built already."""
    lifelong = is_lifelong(agent.env_config.get("on_target", "finish"))
    meta = agent.meta
    trained = meta.get("training_commands") or meta.get("training_command") or meta.get("command")
    return get_suite("validation" if lifelong else "bottleneck"), dict(
        memory=agent.cfg.memory, decoding="sampled" if agent.sample else "argmax", shield=agent.shield or "none",
        described=describe_agent(agent), trained=trained)


def score(suite: Suite, records: list[dict]) -> dict:
    """The suite's first metric over `records` as `srmt eval` prints it (eval.tables.aggregate, all
    episodes), its 95% interval (none for a lifelong suite's score), and per group (corridor length /
    agent count) the mean."""
    metric = suite.metrics[0]
    rows = [row for row in aggregate(suite, records) if row.metric == metric]
    (total,) = [row for row in rows if row.group == ALL]
    e = total.estimate
    return dict(metric=metric, mean=e.mean, lo=_number(e.lo), hi=_number(e.hi), episodes=total.n,
                groups={str(row.group): round(row.estimate.mean, 4) for row in rows if row.group != ALL})


def paired(suite: Suite, records: list[dict], baseline: dict[tuple, dict]) -> dict:
    """Episode by episode against `baseline` (the outcomes under 'none' by episode key): the share of
    episodes with the same outcome, and per metric of the suite the mean difference with its 95% t interval."""
    same = sum(_outcome(r) == baseline.get(episode_key(r)) for r in records)
    differences = {}
    for metric in suite.metrics:
        pairs = [(r["metrics"].get(metric), baseline[episode_key(r)].get(metric)) for r in records]
        e = mean_ci([ours - theirs for ours, theirs in pairs if ours is not None and theirs is not None])
        differences[metric] = dict(mean=e.mean, lo=_number(e.lo), hi=_number(e.hi))
    return dict(unchanged=same / len(records), differences=differences)


def _number(x: float) -> float | None:
    return None if math.isnan(x) else x


def plan_row(row: Row, columns: list[str], args: argparse.Namespace) -> tuple[Suite, dict, dict[str, EvalPlan]]:
    """The row's suite, what the table says about it, and one checked evaluation per intervention of
    `columns` (nothing run or written yet); ValueError naming the row's option when one cannot run."""
    try:
        agent = row.spec("none").build()
    except ValueError as err:
        raise ValueError(f"{row.option}: {err}") from err
    suite, about = suite_of_agent(agent)
    pool_less = [name for name in columns if name != "none"] if not agent.cfg.uses_pool else []
    if pool_less:
        raise ValueError(f"{row.option}: --interventions {' '.join(pool_less)} replace the shared pool, but this "
                         f"policy is of variant {agent.cfg.variant!r}, which has none: drop it from "
                         f"{row.option.split()[0]}, or pass --interventions none")
    plans = {}
    for name in columns:
        try:
            plans[name] = prepare(suite.name, spec=row.spec(name), out_dir=Path(args.work) / row.name / name,
                                  quick=args.quick, episodes=args.episodes, workers=args.workers,
                                  backend=args.backend, progress=False)
        except ValueError as err:
            raise ValueError(f"{row.option}, intervention {name}: {err}") from err
    return suite, about, plans


def measure(row: Row, suite: Suite, about: dict, plans: dict[str, EvalPlan]) -> dict:
    """Run one row's evaluations ('none' first); its figures, relative ones included (intervened / none)."""
    runs, baseline = {}, {}
    for name, plan in plans.items():
        result = plan.run()
        if name == "none":
            baseline = {episode_key(r): _outcome(r) for r in result.records}
        runs[name] = score(suite, result.records) | paired(suite, result.records, baseline)
        runs[name]["relative"] = runs[name]["mean"] / runs["none"]["mean"] if runs["none"]["mean"] else None
        runs[name]["manifest"] = json.loads((result.out_dir / "run.json").read_text())
        print(f"{row.name} {name}: {suite.name} {runs[name]['metric']} {runs[name]['mean']:.3f} "
              f"({_relative(runs[name]['relative'])} of none) over {runs[name]['episodes']} episodes", flush=True)
    return dict(row=row.name, policy=_shown(row.policy), suite=suite.name, **about, runs=runs)


def _shown(path: Path) -> str:
    """`path` relative to the repository when inside it (the table does not name this machine's folders)."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _outcome(record: dict) -> dict:
    """An episode's metrics but its wall time: equal outcomes mean the same actions in practice."""
    return {k: v for k, v in record["metrics"].items() if k != "runtime"}


def _interval(figure: dict) -> str:
    return "-" if figure["lo"] is None else f"[{figure['lo']:.3f}, {figure['hi']:.3f}]"


def _difference(d: dict) -> str:
    return f"{d['mean']:+.3f}" + ("" if d["lo"] is None else f" {_interval(d)}")


def _relative(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def markdown(table: list[dict], columns: list[str], title: str) -> str:
    """The table: one row per policy, `mean (relative)` per intervention; then every run with its interval."""
    lines = [f"# {title}", "", "Cells: the figure (intervened / none).", "",
             "| policy | memory | decoding, shield | suite: metric | " + " | ".join(columns) + " |",
             "|---" * (len(columns) + 4) + "|"]
    for t in table:
        metric = t["runs"]["none"]["metric"]
        cells = [f"{r['mean']:.3f} ({_relative(r['relative'])})" for r in t["runs"].values()]
        lines.append(f"| {t['row']} | {t['memory']} | {t['decoding']}, {t['shield']} | {t['suite']}: {metric} | "
                     + " | ".join(cells) + " |")
    lines += ["", "Paired with 'none' episode by episode: the mean difference of the metric and of the suite's other "
                  "metrics (95% t intervals), and the share of episodes whose metrics (wall time aside) are "
                  "unchanged.", "",
              "| policy | intervention | figure | 95% interval | relative | difference [95%] | other metrics: "
              "difference | unchanged | episodes |", "|---" * 9 + "|"]
    for t in table:
        for name, r in t["runs"].items():
            others = ", ".join(f"{m} {_difference(d)}" for m, d in r["differences"].items() if m != r["metric"])
            lines.append(f"| {t['row']} | {name} | {r['mean']:.3f} | {_interval(r)} | {_relative(r['relative'])} | "
                         f"{_difference(r['differences'][r['metric']])} | {others or '-'} | {r['unchanged']:.2f} | "
                         f"{r['episodes']} |")
    lines += ["", "How each policy was trained:", ""]
    lines += [f"- {t['row']} ({t['policy']}): {json.dumps(t['trained'])}" for t in table]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    out = check_output(args.out, "--out", DIRECTORY)
    check_output(args.work, "--work", DIRECTORY)
    result = Result.begin(args, out / "interventions.json")
    rows = [Row(p) for p in args.policies] + [Row(p, "pibt") for p in args.shielded]
    check_unique_names({row.option: row.name for row in rows})
    columns = interventions(args.interventions)
    checked = [(row, *plan_row(row, columns, args)) for row in rows]  # every row x column checked before any run
    table = []
    try:
        for row, suite, about, plans in checked:
            table.append(measure(row, suite, about, plans))
            for name, figures in table[-1]["runs"].items():  # small per-run files: figures per group, manifest
                path = out / "evaluations" / row.name / f"{name}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(figures, indent=1) + "\n")
    finally:  # also on Ctrl-C / SIGTERM: the rows finished so far, the title saying so
        if table:
            subset = " (--quick)" if args.quick else ""
            subset += f" (--episodes {args.episodes})" if args.episodes else ""
            title = partial_title(f"Memory interventions{subset}: Bottleneck CSR / validation throughput, "
                                  f"{args.backend} backend", len(table), len(rows), "rows")
            text = markdown(table, columns, title)
            (out / "interventions.md").write_text(text)
            brief = [{k: v for k, v in t.items() if k != "runs"}
                     | {"runs": {n: {k: v for k, v in r.items() if k not in ("groups", "manifest")}
                                 for n, r in t["runs"].items()}} for t in table]
            result.save(title, "; ".join(f"{t['row']}: " + ", ".join(
                f"{n} {r['mean']:.3f}" for n, r in t["runs"].items()) for t in table), dict(table=brief))
            print(text, end="")
    return 0
