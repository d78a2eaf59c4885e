"""The two-agent Bottleneck task of the SRMT paper ("SRMT: Shared Memory for Multi-agent Lifelong
Pathfinding", Sagirova et al., 2025).

Map of corridor length L: width 9, height L+4. Rows 0-1 are room A, then L
rows of ``####.####`` (a one-cell corridor in column 4), then room B (the last
two rows). Agent 0 goes from room A to room B, agent 1 from B to A, so they
must pass each other through the corridor.

Positions are (row, col) grid coordinates, the order pogema 1.4.0 uses for
``agents_xy`` / ``targets_xy``.
"""

import re

import numpy as np

from maps.errors import MapError

TRAIN_LENGTHS = (3, 4, 5, 6, 7, 8, 12, 16, 17, 18, 20, 21, 22, 23, 24, 27)
TEST_LENGTHS = tuple(range(3, 51)) + tuple(range(100, 1001, 100))
TRAIN_EPISODE_LENGTH = 512
WIDTH = 9
CORRIDOR_COL = 4
ROOM_ROWS = 2

_NAME = re.compile(r"bottleneck-([1-9][0-9]*)")


def _check_length(length: int) -> None:
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise MapError(f"bottleneck corridor length must be an integer >= 1, got {length!r}")


def map_name(length: int) -> str:
    """Registry name of the map with corridor length ``length``: ``bottleneck-{L}``."""
    _check_length(length)
    return f"bottleneck-{length}"


def parse_bottleneck_length(name: str) -> int | None:
    """Corridor length of a bottleneck map name, or None for any other name.

    >>> parse_bottleneck_length("bottleneck-12"), parse_bottleneck_length("bottleneck-012")
    (12, None)
    """
    found = _NAME.fullmatch(name)
    return int(found.group(1)) if found else None


def bottleneck_grid(length: int) -> str:
    """Grid string (rows joined by '\\n', no trailing newline) of height ``length + 4``."""
    _check_length(length)
    room = ["." * WIDTH] * ROOM_ROWS
    corridor = "#" * CORRIDOR_COL + "." + "#" * (WIDTH - CORRIDOR_COL - 1)
    return "\n".join(room + [corridor] * length + room)


def episode_length_for_test(length: int) -> int:
    """Episode length on a test map: 2L + 100, as in the paper."""
    _check_length(length)
    return 2 * length + 100


def room_cells(length: int, room: str) -> list[tuple[int, int]]:
    """Cells of room ``'A'`` (rows 0-1) or ``'B'`` (last two rows), row-major."""
    _check_length(length)
    if room not in ("A", "B"):
        raise MapError(f"bottleneck room must be 'A' or 'B', got {room!r}")
    first = 0 if room == "A" else ROOM_ROWS + length
    return [(r, c) for r in range(first, first + ROOM_ROWS) for c in range(WIDTH)]


def sample_starts_goals(
    length: int, seed: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Seeded starts and goals for the two agents, as ([start0, start1], [goal0, goal1]).

    Agent 0 starts in room A and its goal is in room B; agent 1 the mirror.
    With ``rng = numpy.random.default_rng(seed)`` the draws are, in order:
    start0 uniform over A, start1 uniform over B, goal0 uniform over B minus
    start1, goal1 uniform over A minus start0. Excluding the other agent's
    start is needed because an agent that never moves would otherwise sit on
    the other's goal forever; drawing from the remaining 17 cells is the same
    distribution as resampling until they differ, with a fixed number of draws.

    Raises:
        MapError: ``length`` < 1 or ``seed`` not a non-negative integer.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise MapError(f"bottleneck seed must be an integer >= 0, got {seed!r}")
    room_a, room_b = room_cells(length, "A"), room_cells(length, "B")
    rng = np.random.default_rng(seed)
    start0 = room_a[rng.integers(len(room_a))]
    start1 = room_b[rng.integers(len(room_b))]
    goals_b = [cell for cell in room_b if cell != start1]
    goals_a = [cell for cell in room_a if cell != start0]
    goal0 = goals_b[rng.integers(len(goals_b))]
    goal1 = goals_a[rng.integers(len(goals_a))]
    return [start0, start1], [goal0, goal1]
