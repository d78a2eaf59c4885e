"""The planners by name, in their two other roles: the expert `srmt imitate --expert` copies, and the collision
shield `--shield` runs a policy's ranking through.

Every planner here has PIBTPlanner's interface (reset, new_episodes, actions(env, rngs, preferences=None)).
Experts plan with their own preferences; shields are one-step resolvers (a multi-step search such as guided
PIBT's escape is left out: the policy acts again next step), so the guided shield uses the guidance only.

>>> sorted(EXPERTS), SHIELDS
(['guided-pibt', 'pibt'], ('pibt', 'guided-pibt'))
>>> make_shield("greedy")
Traceback (most recent call last):
...
planners.registry.UnknownPlannerError: unknown shield 'greedy'; the shields are: pibt, guided-pibt
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union

from planners.guided_pibt import GuidedPIBTPlanner
from planners.pibt import PIBTPlanner

Planner = Union[PIBTPlanner, GuidedPIBTPlanner]


class UnknownPlannerError(ValueError):
    """An expert or shield name that is not registered; the message lists the ones that are."""


@dataclass(frozen=True)
class Entry:
    """A registered planner: how to build it and the name results and policy files record."""

    build: Callable[[], Planner]
    label: str


EXPERTS: dict[str, Entry] = {
    "pibt": Entry(PIBTPlanner, "PIBT"),
    "guided-pibt": Entry(GuidedPIBTPlanner, "GuidedPIBT"),
}
"""`srmt imitate --expert NAME`: the planner whose actions the policy learns (label: the policy file's "expert")."""
SHIELD_PLANNERS: dict[str, Entry] = {
    "pibt": Entry(PIBTPlanner, "PIBT"),
    "guided-pibt": Entry(lambda: GuidedPIBTPlanner(escape=False), "GuidedPIBT"),
}
"""`--shield NAME`: the one-step resolver a policy's ranking goes through."""
SHIELDS = tuple(SHIELD_PLANNERS)
"""Values of --shield (besides none)."""
ROLLOUT_SHIELDS = ("pibt",)
"""The shields that also run inside training rollouts (`srmt train --shield`, envs/shielded.py; `srmt imitate
--shield`): they take each agent's full ranking (PIBTPlanner's `preferences` / `first`). guided-pibt, which
re-orders all but the first choice by traffic, serves evaluation only (eval, render, toolbox)."""


def _entry(table: dict[str, Entry], kind: str, name: str) -> Entry:
    if name not in table:
        raise UnknownPlannerError(f"unknown {kind} {name!r}; the {kind}s are: {', '.join(table)}")
    return table[name]


def make_expert(name: str) -> Planner:
    """A fresh expert planner by name (UnknownPlannerError listing the names for any other)."""
    return _entry(EXPERTS, "expert", name).build()


def expert_label(name: str) -> str:
    """The name a policy file records for expert `name` (e.g. "PIBT")."""
    return _entry(EXPERTS, "expert", name).label


def make_shield(name: str) -> Planner:
    """A fresh shield resolver by name (UnknownPlannerError listing the names for any other)."""
    return _entry(SHIELD_PLANNERS, "shield", name).build()
