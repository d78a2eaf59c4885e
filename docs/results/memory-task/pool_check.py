"""Does a policy trained on the relay task (envs/relay.py) read its partner's memory? Writes pool_check.json
beside this file (docs/maps.md, "Relay").

Plays a policy greedily on the relay test set of `srmt bench ablation --task relay` (L = 3, 10, 30, 100 x
seeds 0..39, 7-step episodes, torch backend: `benchmarks.bench_ablation.relay_records`) once as trained and
once under each test-time memory intervention (srmt/interventions.py): `zero-pool` (the pool replaced by
zeros), `own-only` (the pool holds only the agent's own memory), `shuffle-envs` (the pool of another
episode), `freeze` (the pool of the episode's first step kept). If the policy gets its side from its
partner's memory, the interventions that take the partner's memory away bring it down to what an agent
without it can reach (at most 0.5 per agent, blind_bound.json).

    python docs/results/memory-task/pool_check.py [--policy FILE]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_ablation import RELAY_TEST_LENGTHS, RELAY_TEST_SEEDS, per_length, relay_records  # noqa: E402
from eval.runner import AgentSpec  # noqa: E402
from srmt.checkpoint import load_policy  # noqa: E402
from srmt.interventions import INTERVENTIONS  # noqa: E402

HERE = Path(__file__).parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default=str(HERE / "relay_srmt_smoke.pt"))
    parser.add_argument("--out", default=str(HERE / "pool_check.json"))
    args = parser.parse_args()
    results = {}
    for name in INTERVENTIONS:
        spec = AgentSpec(checkpoint=args.policy, sample=False, memory_intervention=name)
        lengths = per_length(relay_records(spec, "torch"))
        episodes = sum(m["episodes"] for m in lengths.values())
        results[name] = {metric: round(sum(m[metric] * m["episodes"] for m in lengths.values()) / episodes, 4)
                         for metric in ("CSR", "ISR", "SoC")} | {"episodes": episodes}
        print(name, json.dumps(results[name]), flush=True)
    meta = load_policy(args.policy).meta
    Path(args.out).write_text(json.dumps(dict(
        command="python docs/results/memory-task/pool_check.py", policy=Path(args.policy).name,
        trained_by=meta.get("command"), env_steps=meta.get("env_steps"), wall_seconds=meta.get("wall_seconds"),
        test_set=dict(lengths=list(RELAY_TEST_LENGTHS), seeds=f"0..{len(RELAY_TEST_SEEDS) - 1}", backend="torch",
                      decoding="greedy"),
        interventions=results), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
