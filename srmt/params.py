"""Parameter counts of a policy (`srmt params` prints them: cli/params.py)."""

from __future__ import annotations

from torch import nn

from srmt.config import ModelConfig
from srmt.intent import IntentHead
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


def count_intent_head(cfg: ModelConfig, moves: int) -> int:
    """Parameters of the training-only intent head (srmt/intent.py) of `cfg` predicting `moves` moves:
    moves x num_actions x (hidden + 1). Not part of the policy, so not in `count_parameters`."""
    return _numel(IntentHead(cfg, moves))
