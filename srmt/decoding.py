"""From a policy's logits to a ranking of its actions, the input of a collision shield (planners/pibt.py).

>>> import torch
>>> action_preferences(torch.tensor([[0.0, 2.0, 1.0, -1.0, 0.5]])).tolist()
[[1, 2, 4, 0, 3]]
"""
from __future__ import annotations

import torch


def action_preferences(logits: torch.Tensor, uniform: torch.Tensor | None = None) -> torch.Tensor:
    """(B, n) action codes, most preferred first.

    Args:
        logits: (B, n) action logits.
        uniform: None ranks by logit (argmax first); (B, n) uniform noise in [0, 1) draws the ranking
            as a sample without replacement from the policy's distribution (Gumbel-top-k), so its first
            entry is distributed as a sampled action.
    """
    scores = logits.detach().float().cpu()
    if uniform is not None:
        u = uniform.to(torch.float64).clamp(1e-300, 1 - 1e-16)
        scores = torch.log_softmax(scores.double(), -1) - torch.log(-torch.log(u))
    return scores.argsort(dim=-1, descending=True, stable=True)
