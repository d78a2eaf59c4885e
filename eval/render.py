"""`srmt render`: play one episode and write it as SVG (pogema's AnimationMonitor), MP4 and GIF.

The episode runs on the pogema backend (one env, the agent acting as in
evaluation). Video frames are drawn with PIL from the recorded env state:
obstacles, each agent as a filled disc in its colour, its goal as a square
outline in the same colour, optionally its shortest path on the static map
(dots), and a step counter. MP4 goes through imageio-ffmpeg (H.264, yuv420p),
GIF through PIL with a fixed palette, so colours in the GIF are exact.
The SVG is pogema's own animation, made by replaying the recorded actions in a
fresh `pogema_v0` env wrapped in `AnimationMonitor`.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from agents import Agent
from envs.config import EnvConfig, ResolvedEnv
from envs.pathfinding import bfs_distances, follow_codes, successor_codes
from envs.pogema_backend import PogemaBatchedEnv, make_grid_config
from envs.task import Task, task_for_seed
from eval.suites import EvalError, suite_of_map
from maps.files import DIRECTORY, check_output

FREE = (250, 250, 250)
OBSTACLE = (70, 80, 90)
BACKGROUND = (255, 255, 255)
TEXT = (20, 20, 20)
GRID_LINE = (225, 225, 225)
AGENT_COLORS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189),
                (140, 86, 75), (227, 119, 194), (23, 190, 207), (188, 189, 34), (127, 127, 127)]
HEADER = 18


def agent_color(a: int) -> tuple[int, int, int]:
    return AGENT_COLORS[a % len(AGENT_COLORS)]


def _light(c: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple(int(v + (255 - v) * 0.55) for v in c)


@dataclass
class Trajectory:
    """What an episode looked like, step by step (frame t = state after t steps)."""

    obstacles: np.ndarray
    task: Task
    positions: list[np.ndarray] = field(default_factory=list)  # (A, 2) per frame
    goals: list[np.ndarray] = field(default_factory=list)      # (A, 2) per frame
    active: list[np.ndarray] = field(default_factory=list)     # (A,) per frame
    actions: list[list[int]] = field(default_factory=list)     # A actions per step
    metrics: dict = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return len(self.actions)


def render_config(map_name: str, num_agents: int, *, maps_dir: str | None = None, obs_radius: int = 2,
                  on_target: str | None = None, collision_system: str | None = None,
                  max_steps: int | None = None) -> EnvConfig:
    """Env config of one rendered episode: the dynamics of the map's suite unless overridden."""
    suite = suite_of_map(map_name)
    if suite is not None:
        on_target = on_target or suite.on_target
        collision_system = collision_system or suite.collision_system
        steps = suite.steps_for(map_name)
    else:
        on_target, collision_system, steps = on_target or "finish", collision_system or "block_both", 256
    if max_steps is not None:
        if max_steps < 1:
            raise EvalError(f"--max-steps {max_steps} must be >= 1")
        steps = min(steps, max_steps)
    return EnvConfig(map_name=map_name, maps_dir=maps_dir, num_agents=num_agents, obs_radius=obs_radius,
                     collision_system=collision_system, on_target=on_target, max_episode_steps=steps,
                     reward="lifelong" if on_target == "restart" else "sparse")


def play_episode(agent: Agent, config: EnvConfig, seed: int, progress: bool = True) -> tuple[Trajectory, ResolvedEnv]:
    """Run one episode of `config` with task seed `seed`; record every state."""
    env = PogemaBatchedEnv(config, num_envs=1, auto_reset=False)
    task = task_for_seed(env.resolved, 0, seed)
    try:
        env.reset_env(0, task)
    except OverflowError as err:
        raise EvalError(f"pogema cannot place {config.num_agents} agents on map {config.map_name!r} "
                        f"(seed {seed}): {err}; use fewer agents") from err
    traj = Trajectory(env.resolved.maps[0].obstacles, task)

    def snap() -> None:
        traj.positions.append(env.positions[0].numpy().copy())
        traj.goals.append(env.goals[0].numpy().copy())
        traj.active.append(env.active[0].numpy().copy())

    snap()
    agent.reset(1, config.num_agents, [seed])
    obs = env.observe()
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=config.max_episode_steps, desc="playing", unit="step", dynamic_ncols=True)
    while not bool(env.frozen[0]):
        actions = agent.act(obs, env)
        obs, _, _, _, infos = env.step(actions)
        traj.actions.append([int(a) for a in actions])
        snap()
        if bar is not None:
            bar.update(1)
        if bool(infos["ended"][0]):
            traj.metrics = {k: float(v[0]) for k, v in infos["metrics"].items()}
    if bar is not None:
        bar.close()
    return traj, env.resolved


