"""The guided PIBT ablation: PIBT, +escape, +guidance and both, on the quick subsets where each part matters.

    nice -n 10 python docs/results/planner/ablation.py            # from the repository root; resumable

Each variant is `agents.guided_pibt.GuidedPIBTAgent` with its switches (both off is PIBT action for action,
tests/test_planner_guided.py), evaluated with the torch backend in one process; records in
docs/results/planner/VARIANT/SUITE/, the table in docs/results/planner/README.md and ablation.json.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from agents.guided_pibt import GuidedPIBTAgent
from eval.evaluate import evaluate

HERE = Path(__file__).resolve().parent
SUBSETS = {
    "puzzles": dict(seeds=(0, 1)),                                         # all 16 maps, 2-4 agents: livelock
    "random": dict(agents=(48, 64), maps=r"validation-random-seed-00\d"),  # 10 maps, dense: congestion
    "mazes": dict(agents=(48, 64), maps=r"validation-mazes-seed-00\d"),
}
VARIANTS = {"pibt": (False, False), "escape": (False, True), "guidance": (True, False), "both": (True, True)}


def main() -> None:
    table: dict[str, dict[str, dict]] = {}
    for suite, subset in SUBSETS.items():
        for variant, (guidance, escape) in VARIANTS.items():
            agent = GuidedPIBTAgent(guidance=guidance, escape=escape)
            started = time.perf_counter()
            result = evaluate(suite, agent=agent, out_dir=HERE / variant / suite, backend="torch", workers=1,
                              compare=(), progress=False, **subset)
            seconds = time.perf_counter() - started
            per_count: dict[int, list[float]] = {}
            for record in result.records:
                per_count.setdefault(record["env_grid_search"]["num_agents"], []).append(
                    record["metrics"]["avg_throughput"])
            score = float(np.mean([np.mean(v) for v in per_count.values()]))
            table.setdefault(suite, {})[variant] = {
                "score": round(score, 4), "episodes": len(result.records),
                "per_count": {str(k): round(float(np.mean(v)), 4) for k, v in sorted(per_count.items())},
                "seconds": round(seconds, 1), "searches": agent.planner.searches, "plans": agent.planner.plans}
            print(suite, variant, table[suite][variant], flush=True)
    (HERE / "ablation.json").write_text(json.dumps({"subsets": {k: {a: (list(b) if isinstance(b, tuple) else b)
                                                                     for a, b in v.items()}
                                                                 for k, v in SUBSETS.items()},
                                                     "results": table}, indent=1) + "\n")
    lines = ["| suite (subset) | episodes | PIBT | + escape | + guidance | both (guided-pibt) |", "|---|---|---|---|---|---|"]
    for suite, row in table.items():
        lines.append(f"| {suite} | {row['pibt']['episodes']} | " + " | ".join(
            f"{row[v]['score']:.3f}" for v in VARIANTS) + " |")
    (HERE / "table.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
