"""Grid strings in pogema's map format <-> boolean obstacle arrays.

A grid string has one line per row. Surrounding whitespace on each line and
blank lines before or after the grid are ignored. Characters (pogema 1.4.0,
``GridConfig.str_map_to_list``):

- ``.`` free cell
- ``#`` obstacle
- ``@`` free cell where pogema may place starts, ``$`` free cell where it may
  place goals, ``!`` free cell for neither (used by the warehouse map).

pogema's per-agent letters (``a``/``A``) are rejected: in srmt, starts and
goals are given to the environment, never baked into a map.
"""

from collections import deque

import numpy as np

from maps.errors import MalformedMapError

FREE = "."
OBSTACLE = "#"
ALLOWED_CHARS = ".#@$!"

_ALLOWED_HELP = (
    "allowed: '.' free, '#' obstacle, '@' free (possible start), "
    "'$' free (possible goal), '!' free (neither)"
)


def grid_rows(text: str, name: str = "grid") -> list[str]:
    """Validate a grid string and return its rows, stripped.

    Args:
        text: the grid in pogema's format.
        name: what to call the grid in error messages (e.g. the map name).

    Returns:
        The rows, all of the same length, each made of ``ALLOWED_CHARS``.

    Raises:
        MalformedMapError: empty grid, blank line inside the grid, rows of
            different lengths, an unknown character, or no free cell.
    """
    if not isinstance(text, str):
        raise MalformedMapError(f"{name}: a grid must be a string, got {type(text).__name__}")
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise MalformedMapError(
            f"{name}: grid is empty; write one line per row using '.' (free) and '#' (obstacle)"
        )
    width = len(lines[0])
    for r, row in enumerate(lines):
        if not row:
            raise MalformedMapError(
                f"{name}: row {r} is blank; remove blank lines inside the grid"
            )
        if len(row) != width:
            raise MalformedMapError(
                f"{name}: row {r} has length {len(row)} but row 0 has length {width}; "
                "every row must have the same number of cells"
            )
        bad = set(row) - set(ALLOWED_CHARS)
        if bad:
            c = min(row.index(ch) for ch in bad)
            hint = ""
            if row[c].isalpha():
                hint = "; pogema's agent/goal letters are not supported: pass starts and goals to the environment"
            raise MalformedMapError(
                f"{name}: unknown character {row[c]!r} at row {r}, column {c} (0-based); "
                f"{_ALLOWED_HELP}{hint}"
            )
    if all(set(row) == {OBSTACLE} for row in lines):
        raise MalformedMapError(
            f"{name}: grid has no free cell ({len(lines)}x{width}, all '#'); "
            "an agent needs at least one '.' cell"
        )
    return lines


def parse_grid(text: str, name: str = "grid") -> np.ndarray:
    """Parse a grid string into a bool array of shape [rows, cols], True = obstacle.

    >>> parse_grid('''
    ...   .#.
    ...   ...
    ... ''').tolist()
    [[False, True, False], [False, False, False]]

    Raises:
        MalformedMapError: see ``grid_rows``.
    """
    rows = grid_rows(text, name)
    cells = np.frombuffer("".join(rows).encode("ascii"), dtype=np.uint8)
    return (cells == ord(OBSTACLE)).reshape(len(rows), len(rows[0]))


def as_obstacles(obstacles: np.ndarray) -> np.ndarray:
    """``obstacles`` as a bool array; MalformedMapError unless it is 2-D and non-empty."""
    grid = np.asarray(obstacles, dtype=bool)
    if grid.ndim != 2 or grid.size == 0:
        raise MalformedMapError(
            f"obstacles must be a non-empty 2-D array [rows, cols], got shape {grid.shape}"
        )
    return grid


def grid_to_text(obstacles: np.ndarray) -> str:
    """Inverse of ``parse_grid``: rows of '.'/'#' joined by newlines, no trailing newline.

    pogema's '@', '$' and '!' markers parse to free cells and come back as '.'.
    """
    grid = as_obstacles(obstacles)
    return "\n".join("".join(OBSTACLE if cell else FREE for cell in row) for row in grid)


def free_regions(obstacles: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """4-connected regions of free cells: a label per cell (-1 on obstacles) and each region's size."""
    grid = as_obstacles(obstacles)
    label = np.full(grid.shape, -1)
    sizes: list[int] = []
    for start in zip(*np.nonzero(~grid)):
        if label[start] >= 0:
            continue
        region, queue, size = len(sizes), deque([start]), 0
        label[start] = region
        while queue:
            r, c = queue.popleft()
            size += 1
            for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                if 0 <= nr < grid.shape[0] and 0 <= nc < grid.shape[1] and not grid[nr, nc] and label[nr, nc] < 0:
                    label[nr, nc] = region
                    queue.append((nr, nc))
        sizes.append(size)
    return label, sizes


def free_cells(obstacles: np.ndarray) -> int:
    """Number of free (non-obstacle) cells."""
    return int(np.count_nonzero(~as_obstacles(obstacles)))
