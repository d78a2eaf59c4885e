"""`srmt render`: MP4 / GIF / SVG of one episode, checked by reading the files back.

Video tests encode only the frames they read: short episodes (--max-steps) on small maps.
"""
import xml.etree.ElementTree as ET

import imageio.v2 as imageio
import numpy as np
import pytest
from PIL import Image

from agents import AStarAgent, GreedyAgent
from cli.main import main as eval_cli
from envs.config import EnvConfig
from envs.errors import EnvConfigError
from render.frames import OBSTACLE, FrameDrawer
from render.play import play_episode, render, render_config
from eval.suites import EvalError
from common.outputs import OutputPathError

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """bottleneck-3, 2 A* agents, the first 6 steps in all three formats."""
    out = tmp_path_factory.mktemp("render")
    config = render_config("bottleneck-3", 2, max_steps=6)
    files = render(AStarAgent(), config, seed=0, out_dir=out, progress=False)
    traj = play_episode(AStarAgent(), config, 0, progress=False)
    return files, traj


def disc_pixel(drawer: FrameDrawer, cell) -> tuple[int, int]:
    """A pixel of the disc of an agent in `cell`, above its number."""
    x, y = drawer.cell_centre(*cell)
    return x, y - drawer.cell // 3


def test_bottleneck_defaults_come_from_the_suite():
    config = render_config("bottleneck-3", 2)
    assert (config.on_target, config.collision_system, config.max_episode_steps) == ("finish", "block_both", 106)
    assert render_config("bottleneck-3", 2, max_steps=5).max_episode_steps == 5
    custom = render_config("corridor-1x5", 2, on_target="nothing")
    assert (custom.on_target, custom.collision_system) == ("nothing", "block_both")


def test_all_three_files_are_written(rendered):
    files, _ = rendered
    assert set(files) == {"mp4", "gif", "svg"}
    assert files["mp4"].name == "bottleneck-3-a2-s0-astar.mp4"


def test_gif_has_one_frame_per_state_with_exact_colours(rendered):
    files, traj = rendered
    assert traj.steps == 6
    drawer = FrameDrawer(traj)
    gif = Image.open(files["gif"])
    assert gif.n_frames == traj.steps + 1
    for t in (0, 5):
        gif.seek(t)
        rgb = gif.convert("RGB")
        for a in range(2):
            assert rgb.getpixel(disc_pixel(drawer, traj.positions[t][a])) == drawer.agent_color(a)
    gif.seek(0)
    assert gif.convert("RGB").getpixel(drawer.cell_centre(2, 0)) == OBSTACLE  # a corridor-row wall cell


def test_mp4_has_one_frame_per_state_and_agents_where_they_are(rendered):
    files, traj = rendered
    drawer = FrameDrawer(traj)
    reader = imageio.get_reader(str(files["mp4"]))
    frames = [frame for frame in reader]
    reader.close()
    assert len(frames) == traj.steps + 1
    assert frames[0].shape[:2] == (drawer.size[1], drawer.size[0])
    for t in (0, 3):
        for a in range(2):
            x, y = disc_pixel(drawer, traj.positions[t][a])
            got = frames[t][y, x].astype(int)
            assert np.abs(got - np.array(drawer.agent_color(a))).max() < 40, (t, a, got)


def test_svg_draws_the_frames_description_and_rests_on_the_last_frame(rendered):
    files, traj = rendered
    drawer = FrameDrawer(traj)
    root = ET.parse(files["svg"]).getroot()
    assert (root.get("width"), root.get("height")) == tuple(str(v) for v in drawer.size)
    circles = root.iter(f"{SVG}circle")
    shown = {(c.get("cx"), c.get("cy")) for c in circles if c.get("visibility") != "hidden"}
    last = {(f"{x + 0.5:g}", f"{y + 0.5:g}") for x, y in (drawer.cell_centre(*p) for p in traj.positions[-1])}
    assert shown == last  # a viewer without animation shows the last frame's agents
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "step 0/6   arrived 0/2" in texts and "step 6/6   arrived 0/2" in texts
    animations = list(root.iter(f"{SVG}animate"))
    assert animations and all(a.get("dur") == f"{7 / 6:g}s" for a in animations)  # 7 frames at 6 fps


def test_path_overlay_is_drawn():
    config = render_config("bottleneck-5", 2, max_steps=3)
    traj = play_episode(GreedyAgent(), config, 0, progress=False)
    plain = np.asarray(FrameDrawer(traj).frame(0))
    overlay = np.asarray(FrameDrawer(traj, path_channel=True).frame(0))
    corridor = FrameDrawer(traj).cell_centre(4, 4)  # the corridor is on every agent's shortest path
    assert (plain[corridor[1], corridor[0]] != overlay[corridor[1], corridor[0]]).any()


def test_cli_render_stops_at_max_steps(tmp_path, capsys):
    code = eval_cli(["render", "--algo", "greedy", "--map", "bottleneck-4", "--seed", "2", "--max-steps", "5",
                     "--out", str(tmp_path), "--formats", "gif", "--no-progress"])
    assert code == 0
    gif = Image.open(tmp_path / "bottleneck-4-a2-s2-greedy.gif")
    assert gif.n_frames == 6
    assert "gif:" in capsys.readouterr().out


def test_too_many_agents_for_the_map():
    # bottleneck-3: 36 room cells + 3 corridor cells = 39
    with pytest.raises(EnvConfigError, match="num_agents=99 is more than the 39 free cells"):
        play_episode(GreedyAgent(), render_config("bottleneck-3", 99), 0, progress=False)


def test_bad_max_steps_and_unwritable_output(tmp_path):
    with pytest.raises(EvalError, match="--max-steps 0 must be >= 1"):
        render_config("bottleneck-3", 2, max_steps=0)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputPathError, match=f"--out {blocker}/out: {blocker} is a file, so nothing can be "
                                              "created under it; pass a path in a directory"):
        render(GreedyAgent(), render_config("bottleneck-3", 2), 0, blocker / "out", progress=False)
    with pytest.raises(OutputPathError, match="it exists and is not a directory"):
        render(GreedyAgent(), render_config("bottleneck-3", 2), 0, blocker, progress=False)


def test_cli_render_errors_are_reported(tmp_path, capsys):
    code = eval_cli(["render", "--algo", "greedy", "--map", "no-such-map", "--out", str(tmp_path), "--no-progress"])
    assert code == 2
    assert "unknown map 'no-such-map'" in capsys.readouterr().err


def test_goal_counts_are_the_envs_own():
    config = EnvConfig(grid="\n".join(["......#."] * 8), num_agents=4, on_target="restart", reward="lifelong",
                       collision_system="soft", max_episode_steps=30, obs_radius=2)
    traj = play_episode(GreedyAgent(), config, 3, progress=False)
    reached = traj.reached()
    assert reached[-1] == round(traj.metrics["avg_throughput"] * 30) == 21  # envs.metrics on the same episode
    assert np.all(np.diff(reached) >= 0)
    traj = play_episode(AStarAgent(), render_config("bottleneck-3", 2), 0, progress=False)
    assert traj.reached()[-1] == round(traj.metrics["ISR"] * 2) == 2
