"""The SRMT agent: a policy file -> actions for all agents of many episodes at once.

The recurrent state is the flat per-row state of srmt.state (memory, shared
pool, history, steps seen); an all-zero row is an episode start, so starting
an episode is zeroing the rows of its environment. One forward pass per step
covers every running environment (grouped=True: the pool is shared inside an
environment and never across environments); environments whose episode is
over are left out of the pass.

`batched=False` runs the reference path instead: one environment at a time
and the model called once per agent (grouped=False), the shared pool rebuilt
from the agents' new memories after the loop, as the reference code does it.
Both paths give the same actions (tests/test_agents_srmt.py); the evaluation
benchmark times one against the other.

`shield="pibt"` executes the policy's preferences through a collision shield
(CS-PIBT): each agent ranks its actions by its policy (by logit with argmax
decoding; a sample without replacement with sampled decoding) and PIBT's
priority inheritance and backtracking (planners.pibt) picks conflict-free moves in
that order. The shield assumes agents that exchange intentions with their
neighbours each step (who goes where, with which priority): a step beyond the
published SRMT, which has no shield. Without it the agent acts exactly as before.

`memory_intervention` replaces the shared pool the agents read at test time
(srmt.interventions: zero-pool, own-only, shuffle-envs, freeze), and
`record_attention = True` keeps each step's attention in `attention`
(srmt.inspect.StepAttention, expanded to every environment: zero rows for envs
left out of the pass). Both are off by default, and then cost nothing. A
policy with a local pool (pool='local') reads the agents' positions from the env.
"""
from __future__ import annotations

import dataclasses
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from agents.base import AgentError, BatchedEnvView, EpisodeStreams
from common.device import resolve_device
from envs.config import EnvConfig
from planners.registry import SHIELDS, make_shield
from srmt.checkpoint import load_policy
from srmt.config import POOL_KINDS, ModelConfig
from srmt.decoding import action_preferences
from srmt.inspect import StepAttention, record_attention
from srmt.interventions import INTERVENTIONS, make_intervention
from srmt.model import SRMTPolicy
from srmt.state import pack_state, unpack_state


POOL_FIELDS = ("pool", "pool_neighbours", "pool_radius")
"""The ModelConfig fields a policy may be evaluated with other than it was trained with."""


def with_pool(policy: SRMTPolicy, pool: Mapping[str, Any]) -> SRMTPolicy:
    """The same weights with other pool fields (e.g. a local pool for a policy trained with the global one).

    A local pool keeps no pool in the state: a policy trained with memory='stored' then acts with
    'rebuilt', which acts identically (the stored pool is the agents' last memories; docs/model.md).
    """
    unknown = sorted(set(pool) - set(POOL_FIELDS))
    if unknown:
        raise AgentError(f"pool override {unknown} is not one of {list(POOL_FIELDS)}")
    memory = policy.cfg.memory
    if pool.get("pool") == "local" and memory == "stored":
        memory = "rebuilt"
    try:
        cfg = dataclasses.replace(policy.cfg, memory=memory, **pool)
    except ValueError as err:
        raise AgentError(f"cannot evaluate this policy with {dict(pool)}: {err}") from err
    other = SRMTPolicy(cfg).to(policy.policy_head.weight.device)
    other.load_state_dict(policy.state_dict())
    return other


