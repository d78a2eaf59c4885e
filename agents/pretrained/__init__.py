"""Policies shipped with srmt.

`bottleneck_srmt.pt` (written by the training engineer with
srmt.checkpoint.save_policy) is the small SRMT policy trained on the
Bottleneck task; `srmt eval` and `srmt render` use it when no --checkpoint is
given.
"""
from __future__ import annotations

from pathlib import Path

DEFAULT_POLICY = "bottleneck_srmt.pt"


def default_policy_path() -> Path:
    """Path of the shipped Bottleneck SRMT policy (it may not exist in a source checkout yet)."""
    return Path(__file__).resolve().parent / DEFAULT_POLICY
