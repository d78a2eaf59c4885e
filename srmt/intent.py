"""Intent: predicting an agent's own next moves from the memory it writes to the pool (`srmt imitate --intent-loss`).

The memory an agent writes at step t is what the other agents of its environment read at t+1. An
auxiliary head that predicts, from that memory alone, the agent's own next K moves (the expert's
actions at t .. t+K-1 of the same episode) trains the memory to carry an intent message. The head is
a training aid: it is not part of SRMTPolicy, so policy files, evaluation and `srmt train
--init_policy` are the same with or without it (docs/model.md, "Intent loss").

>>> import torch
>>> from srmt import ModelConfig
>>> head = IntentHead(ModelConfig.preset("bottleneck"), moves=3)
>>> tuple(head(torch.zeros(2, 4, 8, 16)).shape)  # (E, A, T, H) memories -> (E, A, T, K, actions)
(2, 4, 8, 3, 5)
>>> actions = torch.tensor([[0, 1, 2, 3]])
>>> targets, valid = next_moves(actions, torch.tensor([[True, False, True, False]]), moves=2)
>>> targets.tolist(), valid.tolist()  # an episode starts at steps 0 and 2: step 1's second move is not its own
([[[0, 1], [1, 2], [2, 3], [3, 0]]], [[[True, True], [True, False], [True, True], [True, False]]])
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from srmt.config import ModelConfig


class IntentHead(nn.Module):
    """Linear(H -> K x num_actions) on an agent's memory: logits of its next K moves."""

    def __init__(self, cfg: ModelConfig, moves: int) -> None:
        super().__init__()
        if not cfg.uses_memory:
            raise ValueError(f"an intent head reads the agent's memory: variant={cfg.variant!r} writes none; "
                             "use variant 'srmt' or 'rmt'")
        if isinstance(moves, bool) or not isinstance(moves, int) or moves < 1:
            raise ValueError(f"moves={moves!r} must be an int >= 1")
        self.moves, self.num_actions = moves, cfg.num_actions
        self.linear = nn.Linear(cfg.hidden, moves * cfg.num_actions)

    def forward(self, memories: torch.Tensor) -> torch.Tensor:
        """memories (..., H) -> logits (..., K, num_actions)."""
        return self.linear(memories).unflatten(-1, (self.moves, self.num_actions))


def next_moves(actions: torch.Tensor, starts: torch.Tensor, moves: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The K moves from each step on, within the rollout and the episode.

    Args:
        actions: (..., T) long, one agent's actions in time order.
        starts: (..., T) bool, True where an episode starts (its first step).
        moves: K.

    Returns:
        targets (..., T, K): actions[t + k] (0 where it does not exist), and valid (..., T, K) bool:
        t + k is inside the rollout and no episode starts in (t, t + k].
    """
    if actions.shape != starts.shape:
        raise ValueError(f"actions {tuple(actions.shape)} and starts {tuple(starts.shape)} must have one shape")
    steps = actions.shape[-1]
    targets = actions.new_zeros(*actions.shape, moves)  # (..., T, K)
    valid = torch.zeros(*actions.shape, moves, dtype=torch.bool, device=actions.device)  # (..., T, K)
    same_episode = torch.ones_like(starts)  # (..., T): no start in (t, t + k] so far
    for k in range(min(moves, steps)):
        n = steps - k  # steps t with t + k inside the rollout
        if k:
            same_episode[..., :n] &= ~starts[..., k:]
        targets[..., :n, k] = actions[..., k:]
        valid[..., :n, k] = same_episode[..., :n]
    return targets, valid


def intent_loss(logits: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Mean cross-entropy over the valid (step, move) entries, and the share of them predicted right.

    logits (..., K, C), targets and valid (..., K). No valid entry: loss 0 (still in the graph), accuracy 0.
    """
    chosen = logits[valid]  # (N, C)
    if chosen.shape[0] == 0:
        return logits.sum() * 0.0, 0.0
    right = targets[valid]  # (N,)
    return F.cross_entropy(chosen, right), float((chosen.argmax(-1) == right).float().mean())
