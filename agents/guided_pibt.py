"""The guided PIBT baseline (`--algo guided-pibt`): a centralised lifelong planner on the true state of every env.

The planner (PIBT with congestion-aware guidance and a search-based escape from livelocks) lives in
planners/guided_pibt.py; this agent gives it the episode's random streams, so an episode's result depends
only on its task. The switches exist for the ablation (docs/planners.md); `--algo guided-pibt` has both on.
"""
from __future__ import annotations

from agents.pibt import PlannerAgent
from planners.guided_pibt import GuidedPIBTPlanner


def variant_name(guidance: bool, escape: bool) -> str:
    """The algorithm name in result records: GuidedPIBT with both switches on, else which one is on."""
    if guidance and escape:
        return "GuidedPIBT"
    return "GuidedPIBT-" + ("guidance" if guidance else "escape" if escape else "off")


class GuidedPIBTAgent(PlannerAgent):
    """Centralised guided PIBT with full observability (planners.guided_pibt.GuidedPIBTPlanner)."""

    def __init__(self, seed: int = 0, guidance: bool = True, escape: bool = True):
        super().__init__(GuidedPIBTPlanner(guidance=guidance, escape=escape), seed, variant_name(guidance, escape))
