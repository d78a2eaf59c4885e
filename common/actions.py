"""pogema's actions, in one table: every move rule of the project (dynamics, path rule, PIBT, renderer) reads it.

    >>> ACTION_STEPS[STAY], ACTION_STEPS[1:] == STEP_ORDER, NUM_ACTIONS
    ((0, 0), True, 5)
"""
from __future__ import annotations

ACTION_STEPS: tuple[tuple[int, int], ...] = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))
"""(d_row, d_col) of actions 0..4: stay, up, down, left, right (pogema 1.4's order)."""
NUM_ACTIONS = len(ACTION_STEPS)
STAY = 0
STEP_ORDER = ACTION_STEPS[1:]
"""The moving actions in action order: up, down, left, right. The path rule's neighbour order (ties go to
the first) and action code k + 1 of STEP_ORDER[k]."""
