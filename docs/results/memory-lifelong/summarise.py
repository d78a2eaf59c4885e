"""Rebuild summary.md beside this script: the lifelong memory comparison per cell and seed.

Each `CELL-sSEED.json` is an `srmt bench imitation` result of one 2M-sample imitation run (PIBT expert,
PIBT shield in the rollouts, path guidance, the `lifelong-cpu` preset) scored on the held-out `validation`
suite; `interventions*/interventions.json` hold the same policies with the pool replaced by zeros.
Run: python docs/results/memory-lifelong/summarise.py
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from statistics import mean

HERE = Path(__file__).resolve().parent
NAME = re.compile(r"(?P<cell>.+)-s(?P<seed>\d+)\.json$")
CELLS = {"srmt": "srmt (causal mask, the preset)", "rmt": "rmt (private memory, no pool)",
         "empty": "empty (no memory)", "full": "srmt, full mask",
         "full-intent": "srmt, full mask, intent loss 0.5", "full-gate": "srmt, full mask, gated pool read",
         "full-local": "srmt, full mask, local pool (K 16) from the first step"}


def final_points() -> dict[str, dict[int, dict]]:
    """cell -> seed -> the last scored snapshot of its curve."""
    found: dict[str, dict[int, dict]] = {}
    for path in sorted(HERE.glob("*-s*.json")):
        m = NAME.match(path.name)
        if m:
            found.setdefault(m["cell"], {})[int(m["seed"])] = json.loads(path.read_text())["figures"]["curve"][-1]
    return found


def zero_pool() -> dict[tuple[str, int, bool], float]:
    """(cell, seed, shielded) -> throughput with the pool zeroed / without, from the intervention tables."""
    ratios = {}
    for path in sorted(HERE.glob("interventions*/interventions.json")):
        for row in json.loads(path.read_text())["figures"]["table"]:
            m = NAME.match(row["row"].removesuffix("+pibt") + ".json")
            runs = row["runs"]
            if m and "zero-pool" in runs:
                ratios[(m["cell"], int(m["seed"]), row["row"].endswith("+pibt"))] = runs["zero-pool"]["relative"]
    return ratios


def main() -> None:
    points, ratios = final_points(), zero_pool()
    lines = ["# Lifelong memory comparison (validation suite, 96 episodes; PIBT 1.493)", "",
             "Final snapshot (2.0M samples) of each run; zero-pool: throughput with the pool replaced by zeros "
             "over the throughput without (the same episodes).", "",
             "| cell | seeds | held-out accuracy | unshielded (sampled) | PIBT shield (by logit) | "
             "zero-pool, unshielded | zero-pool, shielded |", "|---|---|---|---|---|---|---|"]
    for cell, label in CELLS.items():
        seeds = points.get(cell, {})
        if not seeds:
            continue
        def col(key: str) -> str:
            values = [seeds[s][key] for s in sorted(seeds)]
            return f"{mean(values):.3f} ({' / '.join(f'{v:.3f}' for v in values)})"
        def pool(shielded: bool) -> str:
            values = [ratios[(cell, s, shielded)] for s in sorted(seeds) if (cell, s, shielded) in ratios]
            return " / ".join(f"{v:.2f}" for v in values) or "-"
        lines.append(f"| {label} | {', '.join(map(str, sorted(seeds)))} | {col('accuracy')} | "
                     f"{col('throughput_none')} | {col('throughput_pibt')} | {pool(False)} | {pool(True)} |")
    lines += ["", "Cells: mean over seeds (each seed's figure in parentheses, seed order)."]
    (HERE / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
