"""The look of a rendered episode: a Trajectory -> one drawing description (render.drawing) per frame.

Every agent has its own colour (`agent_palette`: farthest-point picks among saturated hues; the
first `MAX_COLORS` agents all differ, beyond that colours repeat and, up to `MAX_GOAL_LINES`
agents, a thin line in the agent's colour joins each agent to its goal). An agent is a disc, its
goal a light square outlined in the same colour; with cells of `NUMBER_CELL` pixels or more both
carry the agent's number. The header shows the step and goals reached so far: lifelong (restart)
goals and throughput (goals / steps so far), finish mode arrivals, nothing mode agents on their
goal (Trajectory.reached).

With attention (`AttentionView`), each frame t < steps shows the attention of step t, the one that
chose the move out of frame t: for every agent its `links` strongest reads of another agent's memory
(weight >= `MIN_LINK`; a dot marks the end of the agent read), for the focused agent a line to every
agent it reads (opacity and width by weight) and a ring around it, and in a second header row its
current token's attention over [memory; history oldest..newest; current] as a strip of cells
(crossed out: tokens that did not exist yet). Weights are drawn in `LEVELS` opacity levels
(`LEVEL_EDGES`), so the GIF palette stays exact.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
from PIL import Image

from planners.pathfinding import bfs_distances, follow_codes, successor_codes
from render.drawing import Color, Disc, Label, Line, Rect, Scene, Shape, blend, colors_of, gif_palette, raster
from eval.suites import EvalError
from render.trajectory import Trajectory
from envs.config import is_lifelong

FREE = (250, 250, 250)
OBSTACLE = (70, 80, 90)
BACKGROUND = (255, 255, 255)
TEXT = (20, 20, 20)
GRID_LINE = (225, 225, 225)
WHITE_TEXT = (255, 255, 255)
FOCUS = (0, 0, 0)
LINK = (0, 90, 220)
MAX_COLORS = 100
"""Distinct agent colours (each with a light variant for goals); a GIF palette holds 256 colours."""
MAX_GOAL_LINES = 300
"""Most agents whose goal lines are drawn (more than MAX_COLORS agents): beyond it the lines hide the map."""
NUMBER_CELL = 18
"""Smallest cell (pixels) whose agents and goals carry their number."""
LEVEL_EDGES = (0.03, 0.08, 0.2, 0.45)
"""An attention weight's level is the number of these edges it reaches (0: not drawn); level k is drawn
at opacity k / LEVELS (and width k px for the focused agent's reads). Spaced for the shipped policies:
24 lifelong agents give another agent 0.03 at the median, 0.25 at the 99th percentile."""
LEVELS = len(LEVEL_EDGES)
MIN_LINK = LEVEL_EDGES[1]
"""Smallest weight drawn as one of an agent's strongest links (level 2 and up: the shipped lifelong
policy's agents mostly read one agent, at 0.1-0.35 early in an episode, under 0.08 later)."""
HEADER = 18
STRIP = 16
"""Height of the header row of the focused agent's token attention."""
STRIP_X, STRIP_LEGEND = 100, 100
"""Where the token strip's cells start (after 'agent K attends'), and the width of its legend."""
MIN_WIDTH = 180


def _redmean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Colour distance of RGB arrays (the 'redmean' approximation of perceived difference)."""
    r, d = (a[..., 0] + b[..., 0]) / 2, a - b
    return np.sqrt((2 + r / 256) * d[..., 0] ** 2 + 4 * d[..., 1] ** 2 + (2 + (255 - r) / 256) * d[..., 2] ** 2)


@lru_cache(maxsize=None)
def _candidates() -> np.ndarray:
    """(480, 3) saturated colours: 60 hues x 4 lightness levels x 2 saturations."""
    colors = {tuple(round(v * 255) for v in colorsys.hls_to_rgb(h / 60, light_, sat))
              for h in range(60) for light_ in (0.3, 0.42, 0.54, 0.66) for sat in (0.95, 0.6)}
    return np.array(sorted(colors), dtype=float)


@lru_cache(maxsize=None)
def agent_palette(n: int) -> list[Color]:
    """`n` distinct, deterministic, well-spread colours (n <= 480): each next colour is the candidate
    farthest from the colours taken so far and from the background, map and attention colours, so the
    first n of any longer palette are the same colours."""
    cand = _candidates()
    if n > len(cand):
        raise ValueError(f"{n} agent colours asked for; the palette has {len(cand)}")
    near = np.full(len(cand), np.inf)
    for fixed in (BACKGROUND, FREE, OBSTACLE, TEXT, GRID_LINE, FOCUS, LINK):
        near = np.minimum(near, _redmean(cand, np.array(fixed, dtype=float)))
    out: list[Color] = []
    for _ in range(n):
        k = int(np.argmax(near))
        out.append(tuple(int(v) for v in cand[k]))  # type: ignore[arg-type]
        near = np.minimum(near, _redmean(cand, cand[k]))
        near[k] = -1.0
    return out


def light(c: Color) -> Color:
    """The light variant of an agent colour (its goal's fill, its path dots)."""
    return blend(c, 0.35, BACKGROUND)


def text_on(c: Color) -> Color:
    """Black or white, whichever reads better on `c`."""
    return TEXT if 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] > 150 else WHITE_TEXT


def level(weight: float) -> int:
    """Level 0..LEVELS of an attention weight in [0, 1] (LEVEL_EDGES; 0: not drawn)."""
    return sum(weight >= edge for edge in LEVEL_EDGES)


def shade(color: Color, lvl: int) -> Color:
    """`color` at opacity level `lvl` (1..LEVELS) over the background."""
    return blend(color, lvl / LEVELS, BACKGROUND)


@dataclass(frozen=True)
class AttentionView:
    """What of the recorded attention to draw: the focused agent and the strongest links per agent."""

    focus: int = 0
    links: int = 2

    def check(self, num_agents: int) -> None:
        """EvalError unless the focused agent is one of `num_agents`."""
        if not 0 <= self.focus < num_agents:
            raise EvalError(f"--focus {self.focus} is not an agent of the episode: it has {num_agents} agents "
                            f"(0..{num_agents - 1})")


LAYERS = ("map", "paths", "goal lines", "goals", "links", "discs", "rings", "numbers", "header")
"""The layers of a frame's Scene, in paint order."""


class FrameDrawer:
    """Draws frames of a trajectory at a fixed cell size (pixels per map cell)."""

    def __init__(self, traj: Trajectory, path_channel: bool = False, cell: int | None = None,
                 attention: AttentionView | None = None):
        if attention is not None and not traj.attention:
            raise ValueError("attention drawing needs a trajectory played with attention recorded "
                             "(render.play.play_episode(..., attention=True))")
        if attention is not None:
            attention.check(traj.num_agents)
        self.traj, self.path_channel, self.attention = traj, path_channel, attention
        rows, cols = traj.obstacles.shape
        self.cell = cell or max(2, min(32, 640 // max(rows, cols)))
        self.header = HEADER + (STRIP if attention else 0)
        strip = STRIP_X + traj.tokens[0].shape[1] * (STRIP - 3) + 8 + STRIP_LEGEND if attention else 0
        width = max(cols * self.cell, MIN_WIDTH, strip)
        self.offset_x = (width - cols * self.cell) // 2
        height = rows * self.cell + self.header
        self.size = (width + (-width) % 16, height + (-height) % 16)  # H.264 wants multiples of 16
        self.colors = agent_palette(min(traj.num_agents, MAX_COLORS))
        self.goal_lines = MAX_COLORS < traj.num_agents <= MAX_GOAL_LINES
        self._reached = traj.reached()
        self._codes: dict[tuple[int, int], np.ndarray] = {}
        self._map = self._map_shapes()

    def agent_color(self, a: int) -> Color:
        """Agent `a`'s colour (distinct for the first MAX_COLORS agents, then repeating)."""
        return self.colors[a % len(self.colors)]

    def cell_centre(self, r: int, col: int) -> tuple[int, int]:
        """Pixel (x, y) of the centre of map cell (r, col)."""
        return (self.offset_x + col * self.cell + self.cell // 2, self.header + r * self.cell + self.cell // 2)

    # ------------------------------------------------------------- layers
    def _map_shapes(self) -> list[Shape]:
        """Free area, grid lines (cells of 8 px or more) and obstacles, merged into runs per row."""
        c, ox, top = self.cell, self.offset_x, self.header
        obstacles = self.traj.obstacles
        rows, cols = obstacles.shape
        shapes: list[Shape] = [Rect(ox, top, ox + cols * c - 1, top + rows * c - 1, fill=FREE)]
        if c >= 8:
            shapes += [Line(ox + k * c, top, ox + k * c, top + rows * c - 1, GRID_LINE) for k in range(cols + 1)]
            shapes += [Line(ox, top + k * c, ox + cols * c - 1, top + k * c, GRID_LINE) for k in range(rows + 1)]
        for r in range(rows):
            row = np.concatenate([[0], obstacles[r].astype(np.int8), [0]])
            edges = np.flatnonzero(np.diff(row))
            for start, stop in zip(edges[::2], edges[1::2]):
                shapes.append(Rect(ox + start * c, top + r * c, ox + stop * c - 1, top + (r + 1) * c - 1,
                                   fill=OBSTACLE))
        return shapes

    def _path(self, start: np.ndarray, goal: np.ndarray) -> list[tuple[int, int]]:
        key = (int(goal[0]), int(goal[1]))
        if key not in self._codes:  # the path rule's table for this goal (planners/pathfinding.py)
            obstacles = self.traj.obstacles
            self._codes[key] = successor_codes(obstacles, bfs_distances(obstacles, key)[None])[0]
        return follow_codes(self._codes[key], (int(start[0]), int(start[1])))

    def _paths(self, pos: np.ndarray, goals: np.ndarray, agents: np.ndarray) -> list[Shape]:
        dot = max(1, self.cell // 8)
        out: list[Shape] = []
        for a in agents:
            for r, col in self._path(pos[a], goals[a])[:-1]:
                x, y = self.cell_centre(r, col)
                out.append(Rect(x - dot, y - dot, x + dot, y + dot, fill=light(self.agent_color(a))))
        return out

    def _goals(self, goals: np.ndarray, agents: np.ndarray) -> list[Shape]:
        c = self.cell
        inset, even = max(0, c // 8), int(c % 2 == 0)
        h = c // 2 - inset
        out: list[Shape] = []
        for a in agents:
            x, y = self.cell_centre(*goals[a])
            color = self.agent_color(a)
            out.append(Rect(x - h, y - h, x + h - even, y + h - even, fill=light(color), outline=color,
                            width=max(1, c // 10)))
            if c >= NUMBER_CELL:
                out.append(Label(x, y, str(a), color, self._number_size(a), centred=True))
        return out

    def _number_size(self, a: int) -> int:
        return max(6, round(self.cell * (0.45 if a < 100 else 0.34)))

    def _agents(self, pos: np.ndarray, agents: np.ndarray) -> tuple[list[Shape], list[Shape]]:
        """Discs, and their numbers (a layer above every disc)."""
        c = self.cell
        rad = max(1, c // 2 - max(1, c // 10))
        discs: list[Shape] = []
        numbers: list[Shape] = []
        for a in agents:
            x, y = self.cell_centre(*pos[a])
            color = self.agent_color(a)
            discs.append(Disc(x, y, rad, color))
            if c >= NUMBER_CELL:
                numbers.append(Label(x, y, str(a), text_on(color), self._number_size(a), centred=True))
        return discs, numbers

    def _links(self, t: int, pos: np.ndarray, agents: np.ndarray) -> tuple[list[Shape], list[Shape]]:
        """Attention links of step t (strongest per agent, then the focused agent's) and the focus ring."""
        view, weights = self.attention, self.traj.attention[t]  # (A, A)
        on = np.zeros(len(weights), dtype=bool)
        on[agents] = True
        out: list[Shape] = []
        dot = max(1, self.cell // 8)
        for i in agents:
            if i == view.focus:  # drawn in full below
                continue
            row = np.where(on, weights[i], 0.0)
            row[i] = 0.0
            for j in np.argsort(-row, kind="stable")[:view.links]:
                if row[j] < MIN_LINK:
                    break
                color = shade(LINK, level(row[j]))
                (x0, y0), (x1, y1) = self.cell_centre(*pos[i]), self.cell_centre(*pos[j])
                out.append(Line(x0, y0, x1, y1, color))
                hx, hy = x1 + (x0 - x1) * 0.3, y1 + (y0 - y1) * 0.3  # the read end: near agent j
                out.append(Disc(round(hx), round(hy), dot, color))
        k = view.focus
        rings: list[Shape] = []
        if on[k]:
            x0, y0 = self.cell_centre(*pos[k])
            for j in agents:
                lvl = level(weights[k, j])
                if j != k and lvl:
                    x1, y1 = self.cell_centre(*pos[j])
                    out.append(Line(x0, y0, x1, y1, shade(FOCUS, lvl), width=lvl))
            rad = max(2, self.cell // 2)
            rings.append(Disc(x0, y0, rad, None, outline=FOCUS, width=max(1, self.cell // 12)))
        return out, rings

    def _header(self, t: int) -> list[Shape]:
        traj, n = self.traj, self.traj.num_agents
        text = f"step {t}/{traj.steps}"
        reached = int(self._reached[t])
        if is_lifelong(traj.on_target):
            throughput = f"{reached / t:.2f}" if t else "-"
            text += f"   goals reached {reached}   throughput {throughput}"
        elif traj.on_target == "finish":
            text += f"   arrived {reached}/{n}"
        else:
            text += f"   on goal {reached}/{n}"
        out: list[Shape] = [Label(4, 3, text, TEXT, 11)]
        if self.attention is not None:
            out += self._strip(t)
        return out

    def _strip(self, t: int) -> list[Shape]:
        """The focused agent's current token attention of step t: memory | history old..new | now."""
        k, top, size = self.attention.focus, HEADER, STRIP - 4
        out: list[Shape] = [Label(4, top + 1, f"agent {k} attends", TEXT, 11)]
        if t >= self.traj.steps:
            return out
        weights, valid = self.traj.tokens[t][k], self.traj.token_valid[t][k]
        x = STRIP_X
        for i, (w, ok) in enumerate(zip(weights, valid)):
            if i in (1, len(weights) - 1):
                x += 4  # gaps: memory | history | current
            box = (x, top + 1, x + size - 1, top + size)
            if ok:
                lvl = level(float(w))
                out.append(Rect(*box, fill=shade(FOCUS, lvl) if lvl else BACKGROUND, outline=GRID_LINE))
            else:
                out.append(Rect(*box, fill=BACKGROUND, outline=GRID_LINE))
                out.append(Line(box[0], box[1], box[2], box[3], GRID_LINE))
            x += size + 1
        out.append(Label(x + 4, top + 1, "mem|history|now", TEXT, 10))
        return out

    def scene(self, t: int) -> Scene:
        """The drawing description of frame t (its layers: LAYERS)."""
        traj = self.traj
        pos, goals = traj.positions[t], traj.goals[t]
        agents = np.flatnonzero(traj.active[t])
        paths = self._paths(pos, goals, agents) if self.path_channel else []
        goal_lines: list[Shape] = []
        if self.goal_lines:
            for a in agents:
                (x0, y0), (x1, y1) = self.cell_centre(*pos[a]), self.cell_centre(*goals[a])
                goal_lines.append(Line(x0, y0, x1, y1, self.agent_color(a)))
        links, rings = self._links(t, pos, agents) if self.attention and t < traj.steps else ([], [])
        discs, numbers = self._agents(pos, agents)
        return [self._map, paths, goal_lines, self._goals(goals, agents), links, discs, rings, numbers,
                self._header(t)]

    def paint(self, scene: Scene) -> Image.Image:
        """A scene of this drawer as an RGB image."""
        return raster(scene, self.size, BACKGROUND)

    def frame(self, t: int) -> Image.Image:
        """Frame t as an RGB image."""
        return self.paint(self.scene(t))

    @cached_property
    def scenes(self) -> list[Scene]:
        """Every frame's drawing description (computed once: the videos and the SVG share them)."""
        return [self.scene(t) for t in range(len(self.traj.positions))]

    def palette(self) -> Image.Image:
        """A GIF palette of every colour the frames use (exact colours; text edges map to the nearest)."""
        return gif_palette({BACKGROUND} | {c for s in self.scenes for layer in s for c in colors_of(layer)})
