"""`srmt params`: the parameter counts of a model preset / variant (benchmarks/bench_params.py prints them).

    srmt params --preset bottleneck --variant srmt
"""
from __future__ import annotations

import argparse

from benchmarks.bench_params import add_model_arguments, print_counts


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Register `srmt params`."""
    parser = subparsers.add_parser("params", help="parameter counts of a model preset / variant")
    add_model_arguments(parser)
    parser.set_defaults(func=print_counts)
