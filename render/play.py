"""`srmt render`: play one episode and write it as MP4, GIF and SVG, all of one look (render/frames.py).

The episode runs on the pogema backend (one env, the agent acting as in
evaluation) and is recorded as a Trajectory (render/trajectory.py); drawing
stays separate from playing. Each frame is one drawing description
(render/drawing.py) painted with PIL for the videos and written as SVG elements
for the SVG animation. MP4 goes through imageio-ffmpeg (H.264, yuv420p), GIF
through PIL with a palette of exactly the colours the frames use.

With `attention=True` the SRMT agent records, at every step, who read whose
memory in the shared pool and each agent's attention over its own tokens
(agents.SRMTAgent.record_attention); the frames draw it (render.frames.AttentionView).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from agents import Agent, AgentError, SRMTAgent
from envs.config import EnvConfig
from envs.pogema_backend import PogemaBatchedEnv
from render import drawing
from render.frames import BACKGROUND, AttentionView, FrameDrawer
from eval.runner import eval_reward, start_task
from eval.suites import EvalError, suite_of_map
from render.trajectory import Trajectory
from common.outputs import DIRECTORY, check_output


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
                     reward=eval_reward(on_target))


def record_attention(agent: Agent) -> None:
    """Make `agent` record its attention at every step; EvalError (before anything is played) if it has none."""
    if not isinstance(agent, SRMTAgent):
        raise EvalError(f"--attention draws who reads whose memory in SRMT's shared pool; {agent.name} is not an "
                        "SRMT policy: use --algo srmt with a policy of variant 'srmt' (the variant with a pool)")
    try:
        agent.record_attention = True
    except AgentError as err:
        raise EvalError(f"--attention: {err}") from err


def play_episode(agent: Agent, config: EnvConfig, seed: int, progress: bool = True,
                 attention: bool = False) -> Trajectory:
    """Run one episode of `config` with task seed `seed`; record every state (and with `attention`,
    the agent's attention at every step: `record_attention`)."""
    if attention:
        record_attention(agent)
    env = PogemaBatchedEnv(config, num_envs=1, auto_reset=False)
    task = start_task(env, 0, 0, seed)
    traj = Trajectory(env.resolved.maps[0].obstacles, task, env.config.on_target)

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
        if attention:
            seen = agent.attention  # srmt.inspect.StepAttention of this act()
            traj.attention.append(seen.pool[0].float().cpu().numpy())  # (A, A)
            traj.tokens.append(seen.tokens.float().cpu().numpy())  # (A, T)
            traj.token_valid.append(seen.token_valid.cpu().numpy())  # (A, T)
        obs, _, _, _, infos = env.step(actions)
        traj.actions.append([int(a) for a in actions])
        snap()
        if bar is not None:
            bar.update(1)
        if bool(infos["ended"][0]):
            traj.metrics = {k: float(v[0]) for k, v in infos["metrics"].items()}
    if bar is not None:
        bar.close()
    return traj


def write_videos(drawer: FrameDrawer, mp4: Path | None, gif: Path | None, fps: int = 6,
                 progress: bool = True) -> None:
    """Encode every frame into MP4 and/or GIF (the GIF's palette: exactly the colours the frames use)."""
    import imageio.v2 as imageio

    scenes = drawer.scenes
    writer = imageio.get_writer(str(mp4), format="FFMPEG", fps=fps, codec="libx264", pixelformat="yuv420p",
                                macro_block_size=16, quality=8) if mp4 else None
    palette = drawer.palette() if gif else None
    gif_frames: list[Image.Image] = []
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(scenes), desc="drawing", unit="frame", dynamic_ncols=True)
    try:
        for scene in scenes:
            img = drawer.paint(scene)
            if writer is not None:
                writer.append_data(np.asarray(img))
            if palette is not None:
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


def write_svg(drawer: FrameDrawer, path: Path, fps: int = 6) -> None:
    """Every frame as one looping SVG animation (render.drawing.write_svg); without SMIL: the last frame."""
    drawing.write_svg(drawer.scenes, drawer.size, BACKGROUND, fps, path)


def render(agent: Agent, config: EnvConfig, seed: int, out_dir: Path, *, path_channel: bool = False,
           fps: int = 6, svg: bool = True, mp4: bool = True, gif: bool = True, progress: bool = True,
           attention: AttentionView | None = None) -> dict[str, Path]:
    """Play one episode and write its animations into `out_dir` (checked first: common.outputs.check_output);
    returns {kind: path}. `attention`: draw the agent's attention (an SRMT policy with a shared pool;
    EvalError before anything is played otherwise)."""
    out_dir = check_output(out_dir, "--out", DIRECTORY)
    if attention is not None:
        attention.check(config.num_agents)
    traj = play_episode(agent, config, seed, progress, attention=attention is not None)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{config.map_name}-a{config.num_agents}-s{seed}-{agent.name.lower()}"
    if attention is not None:
        stem += f"-attention{attention.focus}"
    drawer = FrameDrawer(traj, path_channel, attention=attention)
    files = {kind: out_dir / f"{stem}.{kind}" for kind, wanted in (("mp4", mp4), ("gif", gif), ("svg", svg))
             if wanted}
    if mp4 or gif:
        write_videos(drawer, files.get("mp4"), files.get("gif"), fps, progress)
    if svg:
        write_svg(drawer, files["svg"], fps)
    return files