class SRMTAgent(EpisodeStreams):
    """Acts with an SRMTPolicy; keeps memory and history per episode.

    Args:
        policy: the model (moved to `device`, put in eval mode).
        device: 'cpu', 'cuda' or 'cuda:N'.
        sample: sample actions from the policy instead of taking the argmax.
        seed: agent seed of the sampling streams (one per episode, see agents.base).
        name: algorithm name in result records.
        env_config: the training env (`EnvConfig.to_dict()`, from the policy file): its `guidance` is the one
            the agent's observations must have.
        meta: the policy file's free-form provenance.
        batched: False runs the per-agent reference loop (slow; for checks and benchmarks).
        shield: None (the policy's actions as they are) or "pibt" (the collision shield, module docstring).
        memory_intervention: "none" or what replaces the shared pool (srmt.interventions).
    """

    def __init__(self, policy: SRMTPolicy, *, device: str | torch.device = "cpu", sample: bool = False,
                 seed: int = 0, name: str = "SRMT", batched: bool = True,
                 env_config: Mapping[str, Any] | None = None, meta: Mapping[str, Any] | None = None,
                 shield: str | None = None, memory_intervention: str = "none"):
        self.device = resolve_device(device)
        self.policy = policy.to(self.device).eval()
        self.cfg: ModelConfig = policy.cfg
        super().__init__(seed)
        self.name, self.sample, self.batched = name, sample, batched
        self.obs_radius: int | None = self.cfg.obs_radius
        self.env_config = dict(env_config or {})
        self.guidance: str = self.env_config.get("guidance", EnvConfig.guidance)
        """what channel 0 of its observations carries (envs.config.PathGuidance): the training env's, so
        evaluation builds its envs with it; 'path' for policy files from before the option"""
        self.meta = dict(meta or {})
        self.state: Tensor | None = None
        if shield is not None and shield not in SHIELDS:
            raise AgentError(f"shield={shield!r} is not one of {list(SHIELDS)} (or None: no shield)")
        self.shield = shield
        self._shield = make_shield(shield) if shield else None
        if shield:
            self.name = f"{name}+{shield}-shield"
        if memory_intervention not in INTERVENTIONS:
            raise AgentError(f"memory intervention {memory_intervention!r} is not one of {list(INTERVENTIONS)}")
        if memory_intervention != "none" and (not self.cfg.uses_pool or not batched):
            raise AgentError(f"--memory-intervention {memory_intervention} replaces the shared pool: it needs a "
                             f"policy with one (variant 'srmt', this one is {self.cfg.variant!r}) and the batched "
                             "agent")
        self.memory_intervention = memory_intervention
        if memory_intervention != "none":
            self.name = f"{self.name}-{memory_intervention}"
        if self.cfg.uses_pool:
            self.policy.core.intervention = make_intervention(memory_intervention)
        self._record_attention = False
        self.attention: StepAttention | None = None
        if not batched and self.cfg.uses_pool and not self.cfg.stores_pool:
            raise AgentError(f"batched=False (the per-agent reference loop) needs memory='stored'; this policy "
                             f"uses memory={self.cfg.memory!r}, whose pool is rebuilt from a whole environment")

    @classmethod
    def from_checkpoint(cls, path: str | Path, *, device: str | torch.device = "cpu", sample: bool | None = None,
                        seed: int = 0, expect: ModelConfig | Mapping[str, Any] | None = None,
                        name: str | None = None, batched: bool = True, shield: str | None = None,
                        memory_intervention: str = "none",
                        pool: Mapping[str, Any] | None = None) -> "SRMTAgent":
        """Load a policy file (srmt.checkpoint); `expect` pins config fields (CheckpointError on mismatch).

        `pool` overrides the pool fields of the file's config (pool, pool_neighbours, pool_radius)
        on the same weights, e.g. {"pool": "local", "pool_neighbours": 16}.

        `sample=None` follows the file's `meta["decoding"]` ("sample" or "argmax"; argmax if absent); with a
        shield it ranks by logit (argmax first).
        """
        dev = resolve_device(device)
        loaded = load_policy(path, device=dev, expect=expect)
        model = loaded.model if not pool else with_pool(loaded.model, pool)
        variant = "" if loaded.model.cfg.variant == "srmt" else f"-{loaded.model.cfg.variant}"  # e.g. SRMT-empty
        name = name or str(loaded.meta.get("algorithm", "SRMT")) + variant
        if model.cfg != loaded.model.cfg:  # the pool overridden: the records say so
            cfg = model.cfg
            name += f"-local-k{cfg.pool_neighbours}-r{cfg.pool_radius}" if cfg.local_pool else "-global"
        if sample is None:  # with a shield the ranking is by logit (docs/shield.md: measured better)
            sample = shield is None and loaded.meta.get("decoding") == "sample"
        return cls(model, device=dev, sample=sample, seed=seed, name=name, batched=batched,
                   env_config=loaded.env_config, meta=loaded.meta, shield=shield,
                   memory_intervention=memory_intervention)

    @property
    def record_attention(self) -> bool:
        """True: each `act` keeps its attention in `self.attention` (srmt.inspect.StepAttention)."""
        return self._record_attention

    @record_attention.setter
    def record_attention(self, on: bool) -> None:
        if on and not self.cfg.uses_pool:
            raise AgentError(f"attention to the shared memory needs a policy with a pool: variant 'srmt'; "
                             f"this policy's variant is {self.cfg.variant!r}")
        if on and not self.batched:
            raise AgentError("attention is recorded on the batched agent only (batched=True)")
        self._record_attention = bool(on)

    # ------------------------------------------------------------ episodes
    def reset(self, num_envs: int, num_agents: int, seeds: Sequence[int] | None = None) -> None:
        super().reset(num_envs, num_agents, seeds)
        self.state = self.policy.initial_state(self.num_agents, self.num_envs * self.num_agents)  # (N, S)
        if self._shield is not None:
            self._shield.reset(self.num_envs, self.num_agents, self.rngs)

    def reset_envs(self, envs: Sequence[int], seeds: Sequence[int] | None = None) -> None:
        super().reset_envs(envs, seeds)
        for e in envs:
            self.state[int(e) * self.num_agents:(int(e) + 1) * self.num_agents] = 0.0  # all-zero = episode start
        if self._shield is not None:
            self._shield.new_episodes(envs, self.rngs)

    # ---------------------------------------------------------------- acting
    def _check(self, obs: Tensor, env: BatchedEnvView) -> None:
        self.check(env)
        w = self.cfg.obs_size
        if obs.dim() != 4 or tuple(obs.shape[1:]) != (3, w, w):
            got = "x".join(str(s) for s in obs.shape[2:]) if obs.dim() == 4 else str(tuple(obs.shape))
            raise AgentError(f"observations are {got} windows but the policy was trained with obs_radius="
                             f"{self.cfg.obs_radius} ({w}x{w}); build the env with obs_radius="
                             f"{self.cfg.obs_radius}")

    @torch.no_grad()
    def act(self, obs: Tensor, env: BatchedEnvView) -> Tensor:
        """Actions (N,) long on CPU; rows of frozen envs get 0 and keep their state."""
        self._check(obs, env)
        A = self.num_agents
        live = (~env.frozen).nonzero().flatten().tolist()
        actions = torch.zeros(self.num_envs * A, dtype=torch.long)
        if not live:
            return actions
        if len(live) == self.num_envs:
            rows = slice(None)
        else:
            rows = (torch.tensor(live)[:, None] * A + torch.arange(A)).flatten()  # (E_live*A,)
        x = obs[rows].to(self.device, non_blocking=True)  # (B, 3, w, w)
        state = self.state[rows]  # (B, S)
        if self.batched:
            logits, new_state = self._forward(x, state, env, rows, live)
        else:
            logits, new_state = self._per_agent(x, state)
        self.state[rows] = new_state
        if self._shield is None:
            actions[rows] = self._choose(logits, live)
            return actions
        preferences = np.zeros((self.num_envs * A, logits.shape[1]), dtype=np.int64)
        preferences[rows] = self._rank(logits, live)
        return torch.from_numpy(self._shield.actions(env, self.rngs, preferences))

    def _forward(self, x: Tensor, state: Tensor, env: BatchedEnvView, rows: slice | Tensor,
                 live: list[int]) -> tuple[Tensor, Tensor]:
        """One grouped step of the live environments (positions for a local pool, hooks when set)."""
        A = self.num_agents
        positions = None
        if self.cfg.local_pool:
            positions = env.positions.reshape(-1, 2)[rows].to(self.device)  # (B, 2)
        intervention = self.policy.core.intervention if self.cfg.uses_pool else None
        if intervention is not None:
            intervention.select(live)
        with record_attention(self.policy) if self._record_attention else nullcontext() as record:
            logits, _, new_state = self.policy(x, state, A, grouped=True, positions=positions)  # (B, 5), _, (B, S)
        if record is None:
            return logits, new_state
        step = record.step()
        pool = torch.zeros(self.num_envs, A, A)
        tokens = torch.zeros(self.num_envs * A, step.tokens.shape[1])
        valid = torch.zeros(tokens.shape, dtype=torch.bool)
        pool[live], tokens[rows], valid[rows] = step.pool.cpu(), step.tokens.cpu(), step.token_valid.cpu()
        self.attention = StepAttention(pool, tokens, valid)
        return logits, new_state

    def _per_agent(self, obs: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        """Reference path: model called per agent, pool rebuilt from the new memories."""
        A = self.num_agents
        logits, new_rows = [], []
        for i in range(obs.shape[0]):
            lg, _, st = self.policy(obs[i:i + 1], state[i:i + 1], A, grouped=False)  # (1, 5), _, (1, S)
            logits.append(lg)
            new_rows.append(st)
        new_state = torch.cat(new_rows)  # (B, S)
        if self.cfg.uses_pool:
            view = unpack_state(new_state, self.cfg, A)
            pool = view.memory.reshape(-1, A, self.cfg.hidden)  # (E, A, H): this step's memories per env
            new_state = pack_state(view._replace(pool=pool))
        return torch.cat(logits), new_state

    def _rank(self, logits: Tensor, live: list[int]) -> np.ndarray:
        """(B, 5) action codes per row, most preferred first: by logit, or sampled without replacement."""
        if not self.sample:
            return action_preferences(logits).numpy()
        A = self.num_agents
        uniform = np.concatenate([self.rngs[e].random((A, logits.shape[1])) for e in live])
        return action_preferences(logits, torch.from_numpy(uniform)).numpy()

    def _choose(self, logits: Tensor, live: list[int]) -> Tensor:
        if not self.sample:
            return logits.argmax(dim=-1).cpu()
        probs = torch.softmax(logits.float(), dim=-1).cpu().double().numpy()  # (B, 5)
        A = self.num_agents
        out = np.empty(probs.shape[0], dtype=np.int64)
        for k, e in enumerate(live):
            p = probs[k * A:(k + 1) * A]
            u = self.rngs[e].random(A)[:, None]
            # inverse CDF; the min() guards against cumsum rounding below 1
            out[k * A:(k + 1) * A] = np.minimum((p.cumsum(axis=1) < u).sum(axis=1), p.shape[1] - 1)
        return torch.from_numpy(out)
