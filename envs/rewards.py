"""Per-step rewards of the SRMT paper's five Bottleneck schemes and the lifelong reward.

Every scheme gives +1 on the step an agent reaches its goal (and nothing else
that step). Otherwise, for agents still on the grid:
  directional           +0.005 when it stepped onto the next cell of its previous shortest path, else 0
  sparse                0
  dense                 -0.01
  directional-negative  -0.005 towards the goal, else -0.01
  moving-negative       -0.01 if it moved, -0.005 if it stayed
  lifelong              0 (only the +1 per goal reached)
Agents no longer on the grid get 0.
"""
from __future__ import annotations

import torch
from torch import Tensor

# scheme -> (towards goal, moved but not towards, stayed)
SHAPING: dict[str, tuple[float, float, float]] = {
    "directional": (0.005, 0.0, 0.0),
    "sparse": (0.0, 0.0, 0.0),
    "dense": (-0.01, -0.01, -0.01),
    "directional-negative": (-0.005, -0.01, -0.01),
    "moving-negative": (-0.01, -0.01, -0.005),
    "lifelong": (0.0, 0.0, 0.0),
}


def step_rewards(scheme: str, reached: Tensor, towards: Tensor, moved: Tensor, was_active: Tensor) -> Tensor:
    """Rewards (same shape as the inputs) for one step.

    Args:
        reached: agent reached its goal this step. towards: it stepped onto the next cell
            of its previous path. moved: its position changed. was_active: it was on the grid.
    """
    to_goal, moved_other, stayed = SHAPING[scheme]
    shaping = torch.where(towards, to_goal, torch.where(moved, moved_other, stayed))
    reward = torch.where(reached, torch.ones_like(shaping), shaping)
    return reward * was_active