class FrameDrawer:
    """Draws frames of a trajectory at a fixed cell size."""

    def __init__(self, traj: Trajectory, path_channel: bool = False, cell: int | None = None):
        self.traj, self.path_channel = traj, path_channel
        rows, cols = traj.obstacles.shape
        self.cell = cell or max(2, min(32, 640 // max(rows, cols)))
        width = max(cols * self.cell, 180)
        self.offset_x = (width - cols * self.cell) // 2
        height = rows * self.cell + HEADER
        self.size = (width + (-width) % 16, height + (-height) % 16)  # H.264 wants multiples of 16
        self.font = ImageFont.load_default()
        self._codes: dict[tuple[int, int], np.ndarray] = {}
        self._base = self._draw_map()

    def _draw_map(self) -> Image.Image:
        img = Image.new("RGB", self.size, BACKGROUND)
        d = ImageDraw.Draw(img)
        c, ox = self.cell, self.offset_x
        rows, cols = self.traj.obstacles.shape
        for r in range(rows):
            for col in range(cols):
                color = OBSTACLE if self.traj.obstacles[r, col] else FREE
                x0, y0 = ox + col * c, HEADER + r * c
                d.rectangle([x0, y0, x0 + c - 1, y0 + c - 1], fill=color,
                            outline=GRID_LINE if c >= 8 and not self.traj.obstacles[r, col] else None)
        return img

    def cell_centre(self, r: int, col: int) -> tuple[int, int]:
        """Pixel (x, y) of the centre of map cell (r, col)."""
        return (self.offset_x + col * self.cell + self.cell // 2, HEADER + r * self.cell + self.cell // 2)

    def _path(self, start: np.ndarray, goal: np.ndarray) -> list[tuple[int, int]]:
        key = (int(goal[0]), int(goal[1]))
        if key not in self._codes:  # the path rule's table for this goal (envs/pathfinding.py)
            obstacles = self.traj.obstacles
            self._codes[key] = successor_codes(obstacles, bfs_distances(obstacles, key)[None])[0]
        return follow_codes(self._codes[key], (int(start[0]), int(start[1])))

    def frame(self, t: int) -> Image.Image:
        traj, c = self.traj, self.cell
        img = self._base.copy()
        d = ImageDraw.Draw(img)
        pos, goals, active = traj.positions[t], traj.goals[t], traj.active[t]
        if self.path_channel:
            dot = max(1, c // 8)
            for a in np.flatnonzero(active):
                for r, col in self._path(pos[a], goals[a])[:-1]:
                    x, y = self.cell_centre(r, col)
                    d.rectangle([x - dot, y - dot, x + dot, y + dot], fill=_light(agent_color(a)))
        inset = max(0, c // 8)
        for a in np.flatnonzero(active):
            x0, y0 = self.cell_centre(*goals[a])
            h = c // 2 - inset
            d.rectangle([x0 - h, y0 - h, x0 + h - (c % 2 == 0), y0 + h - (c % 2 == 0)],
                        outline=agent_color(a), width=max(1, c // 10))
        for a in np.flatnonzero(active):
            x, y = self.cell_centre(*pos[a])
            rad = max(1, c // 2 - inset - max(1, c // 10))
            d.ellipse([x - rad, y - rad, x + rad, y + rad], fill=agent_color(a))
        arrived = int((~active).sum())
        text = f"step {t}/{traj.steps}"
        if arrived:
            text += f"  arrived {arrived}/{len(active)}"
        d.text((4, 3), text, fill=TEXT, font=self.font)
        return img

    def frames(self) -> Iterable[Image.Image]:
        for t in range(len(self.traj.positions)):
            yield self.frame(t)

    def palette(self) -> Image.Image:
        """A 'P' image whose palette holds every colour the frames use (for exact GIF colours)."""
        colors = [BACKGROUND, FREE, OBSTACLE, TEXT, GRID_LINE]
        colors += AGENT_COLORS + [_light(x) for x in AGENT_COLORS]
        flat = [v for col in colors for v in col]
        flat += flat[:3] * (256 - len(colors))
        pal = Image.new("P", (1, 1))
        pal.putpalette(flat)
        return pal


def write_videos(drawer: FrameDrawer, mp4: Path | None, gif: Path | None, fps: int = 6,
                 progress: bool = True) -> None:
    """Encode every frame into MP4 and/or GIF."""
    import imageio.v2 as imageio

    writer = imageio.get_writer(str(mp4), format="FFMPEG", fps=fps, codec="libx264", pixelformat="yuv420p",
                                macro_block_size=16, quality=8) if mp4 else None
    palette = drawer.palette()
    gif_frames = []
    total = len(drawer.traj.positions)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=total, desc="drawing", unit="frame", dynamic_ncols=True)
    try:
        for img in drawer.frames():
            if writer is not None:
                writer.append_data(np.asarray(img))
            if gif is not None:
                gif_frames.append(img.quantize(palette=palette, dither=Image.Dither.NONE))
            if bar is not None:
                bar.update(1)
    finally:
        if writer is not None:
            writer.close()
        if bar is not None:
            bar.close()
    if gif is not None and gif_frames:
        gif_frames[0].save(gif, save_all=True, append_images=gif_frames[1:], duration=max(20, 1000 // fps),
                           loop=0, optimize=False, disposal=1)


def write_svg(resolved: ResolvedEnv, traj: Trajectory, path: Path) -> bool:
    """pogema's SVG animation of the same episode (actions replayed). False if the replay diverged."""
    from pogema import AnimationConfig, AnimationMonitor, pogema_v0

    grid_config = make_grid_config(resolved, traj.task)
    env = AnimationMonitor(pogema_v0(grid_config=grid_config), AnimationConfig(save_every_idx_episode=None))
    env.reset()
    for actions in traj.actions:
        env.step(actions)
    env.save_animation(str(path))
    r = grid_config.obs_radius
    final = np.asarray(env.unwrapped.grid.positions_xy) - r
    act = traj.active[-1]
    return bool(np.array_equal(final[act], traj.positions[-1][act]))


def render(agent: Agent, config: EnvConfig, seed: int, out_dir: Path, *, path_channel: bool = False,
           fps: int = 6, svg: bool = True, mp4: bool = True, gif: bool = True,
           progress: bool = True) -> dict[str, Path]:
    """Play one episode and write its animations into `out_dir` (checked first: maps.files.check_output);
    returns {kind: path}."""
    out_dir = check_output(out_dir, "--out", DIRECTORY)
    traj, resolved = play_episode(agent, config, seed, progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{config.map_name}-a{config.num_agents}-s{seed}-{agent.name.lower()}"
    files: dict[str, Path] = {}
    drawer = FrameDrawer(traj, path_channel)
    if mp4 or gif:
        write_videos(drawer, out_dir / f"{stem}.mp4" if mp4 else None, out_dir / f"{stem}.gif" if gif else None,
                     fps, progress)
        if mp4:
            files["mp4"] = out_dir / f"{stem}.mp4"
        if gif:
            files["gif"] = out_dir / f"{stem}.gif"
    if svg:
        files["svg"] = out_dir / f"{stem}.svg"
        if not write_svg(resolved, traj, files["svg"]):
            print("warning: pogema's replay for the SVG ended in other positions than the played episode",
                  file=sys.stderr)
    return files
