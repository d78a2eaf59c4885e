"""`srmt params`: the parameter counts of a model preset / variant (srmt/params.py counts).

    srmt params --preset bottleneck --variant srmt
"""
from __future__ import annotations

import argparse

from srmt.config import PRESETS, VARIANTS, ModelConfig
from srmt.model import SRMTPolicy
from srmt.params import count_parameters


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=sorted(PRESETS), default="bottleneck",
                        help="model sizes (default: bottleneck)")
    parser.add_argument("--variant", choices=VARIANTS, default="srmt",
                        help="core / ablation (default: srmt)")


def run(args: argparse.Namespace) -> int:
    """Print the parameter counts of a preset / variant."""
    cfg = ModelConfig.preset(args.preset, variant=args.variant)
    print(f"preset={args.preset} variant={args.variant}")
    for name, count in count_parameters(SRMTPolicy(cfg)).items():
        print(f"{name:24s} {count:>10,d}")
    return 0


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Register `srmt params`."""
    parser = subparsers.add_parser("params", help="parameter counts of a model preset / variant")
    _add_arguments(parser)
    parser.set_defaults(func=run)
