"""`srmt render`: MP4 / GIF / SVG of one episode, checked by reading the files back."""
import imageio.v2 as imageio
import numpy as np
import pytest
from PIL import Image

from agents import AStarAgent, GreedyAgent
from envs.config import EnvConfig
from envs.errors import EnvConfigError
from cli.main import main as eval_cli
from eval.render import FrameDrawer, agent_color, play_episode, render, render_config, write_svg
from eval.suites import EvalError
from maps.files import OutputPathError


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("render")
    config = render_config("bottleneck-3", 2)
    files = render(AStarAgent(), config, seed=0, out_dir=out, progress=False)
    return files, config


def test_bottleneck_defaults_come_from_the_suite():
    config = render_config("bottleneck-3", 2)
    assert (config.on_target, config.collision_system, config.max_episode_steps) == ("finish", "block_both", 106)
    assert render_config("bottleneck-3", 2, max_steps=5).max_episode_steps == 5
    custom = render_config("corridor-1x5", 2, on_target="nothing")
    assert (custom.on_target, custom.collision_system) == ("nothing", "block_both")


@pytest.mark.slow  # the module's rendered episode (MP4 + GIF encoding) takes ~12 s
def test_all_three_files_are_written(rendered):
    files, _ = rendered
    assert set(files) == {"mp4", "gif", "svg"}
    assert files["mp4"].name == "bottleneck-3-a2-s0-astar.mp4"
    svg = files["svg"].read_text()
    assert "<svg" in svg and "<animate" in svg


def test_pogema_replay_for_the_svg_follows_the_played_episode(tmp_path):
    config = EnvConfig(grid="\n".join(["......#."] * 8), num_agents=4, on_target="restart", reward="lifelong",
                       collision_system="soft", max_episode_steps=30, obs_radius=2)
    traj, resolved = play_episode(GreedyAgent(), config, 3, progress=False)
    assert traj.steps == 30
    assert write_svg(resolved, traj, tmp_path / "a.svg")


@pytest.mark.slow  # the module's rendered episode (MP4 + GIF encoding) takes ~12 s
def test_gif_has_one_frame_per_state_with_exact_agent_colours(rendered):
    files, config = rendered
    traj, _ = play_episode(AStarAgent(), config, 0, progress=False)
    assert traj.steps == 54  # the pinned A* episode (tests/test_agents_baselines.py)
    drawer = FrameDrawer(traj)
    gif = Image.open(files["gif"])
    assert gif.n_frames == traj.steps + 1
    for t in (0, 20):
        gif.seek(t)
        rgb = gif.convert("RGB")
        for a in range(2):
            assert rgb.getpixel(drawer.cell_centre(*traj.positions[t][a])) == agent_color(a)
    gif.seek(0)
    corner = drawer.cell_centre(2, 0)  # a corridor-row wall cell of bottleneck-3
    assert gif.convert("RGB").getpixel(corner) == (70, 80, 90)


@pytest.mark.slow  # the module's rendered episode (MP4 + GIF encoding) takes ~12 s
def test_mp4_has_one_frame_per_state_and_agents_where_they_are(rendered):
    files, config = rendered
    traj, _ = play_episode(AStarAgent(), config, 0, progress=False)
    drawer = FrameDrawer(traj)
    reader = imageio.get_reader(str(files["mp4"]))
    frames = [frame for frame in reader]
    reader.close()
    assert len(frames) == traj.steps + 1
    assert frames[0].shape[:2] == (drawer.size[1], drawer.size[0])
    for t in (0, len(frames) // 2):
        for a in range(2):
            x, y = drawer.cell_centre(*traj.positions[t][a])
            got = frames[t][y, x].astype(int)
            assert np.abs(got - np.array(agent_color(a))).max() < 40, (t, a, got)


def test_path_overlay_is_drawn(tmp_path):
    config = render_config("bottleneck-5", 2, max_steps=3)
    traj, _ = play_episode(GreedyAgent(), config, 0, progress=False)
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
