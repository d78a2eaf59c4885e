"""The learner's pass over a rollout: the core over T steps of E environments x A agents.

Acting calls the core one step at a time on whole environments. The learner
recomputes a stored rollout at once; how depends on `ModelConfig.memory`:

- stored: every row from its own stored state (which holds its pool), in one call;
- rebuilt: every (environment, step) from the stored states, grouped, in one call:
  each step's pool is rebuilt from the stored own memories of that environment's agents;
- learned: step by step, each step's state being the core's new state of the step before
  (memories, pool and history carry gradients, across agents); the stored state is used
  only at the first step of the rollout and where an episode starts (steps_seen = 0).
  This is truncated backpropagation through time over the rollout.

Before any update all three give the outputs acting gave (replay), up to float rounding.

>>> import torch
>>> from srmt import ModelConfig, initial_state
>>> from srmt.core import make_core
>>> cfg = ModelConfig.preset("bottleneck", memory="learned")
>>> core = make_core(cfg)
>>> features = torch.randn(3, 2, 4, cfg.hidden)  # 3 envs x 2 agents x 4 steps
>>> states = initial_state(cfg, 2, 3 * 2 * 4).view(3, 2, 4, -1)
>>> tuple(unroll(core, features, states).shape)
(3, 2, 4, 16)
>>> out, memories = unroll_memories(core, features, states)  # and what each agent wrote to the pool
>>> tuple(memories.shape)
(3, 2, 4, 16)
"""
from __future__ import annotations

import torch

from srmt.core import Core
from srmt.state import unpack_state


def unroll(core: Core, features: torch.Tensor, states: torch.Tensor,
           positions: torch.Tensor | None = None) -> torch.Tensor:
    """Core outputs of a rollout.

    Args:
        core: the policy's core (its cfg.memory picks the pass).
        features: (E, A, T, H) encoder outputs, environment-major, agents in
            environment order, steps in time order.
        states: (E, A, T, S) the states acting stored before each step (zeroed
            at an episode start).
        positions: (E, A, T, 2) the agents' map cells at each step (pool='local' only).

    Returns:
        (E, A, T, out_size) outputs at the current-observation token.
    """
    return unroll_memories(core, features, states, positions)[0]


def unroll_memories(core: Core, features: torch.Tensor, states: torch.Tensor,
                    positions: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """`unroll`, and the memory each agent wrote at each step (what the pool holds at the next step).

    Returns:
        (E, A, T, out_size) outputs at the current-observation token, and (E, A, T, M) the new own
        memories (srmt.state layout's memory part: H for srmt / rmt, gru_hidden for gru, 0 otherwise),
        with their gradients in every memory mode.
    """
    if features.dim() != 4 or states.dim() != 4 or features.shape[:3] != states.shape[:3]:
        raise ValueError(f"features {tuple(features.shape)} and states {tuple(states.shape)} must be "
                         "(E, A, T, H) and (E, A, T, S) with the same E, A, T")
    envs, agents, steps = features.shape[:3]
    memory = core.cfg.memory
    if positions is not None and positions.shape != (envs, agents, steps, 2):
        raise ValueError(f"positions {tuple(positions.shape)} must be (E, A, T, 2) = {(envs, agents, steps, 2)}")

    def own_memories(new_states: torch.Tensor) -> torch.Tensor:  # (N, S) -> (N, M)
        return unpack_state(new_states, core.cfg, agents).memory

    if memory == "stored":
        out, new = core(features.flatten(0, 2), states.flatten(0, 2), agents, grouped=False)
        return out.view(envs, agents, steps, -1), own_memories(new).view(envs, agents, steps, -1)
    by_step = features.transpose(1, 2), states.transpose(1, 2)  # (E, T, A, H), (E, T, A, S)
    cells = None if positions is None else positions.transpose(1, 2)  # (E, T, A, 2)
    if memory == "rebuilt":
        out, new = core(by_step[0].flatten(0, 2), by_step[1].flatten(0, 2), agents, grouped=True,
                        positions=None if cells is None else cells.flatten(0, 2))
        return (out.view(envs, steps, agents, -1).transpose(1, 2),
                own_memories(new).view(envs, steps, agents, -1).transpose(1, 2))
    outs, memories, state = [], [], by_step[1][:, 0].flatten(0, 1)  # (E*A, S)
    for t in range(steps):
        if t:
            stored = by_step[1][:, t].flatten(0, 1)  # (E*A, S)
            starts = unpack_state(stored, core.cfg, agents).steps_seen == 0  # (E*A,)
            state = torch.where(starts[:, None], stored, state)
        out, state = core(by_step[0][:, t].flatten(0, 1), state, agents, grouped=True,
                          positions=None if cells is None else cells[:, t].flatten(0, 1))
        outs.append(out.view(envs, agents, -1))
        memories.append(own_memories(state).view(envs, agents, -1))
    return torch.stack(outs, dim=2), torch.stack(memories, dim=2)  # (E, A, T, out), (E, A, T, M)
