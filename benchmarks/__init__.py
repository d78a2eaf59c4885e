"""Every benchmark of the project, in one place, run by one runner: `srmt bench NAME [OPTIONS]`
(or `python -m benchmarks NAME [OPTIONS]`). Each module has `add_arguments(parser)` and
`run(args) -> exit code`; `BENCHMARKS` names them.
"""
from __future__ import annotations

import argparse
import importlib
import sys

BENCHMARKS = {
    "env": ("bench_env_speed", "env throughput: torch backend vs pogema backend, same maps and agents"),
    "train": ("bench_train_speed", "training frames/s and peak RSS of a real `srmt train` process tree"),
    "eval": ("bench_eval_speed", "evaluation speed: batched agent vs a per-agent loop, same episodes"),
    "cluster": ("bench_eval_cluster", "evaluation on 1 and 2 dask workers vs the local engine"),
    "learning": ("bench_train_learning", "Bottleneck learning curve (greedy CSR of snapshots)"),
    "lifelong": ("bench_lifelong_learning", "lifelong learning curve on the held-out validation suite"),
    "imitation": ("bench_imitation_curve", "PIBT imitation learning curve: held-out accuracy and shielded throughput"),
    "suites": ("bench_lifelong_suites", "the five POGEMA lifelong suites in full vs the published means"),
    "modes": ("bench_memory_modes", "stored vs learned memory x causal vs full mask: Bottleneck sparse and lifelong"),
    "memory": ("bench_model_memory", "time and memory of one acting step of the lifelong policy"),
    "params": ("bench_params", "parameter counts of a model preset / variant, recorded with --out"),
    "equivalence": ("bench_env_equivalence_sweep", "torch backend vs real pogema on many random configs"),
    "attention": ("bench_attention", "pool cross-attention by grid distance and its entropy vs number of agents"),
    "interventions": ("bench_interventions", "test-time memory interventions: how much a policy depends on the shared pool"),
    "hooks": ("bench_hooks", "acting speed with the model's hooks off vs the commit before them (same logits)"),
    "pools": ("bench_pools", "global vs local shared pool: throughput at the largest agent counts, same episodes"),
    "planner": ("bench_planner", "PIBT planning agent-steps/s: compiled vs the plain Python reference, same states"),
    "scaling": ("bench_scaling", "cost per agent-step and peak memory from 256 to 16,384 agents in one env"),
    "ablation": ("bench_ablation", "does the shared memory help? variants x reward schemes x seeds on the Bottleneck"),
}
"""`srmt bench NAME` -> (module in this package, one-line description)."""


def add_subparsers(subparsers: argparse._SubParsersAction) -> None:
    """One sub-command per benchmark; each module is imported here for its options (about 0.1 s for all)."""
    for name, (module, help_text) in BENCHMARKS.items():
        parser = subparsers.add_parser(name, help=help_text, description=help_text)
        _module(module).add_arguments(parser)
        parser.set_defaults(func=lambda args, module=module: _module(module).run(args))


def _module(name: str):
    return importlib.import_module(f"{__name__}.{name}")


def main(argv: list[str]) -> int:
    """Run one benchmark from its command line (`python -m benchmarks NAME ...`); bad input exits 2."""
    from common.device import limit_threads

    limit_threads()
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    add_subparsers(parser.add_subparsers(dest="bench", required=True, metavar="BENCH"))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ValueError as err:
        print(f"python -m benchmarks {args.bench}: error: {err}", file=sys.stderr)
        return 2
