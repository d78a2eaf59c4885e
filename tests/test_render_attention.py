"""`srmt render --attention`: the agent's recorded attention, drawn in MP4 / GIF / SVG (few frames, small maps)."""
import numpy as np
import pytest
from PIL import Image

from agents import GreedyAgent, SRMTAgent, make_agent
from cli.main import main as eval_cli
from render.drawing import Disc, Line
from render.frames import FOCUS, LAYERS, AttentionView, FrameDrawer, level, shade
from render.play import play_episode, render, render_config
from eval.suites import EvalError
from srmt import ModelConfig, SRMTPolicy

LINK_LAYER, RING_LAYER = LAYERS.index("links"), LAYERS.index("rings")


@pytest.fixture(scope="module")
def bottleneck():
    """The shipped Bottleneck policy on bottleneck-3, 2 agents, 5 steps, attention recorded."""
    agent = make_agent("srmt")
    config = render_config("bottleneck-3", 2, obs_radius=agent.obs_radius, max_steps=5)
    return play_episode(agent, config, 0, progress=False, attention=True)


def test_trajectory_holds_the_agents_attention_of_every_step(bottleneck):
    traj = bottleneck
    assert len(traj.attention) == len(traj.tokens) == len(traj.token_valid) == traj.steps == 5
    assert traj.attention[0].shape == (2, 2) and traj.tokens[0].shape == (2, 10)  # memory, 8 history, current
    assert not traj.attention[0].any()  # the first step reads no pool
    for t in range(1, 5):
        assert np.allclose(traj.attention[t].sum(axis=1), 1.0, atol=1e-5)
    assert traj.token_valid[0][0].tolist() == [False] * 9 + [True]  # an episode start: no memory, no history
    assert traj.token_valid[4][0].tolist() == [True] + [False] * 4 + [True] * 5


def test_focused_agents_read_is_drawn_with_its_weight(bottleneck):
    drawer = FrameDrawer(bottleneck, attention=AttentionView(focus=1, links=0))
    t = 3
    pos = bottleneck.positions[t]
    lvl = level(float(bottleneck.attention[t][1, 0]))
    assert lvl > 0
    a1, a0 = drawer.cell_centre(*pos[1]), drawer.cell_centre(*pos[0])
    assert drawer.scene(t)[LINK_LAYER] == [Line(*a1, *a0, shade(FOCUS, lvl), width=lvl)]
    assert [type(s) for s in drawer.scene(t)[RING_LAYER]] == [Disc]  # the focus ring
    assert drawer.scene(0)[LINK_LAYER] == []  # step 0: nobody read the pool


def test_attention_files_of_a_lifelong_map(tmp_path):
    agent = make_agent("srmt", lifelong=True)
    config = render_config("validation-mazes-seed-000", 3, obs_radius=agent.obs_radius, max_steps=3)
    files = render(agent, config, 0, tmp_path, progress=False, attention=AttentionView(focus=2))
    assert files["gif"].name == "validation-mazes-seed-000-a3-s0-srmt-attention2.gif"
    gif = Image.open(files["gif"])
    assert gif.n_frames == 4
    svg = files["svg"].read_text()
    assert "agent 2 attends" in svg and "goals reached" in svg


def test_baselines_have_no_attention_to_draw(tmp_path):
    with pytest.raises(EvalError, match="Greedy is not an SRMT policy: use --algo srmt with a policy of variant "
                                        "'srmt'"):
        render(GreedyAgent(), render_config("bottleneck-3", 2), 0, tmp_path / "out", progress=False,
               attention=AttentionView())
    assert not (tmp_path / "out").exists()  # refused before anything was played or written


@pytest.mark.parametrize("variant", ["rmt", "attention", "gru", "empty"])
def test_policies_without_a_pool_are_refused_before_playing(tmp_path, variant):
    agent = SRMTAgent(SRMTPolicy(ModelConfig.preset("bottleneck", variant=variant)))
    with pytest.raises(EvalError, match=f"--attention: .*needs a policy with a pool: variant 'srmt'; this "
                                        f"policy's variant is '{variant}'"):
        render(agent, render_config("bottleneck-3", 2), 0, tmp_path / "out", progress=False,
               attention=AttentionView())
    assert not (tmp_path / "out").exists()


def test_cli_attention_options(tmp_path, capsys):
    base = ["render", "--map", "bottleneck-3", "--out", str(tmp_path), "--no-progress", "--max-steps", "2"]
    assert eval_cli([*base, "--algo", "greedy", "--focus", "1"]) == 2
    assert "--focus and --links choose what --attention draws: add --attention" in capsys.readouterr().err
    assert eval_cli([*base, "--attention", "--focus", "2"]) == 2
    assert "--focus 2 is not an agent of the episode: it has 2 agents (0..1)" in capsys.readouterr().err
    assert eval_cli([*base, "--attention", "--links", "1", "--formats", "gif"]) == 0
    assert Image.open(tmp_path / "bottleneck-3-a2-s0-srmt-attention0.gif").n_frames == 3
