"""Parameter counts of a model preset / variant, as `srmt params` prints them (`print_counts`), recorded with
`--out` so the README's model size comes from a file.

    srmt bench params --preset bottleneck --out docs/results/bench/params.json
"""
from __future__ import annotations

import argparse

from benchmarks.options import Result, add_result_options
from srmt.config import MODEL_SIZES, VARIANTS, ModelConfig
from srmt.model import SRMTPolicy
from srmt.params import count_parameters


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--preset and --variant (`srmt params` and this benchmark)."""
    parser.add_argument("--preset", choices=sorted(MODEL_SIZES), default="bottleneck",
                        help="model sizes (default: bottleneck)")
    parser.add_argument("--variant", choices=VARIANTS, default="srmt",
                        help="core / ablation (default: srmt)")


def print_counts(args: argparse.Namespace) -> int:
    """Print the parameter counts of a preset / variant (`srmt params`)."""
    print(f"preset={args.preset} variant={args.variant}")
    for name, count in count_parameters(SRMTPolicy(ModelConfig.preset(args.preset, variant=args.variant))).items():
        print(f"{name:24s} {count:>10,d}")
    return 0


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
