"""pogema's collision rules on scripted micro-scenarios, both backends, literal positions.

Open 4x5 map, on_target='nothing' (nobody disappears), one step each:

    row 0  .....
    row 1  .....
    row 2  .....
    row 3  .....
"""
import numpy as np
import pytest
import torch

from envs.config import EnvConfig
from envs.pogema_backend import PogemaBatchedEnv
from envs.torch_backend import TorchBatchedEnv
from envs.torch_backend.dynamics import resolve_moves

STAY, UP, DOWN, LEFT, RIGHT = range(5)
GRID = "\n".join(["....."] * 4)
GOALS = ((3, 0), (3, 1), (3, 2), (3, 3), (3, 4))


def one_step(system: str, starts, actions, grid: str = GRID) -> list[tuple[int, int]]:
    """Positions after one step; both backends must agree."""
    cfg = EnvConfig(grid=grid, num_agents=len(starts), collision_system=system, on_target="nothing",
                    reward="sparse", starts=tuple(starts), goals=GOALS[: len(starts)])
    out = []
    for env in (PogemaBatchedEnv(cfg, 1), TorchBatchedEnv(cfg, 1)):
        env.reset()
        env.step(torch.tensor(actions))
        out.append([tuple(p) for p in env.positions[0].tolist()])
    assert out[0] == out[1], f"pogema {out[0]} vs torch {out[1]}"
    return out[0]


ROTATION = ([(1, 1), (1, 2), (2, 2), (2, 1)], [RIGHT, DOWN, LEFT, UP])


@pytest.mark.parametrize("system, expected", [
    ("soft", [(1, 2), (2, 2), (2, 1), (1, 1)]),        # a cycle of 4 all moves
    ("block_both", ROTATION[0]),                       # every current cell is blocked
    ("priority", ROTATION[0]),                         # agent 0 finds agent 1 still there, and so on
])
def test_rotation_of_four(system, expected):
    assert one_step(system, *ROTATION) == expected


@pytest.mark.parametrize("system", ["soft", "block_both", "priority"])
def test_swap_never_happens(system):
    assert one_step(system, [(0, 0), (0, 1)], [RIGHT, LEFT]) == [(0, 0), (0, 1)]


@pytest.mark.parametrize("system, expected", [
    ("soft", [(0, 1), (0, 2), (0, 3)]),                # the chain resolves
    ("block_both", [(0, 0), (0, 1), (0, 3)]),          # only the head: the others target occupied cells
    ("priority", [(0, 0), (0, 1), (0, 3)]),            # index order runs tail first: only the head
])
def test_train_moving_right(system, expected):
    assert one_step(system, [(0, 0), (0, 1), (0, 2)], [RIGHT] * 3) == expected


def test_priority_follows_index_order():
    # head first in index order: each agent finds the cell ahead already vacated
    assert one_step("priority", [(0, 2), (0, 1), (0, 0)], [RIGHT] * 3) == [(0, 3), (0, 2), (0, 1)]


@pytest.mark.parametrize("system, expected", [
    ("soft", [(0, 1), (0, 2)]),                        # the lowest index wins the cell
    ("priority", [(0, 1), (0, 2)]),                    # agent 0 moves first
    ("block_both", [(0, 0), (0, 2)]),                  # wanted twice: blocked for both
])
def test_two_agents_want_one_cell(system, expected):
    assert one_step(system, [(0, 0), (0, 2)], [RIGHT, LEFT]) == expected


def test_soft_cascade_back_from_a_wall():
    # agent 2 walks into the wall, so agents 1 and 0 behind it are reverted in turn
    grid = "\n".join(["...#.", "....."] + ["....."] * 2)
    assert one_step("soft", [(0, 0), (0, 1), (0, 2)], [RIGHT] * 3, grid) == [(0, 0), (0, 1), (0, 2)]


def test_soft_swap_reverts_a_follower():
    # agents 1 and 2 swap (both reverted), agent 0 wanted agent 1's cell: reverted too
    assert one_step("soft", [(0, 0), (0, 1), (0, 2)], [RIGHT, RIGHT, LEFT]) == [(0, 0), (0, 1), (0, 2)]


@pytest.mark.parametrize("system", ["soft", "block_both", "priority"])
def test_pairwise_and_canvas_conflicts_agree(system):
    """The two ways of finding who stands on / wants a cell give the same moves on random states."""
    rng = np.random.default_rng(0)
    size, envs, agents = 30, 200, 6
    cell = torch.stack([torch.from_numpy(rng.choice(size, agents, replace=False)) for _ in range(envs)])
    target = (cell + torch.from_numpy(rng.choice([-6, -1, 0, 1, 6], size=(envs, agents)))).clamp(0, size - 1)
    actions = torch.where(target == cell, 0, 1)
    active = torch.from_numpy(rng.random((envs, agents)) < 0.9)
    blocked = torch.from_numpy(rng.random((envs, agents)) < 0.1)
    moves = [resolve_moves(system, cell, target, active, actions, blocked, size, pairwise=p) for p in (True, False)]
    assert torch.equal(*moves) and moves[0].any() and not moves[0].all()


def test_unknown_collision_system_is_an_error():
    cell = torch.zeros(1, 1, dtype=torch.long)
    with pytest.raises(ValueError, match="collision_system='bounce'"):
        resolve_moves("bounce", cell, cell, cell.bool(), cell, cell.bool(), 4)
