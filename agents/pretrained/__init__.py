"""Policies shipped with srmt (each `NAME.pt` with a readable `NAME.json` beside it).

- `bottleneck_srmt.pt`: the small SRMT policy trained on the two-agent
  Bottleneck corridors (finish mode);
- `lifelong_srmt.pt`: the SRMT policy trained with the `lifelong-cpu` preset
  (restart mode, 64 agents, radius 5): PIBT imitation, then APPO;
- `lifelong_srmt_shield.pt`: imitation of guided PIBT, then APPO with the PIBT
  collision shield inside the training env: the policy for `--shield pibt`
  (docs/shield.md), worse without it.

`srmt eval` and `srmt render` use the one that fits the suite or map when no
--checkpoint is given, and say which.
"""
from __future__ import annotations

from pathlib import Path

BOTTLENECK_POLICY = "bottleneck_srmt.pt"
LIFELONG_POLICY = "lifelong_srmt.pt"
LIFELONG_SHIELD_POLICY = "lifelong_srmt_shield.pt"


def default_policy_path(lifelong: bool = False, shield: str | None = None) -> Path:
    """Path of the shipped lifelong (with a shield: the shield's) or Bottleneck SRMT policy."""
    name = BOTTLENECK_POLICY if not lifelong else LIFELONG_SHIELD_POLICY if shield else LIFELONG_POLICY
    return Path(__file__).resolve().parent / name


def random_init_policy(path: str | Path, seed: int = 0) -> Path:
    """Write an untrained Bottleneck-preset SRMT policy (weights from `seed`, memory='stored' like the
    shipped Bottleneck policy, so the per-agent reference loop can run it) to `path`: a stand-in where no trained
    policy exists yet (speed benchmarks)."""
    import torch

    from srmt.checkpoint import save_policy
    from srmt.config import ModelConfig
    from srmt.model import SRMTPolicy

    torch.manual_seed(seed)
    cfg = ModelConfig.preset("bottleneck", memory="stored")
    return save_policy(path, SRMTPolicy(cfg), cfg, {}, {"note": "random init"})
