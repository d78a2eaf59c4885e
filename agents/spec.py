"""`AgentSpec`: the agent's knobs as one picklable object, from the command line (agents.options) to every
consumer: `srmt eval` (each worker process and dask worker builds its agent from it), `--checkpoints`
(one spec per file), `srmt render`, `srmt toolbox` and the benchmarks that build agents.

A spec is checked when it is made (`agents.check_agent_options`: values, and SRMT options given to another
algorithm) and when it is built (`check_policy_options`: the options against the policy file's variant
and pool), so a bad pairing fails before any work, with the option named.

>>> AgentSpec("greedy", seed=3).build().name
'Greedy'
>>> AgentSpec("greedy", shield="pibt")
Traceback (most recent call last):
...
agents.base.AgentError: --shield pibt needs a policy with an action distribution to rank (--algo srmt); 'greedy' picks one action per agent: drop --shield
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from agents import Agent, AgentError, POOL_FIELDS, check_agent_options, default_policy_path, make_agent
from srmt.checkpoint import load_policy
from srmt.config import ModelConfig

SIZE_FIELDS = ("pool_neighbours", "pool_radius")
"""The pool fields that size a local pool (meaningless for the global one)."""


def pool_option(field: str) -> str:
    """The command-line option of a pool field: 'pool_neighbours' -> '--pool-neighbours'."""
    return "--" + field.replace("_", "-")


def check_policy_options(cfg: ModelConfig, memory_intervention: str = "none",
                         pool: Mapping[str, Any] | None = None) -> None:
    """AgentError naming the option when the memory intervention or pool options cannot act on a policy of
    config `cfg`: a variant without a shared pool, or a local pool's size for a policy that reads the
    global pool without `--pool local`."""
    pool = dict(pool or {})
    given = [f"{pool_option(k)} {v}" for k, v in pool.items()]
    if pool and not cfg.uses_pool:
        raise AgentError(f"{' '.join(given)}: this policy is of variant {cfg.variant!r}, which has no shared pool "
                         "(only variant 'srmt' has one): drop the pool options")
    sizes = [field for field in SIZE_FIELDS if field in pool]
    if sizes and pool.get("pool", cfg.pool) != "local":
        named = " / ".join(pool_option(field) for field in sizes)
        raise AgentError(f"{named} size a local pool, but this policy reads the global pool (every agent): add "
                         f"--pool local to read the nearest agents, or drop {named}")
    if memory_intervention != "none" and not cfg.uses_pool:
        raise AgentError(f"--memory-intervention {memory_intervention} replaces the shared pool: it needs a policy "
                         f"with one (variant 'srmt'; this one is {cfg.variant!r}): drop --memory-intervention")


@dataclass(frozen=True)
class AgentSpec:
    """A picklable recipe for an agent (agents.make_agent's arguments), checked when made."""

    algo: str = "srmt"
    checkpoint: str | None = None
    device: str = "cpu"
    sample: bool | None = None
    """None: the policy file's recommended decoding"""
    seed: int = 0
    batched: bool = True
    lifelong: bool = False
    """without a checkpoint: the shipped lifelong policy instead of the Bottleneck one"""
    shield: str | None = None
    """None (no shield), or "pibt": the policy's ranked actions through the PIBT collision shield"""
    memory_intervention: str = "none"
    """what replaces the shared pool the agents read (srmt.interventions)"""
    pool: tuple[tuple[str, Any], ...] = ()
    """pool fields of the policy's config overridden on the same weights, e.g. (("pool", "local"),);
    a mapping is accepted and kept as pairs in POOL_FIELDS order"""

    def __post_init__(self) -> None:
        pool = dict(self.pool)
        object.__setattr__(self, "pool", tuple((k, pool[k]) for k in POOL_FIELDS if k in pool)
                           + tuple((k, v) for k, v in pool.items() if k not in POOL_FIELDS))
        if self.checkpoint is not None:
            object.__setattr__(self, "checkpoint", str(self.checkpoint))
        check_agent_options(self.algo, checkpoint=self.checkpoint, device=self.device, sample=self.sample,
                            shield=self.shield, memory_intervention=self.memory_intervention, pool=pool)

    @property
    def policy_path(self) -> Path | None:
        """The policy file an 'srmt' spec loads (None for baselines)."""
        if self.algo != "srmt":
            return None
        return Path(self.checkpoint) if self.checkpoint else default_policy_path(self.lifelong, self.shield)

    def build(self) -> Agent:
        """The agent; the pairings with the policy file are checked first (`check_policy_options`)."""
        if self.algo == "srmt" and (self.pool or self.memory_intervention != "none") and self.policy_path.is_file():
            check_policy_options(load_policy(self.policy_path).model_config, self.memory_intervention, dict(self.pool))
        return make_agent(self.algo, checkpoint=self.checkpoint, device=self.device, sample=self.sample,
                          seed=self.seed, batched=self.batched, lifelong=self.lifelong, shield=self.shield,
                          memory_intervention=self.memory_intervention, pool=dict(self.pool))
