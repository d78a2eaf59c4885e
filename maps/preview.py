"""Text and PNG pictures of a map with optional agent starts and goals.

Agent i is drawn with letter ``chr(ord('a') + i)`` at its start and the
upper-case letter at its goal, pogema's own notation, so the ASCII picture of
a map with starts and goals is also a valid pogema map string. A start drawn
on another agent's goal hides the goal.
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from maps.errors import MapError
from maps.grid import FREE, OBSTACLE, as_obstacles

Cell = tuple[int, int]

# Colour-blind-friendly palette (Okabe-Ito), cycled for more agents.
PALETTE = [(230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66),
           (0, 114, 178), (213, 94, 0), (204, 121, 167), (0, 0, 0)]
_OBSTACLE_RGB = (64, 64, 64)
_FREE_RGB = (255, 255, 255)
_GRID_RGB = (210, 210, 210)


def _check_cells(grid: np.ndarray, cells: list[Cell] | None, what: str) -> list[Cell]:
    rows, cols = grid.shape
    checked = []
    for agent, cell in enumerate(cells or []):
        r, c = (int(v) for v in cell)
        if not (0 <= r < rows and 0 <= c < cols):
            raise MapError(f"{what} {(r, c)} of agent {agent} is outside the {rows}x{cols} grid")
        if grid[r, c]:
            raise MapError(f"{what} {(r, c)} of agent {agent} is on an obstacle; use a free cell")
        checked.append((r, c))
    return checked


def _agents(obstacles: np.ndarray, starts: list[Cell] | None, goals: list[Cell] | None
            ) -> tuple[np.ndarray, list[Cell], list[Cell]]:
    grid = as_obstacles(obstacles)
    starts, goals = _check_cells(grid, starts, "start"), _check_cells(grid, goals, "goal")
    if starts and goals and len(starts) != len(goals):
        raise MapError(f"got {len(starts)} starts but {len(goals)} goals; give one of each per agent")
    return grid, starts, goals


def render_ascii(obstacles: np.ndarray, starts: list[Cell] | None = None,
                 goals: list[Cell] | None = None) -> str:
    """Rows of '.'/'#' with agent letters; at most 26 agents (use ``render_png`` beyond)."""
    grid, starts, goals = _agents(obstacles, starts, goals)
    if max(len(starts), len(goals)) > 26:
        raise MapError(
            f"render_ascii draws at most 26 agents (letters a-z), got {max(len(starts), len(goals))}; "
            "use render_png"
        )
    chars = np.where(grid, OBSTACLE, FREE).astype("<U1")
    for agent, (r, c) in enumerate(goals):
        chars[r, c] = chr(ord("A") + agent)
    for agent, (r, c) in enumerate(starts):
        chars[r, c] = chr(ord("a") + agent)
    return "\n".join("".join(row) for row in chars)


def render_png(obstacles: np.ndarray, path: str | Path, starts: list[Cell] | None = None,
               goals: list[Cell] | None = None, cell: int = 16) -> Path:
    """Save a PNG of ``cell`` pixels per grid cell; agents are circles, goals squares.

    Agent i and its goal share colour ``PALETTE[i % len(PALETTE)]``.

    Returns:
        The path written.
    """
    if cell < 4:
        raise MapError(f"cell must be at least 4 pixels to draw agents, got {cell}")
    grid, starts, goals = _agents(obstacles, starts, goals)
    rows, cols = grid.shape
    image = Image.new("RGB", (cols * cell, rows * cell), _FREE_RGB)
    draw = ImageDraw.Draw(image)
    for r, c in zip(*np.nonzero(grid)):
        draw.rectangle([c * cell, r * cell, (c + 1) * cell - 1, (r + 1) * cell - 1], fill=_OBSTACLE_RGB)
    for x in range(0, cols * cell, cell):
        draw.line([x, 0, x, rows * cell - 1], fill=_GRID_RGB)
    for y in range(0, rows * cell, cell):
        draw.line([0, y, cols * cell - 1, y], fill=_GRID_RGB)
    pad = max(1, cell // 5)
    for agent, (r, c) in enumerate(goals):
        box = [c * cell + pad, r * cell + pad, (c + 1) * cell - 1 - pad, (r + 1) * cell - 1 - pad]
        draw.rectangle(box, fill=PALETTE[agent % len(PALETTE)])
    for agent, (r, c) in enumerate(starts):
        box = [c * cell + pad, r * cell + pad, (c + 1) * cell - 1 - pad, (r + 1) * cell - 1 - pad]
        draw.ellipse(box, fill=PALETTE[agent % len(PALETTE)], outline=(0, 0, 0))
    path = Path(path)
    image.save(path, format="PNG")
    return path
