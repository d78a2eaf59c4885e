"""Things that act: the SRMT agent and baselines, one interface (agents.base).

>>> agent = make_agent("random", seed=0)
>>> agent.name
'Random'
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from agents.base import Agent, AgentError, BatchedEnvView
from agents.baselines import AStarAgent, GreedyAgent, RandomAgent
from agents.guided_pibt import GuidedPIBTAgent
from agents.pibt import PIBTAgent
from agents.pretrained import default_policy_path
from agents.srmt_agent import INTERVENTIONS, POOL_FIELDS, POOL_KINDS, SHIELDS, SRMTAgent


@dataclass(frozen=True)
class Algorithm:
    """A registered agent: its class and one line on what it does (the `--algo` help)."""

    cls: type[Agent]
    """built with `seed=` (baselines) or from a policy file (SRMTAgent.from_checkpoint)"""
    help: str


REGISTRY: dict[str, Algorithm] = {
    "srmt": Algorithm(SRMTAgent, "an SRMT policy file"),
    "pibt": Algorithm(PIBTAgent, "the centralised PIBT planner, full observability"),
    "guided-pibt": Algorithm(GuidedPIBTAgent, "centralised PIBT with congestion guidance and a search that escapes livelocks"),
    "astar": Algorithm(AStarAgent, "pogema's A* per agent"),
    "greedy": Algorithm(GreedyAgent, "batched shortest-path steps"),
    "random": Algorithm(RandomAgent, "uniform random actions"),
}
"""Every algorithm by its --algo name: a new baseline is one line here."""
ALGORITHMS = tuple(REGISTRY)
"""Values of --algo."""


def algorithms_help() -> str:
    """Every algorithm with its line, e.g. 'srmt (an SRMT policy file), pibt (...), ...'."""
    return ", ".join(f"{name} ({algorithm.help})" for name, algorithm in REGISTRY.items())


def check_agent_options(algo: str, *, checkpoint: str | Path | None = None, device: str = "cpu",
                        sample: bool | None = None, shield: str | None = None, memory_intervention: str = "none",
                        pool: Mapping[str, Any] | None = None) -> None:
    """AgentError naming the option for a value no agent takes, or an SRMT option given to another algorithm;
    reads no file (the pairings with a policy's variant: agents.spec.check_policy_options)."""
    if algo not in ALGORITHMS:
        raise AgentError(f"unknown algorithm {algo!r}; choose one of {list(ALGORITHMS)}")
    if shield is not None and shield not in SHIELDS:
        raise AgentError(f"--shield {shield!r} is not one of {list(SHIELDS)} (or none)")
    if memory_intervention not in INTERVENTIONS:
        raise AgentError(f"--memory-intervention {memory_intervention!r} is not one of {list(INTERVENTIONS)}")
    unknown = sorted(set(pool or {}) - set(POOL_FIELDS))
    if unknown:
        raise AgentError(f"pool override {unknown} is not one of {list(POOL_FIELDS)}")
    if algo == "srmt":
        return
    if shield is not None:
        raise AgentError(f"--shield {shield} needs a policy with an action distribution to rank (--algo srmt); "
                         f"{algo!r} picks one action per agent: drop --shield")
    if checkpoint is not None:
        raise AgentError(f"--checkpoint is for --algo srmt, not {algo!r}")
    if memory_intervention != "none" or pool:
        raise AgentError(f"--memory-intervention and --pool act on an SRMT policy's shared memory, not on {algo!r}")
    if sample is not None:
        raise AgentError(f"--sample / --argmax choose how an SRMT policy decodes its actions; {algo!r} picks one "
                         "action per agent: drop it, or use --algo srmt")
    if device != "cpu":
        raise AgentError(f"--device {device} is where an SRMT policy runs; {algo!r} runs no policy: drop --device")


def make_agent(algo: str = "srmt", *, checkpoint: str | Path | None = None, device: str = "cpu",
               sample: bool | None = None, seed: int = 0, batched: bool = True, lifelong: bool = False,
               shield: str | None = None, memory_intervention: str = "none",
               pool: Mapping[str, Any] | None = None) -> Agent:
    """Build an agent by algorithm name (agents.spec.AgentSpec is the same recipe as one picklable object).

    Args:
        algo: one of ALGORITHMS (REGISTRY's names).
        checkpoint: policy file for 'srmt' (default: the shipped policy, see `lifelong`).
        device: torch device of the policy ('srmt' only).
        sample: sample actions (True) or take the argmax (False); None: the policy file's
            recommended `decoding` (argmax when it names none). 'srmt' only.
        seed: seed of the agent's random streams.
        batched: False for the per-agent reference loop ('srmt' only).
        lifelong: without `checkpoint`, use the shipped lifelong policy instead of the Bottleneck one.
        shield: None (no shield), or "pibt": execute the policy's ranked actions through the PIBT collision
            shield ('srmt' only: the shield needs an action distribution; agents.srmt_agent).
        memory_intervention: what replaces the shared pool at test time ('srmt' only; srmt.interventions).
        pool: pool fields of the policy's config to override on the same weights ('srmt' only).

    Raises:
        AgentError: unknown algorithm, an option the algorithm does not take (`check_agent_options`),
            missing default policy, unavailable device.
        srmt.checkpoint.CheckpointError: an unusable policy file.
    """
    check_agent_options(algo, checkpoint=checkpoint, device=device, sample=sample, shield=shield,
                        memory_intervention=memory_intervention, pool=pool)
    if algo != "srmt":
        return REGISTRY[algo].cls(seed=seed)
    if checkpoint is None:
        checkpoint = default_policy_path(lifelong, shield)
        if not checkpoint.is_file():
            raise AgentError(f"no --checkpoint given and the shipped policy {checkpoint} is not there "
                             "(not trained yet?); pass --checkpoint FILE or use --algo astar|greedy|random")
    return SRMTAgent.from_checkpoint(checkpoint, device=device, sample=sample, seed=seed, batched=batched,
                                     shield=shield, memory_intervention=memory_intervention, pool=pool)


__all__ = ["Agent", "AgentError", "BatchedEnvView", "SRMTAgent", "PIBTAgent", "AStarAgent", "GreedyAgent", "RandomAgent",
           "Algorithm", "REGISTRY", "ALGORITHMS", "algorithms_help", "SHIELDS", "INTERVENTIONS", "POOL_FIELDS",
           "POOL_KINDS", "check_agent_options", "make_agent", "default_policy_path"]
