"""Parameter counts of a policy, and a command that prints them.

    python -m srmt.params --preset bottleneck --variant srmt
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from torch import nn

from srmt.config import PRESETS, VARIANTS, ModelConfig
from srmt.model import SRMTPolicy


def _numel(module: nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def count_parameters(model: SRMTPolicy) -> dict[str, int]:
    """Parameter counts: total, without the position table, and per component.

    Keys: total, position_table, without_position_table, then each child of the
    policy (encoder, core, policy_head, value_head) and each child of the core
    as core.<name> (e.g. core.wpe, core.blocks, core.ln_f, core.memory_head).
    """
    total = _numel(model)
    position_table = _numel(getattr(model.core, "wpe", None))
    counts = {"total": total, "position_table": position_table,
              "without_position_table": total - position_table}
    counts.update({name: _numel(child) for name, child in model.named_children()})
    counts.update({f"core.{name}": _numel(child) for name, child in model.core.named_children()})
    return counts


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m srmt.params", description=__doc__.split("\n")[0])
    _add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
