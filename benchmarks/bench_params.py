"""Parameter counts of a model preset / variant, as `srmt params` prints them (cli/params.py), recorded with
`--out` so the README's model size comes from a file.

    srmt bench params --preset bottleneck --out docs/results/bench/params.json
"""
from __future__ import annotations

import argparse

from benchmarks.options import Result, add_result_options
from cli.params import _add_arguments as add_model_arguments
from cli.params import run as print_counts
from srmt.config import ModelConfig
from srmt.model import SRMTPolicy
from srmt.params import count_parameters


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    add_result_options(parser)


def run(args: argparse.Namespace) -> int:
    result = Result.begin(args)
    print_counts(args)
    counts = count_parameters(SRMTPolicy(ModelConfig.preset(args.preset, variant=args.variant)))
    result.save(f"Model size, `{args.preset}` preset, variant `{args.variant}`",
                f"{counts['without_position_table']:,} parameters without the position table "
                f"({counts['position_table']:,} params; {counts['total']:,} in all)", counts, "reference ~9.4k")
    return 0
