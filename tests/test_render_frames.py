"""The look of rendered frames (render/frames.py): agent colours, goals, the header, attention drawing."""
import numpy as np
import pytest

from envs.task import Task
from render.drawing import Label, Line, Rect
from render.frames import (FOCUS, LAYERS, LINK, MAX_COLORS, MAX_GOAL_LINES, MIN_LINK, NUMBER_CELL, AttentionView,
                         FrameDrawer, agent_palette, level, light, shade)
from eval.suites import EvalError
from render.trajectory import Trajectory

GOAL_LINE_LAYER, GOAL_LAYER, LINK_LAYER, HEADER_LAYER = (LAYERS.index(name) for name in
                                                          ("goal lines", "goals", "links", "header"))


def trajectory(positions, goals, on_target="restart", rows=8, cols=8, attention=None) -> Trajectory:
    """A hand-made episode on an empty rows x cols map: per frame the (A, 2) positions and goals."""
    frames = len(positions)
    traj = Trajectory(np.zeros((rows, cols), dtype=bool), Task(0, 0), on_target,
                      positions=[np.array(p) for p in positions], goals=[np.array(g) for g in goals],
                      active=[np.ones(len(positions[0]), dtype=bool)] * frames,
                      actions=[[0] * len(positions[0])] * (frames - 1))
    if attention is not None:
        traj.attention = [np.asarray(attention, dtype=float)] * (frames - 1)
        tokens = len(attention) * [[0.1, 0.0, 0.0, 0.2, 0.7]]
        traj.tokens = [np.array(tokens)] * (frames - 1)
        traj.token_valid = [np.array(tokens) > 0] * (frames - 1)
    return traj


def header_text(drawer: FrameDrawer, t: int) -> str:
    return drawer.scene(t)[HEADER_LAYER][0].text


def test_palette_colours_are_distinct_and_readable():
    colors = agent_palette(300)
    assert len(set(colors)) == 300
    assert agent_palette(24) == colors[:24]  # the same agent keeps its colour at any count
    first = np.array(colors[:24], dtype=float)
    gaps = np.linalg.norm(first[:, None] - first[None], axis=2) + np.eye(24) * 1e9
    assert gaps.min() > 60  # far apart in RGB, not only different
    assert all(min(c) < 200 for c in colors)  # none vanishes on the white free cells


def test_every_agent_and_its_goal_share_a_colour_no_other_agent_has():
    n = 24  # the README's lifelong GIF
    cells = [(r, c) for r in range(8) for c in range(8)]
    traj = trajectory([cells[:n]], [cells[n:2 * n]])
    drawer = FrameDrawer(traj, cell=20)
    img = drawer.frame(0)
    assert len({drawer.agent_color(a) for a in range(n)}) == n
    h = drawer.cell // 2 - drawer.cell // 8
    for a in range(n):
        x, y = drawer.cell_centre(*cells[a])
        assert img.getpixel((x, y - 7)) == drawer.agent_color(a)  # the disc, above its number
        gx, gy = drawer.cell_centre(*cells[n + a])
        assert img.getpixel((gx - h, gy)) == drawer.agent_color(a)  # the goal's outline
        assert img.getpixel((gx - h + 2, gy - h + 2)) == light(drawer.agent_color(a))  # its fill
    labels = [s for s in drawer.scene(0)[GOAL_LAYER] if isinstance(s, Label)]
    assert drawer.cell >= NUMBER_CELL and sorted(int(s.text) for s in labels) == list(range(n))


def test_beyond_the_palette_a_line_joins_each_agent_to_its_goal():
    n = MAX_COLORS + 50
    cells = [(r, c) for r in range(20) for c in range(20)]
    traj = trajectory([cells[:n]], [cells[-n:]], rows=20, cols=20)
    drawer = FrameDrawer(traj)
    assert drawer.agent_color(MAX_COLORS + 3) == drawer.agent_color(3)
    lines = {(s.x0, s.y0, s.x1, s.y1, s.color) for s in drawer.scene(0)[GOAL_LINE_LAYER]}
    assert lines == {(*drawer.cell_centre(*cells[a]), *drawer.cell_centre(*cells[-n + a]), drawer.agent_color(a))
                     for a in range(n)}
    assert not FrameDrawer(trajectory([cells[:5]], [cells[-5:]], rows=20, cols=20)).scene(0)[GOAL_LINE_LAYER]
    crowd = [(r, c) for r in range(40) for c in range(40)]
    many = FrameDrawer(trajectory([crowd[:MAX_GOAL_LINES + 1]], [crowd[-MAX_GOAL_LINES - 1:]], rows=40, cols=40))
    assert not many.scene(0)[GOAL_LINE_LAYER]  # a crowd: lines would hide the map
    assert len(drawer.palette().getpalette()) == 3 * 256


def test_header_counts_goals_reached_and_throughput():
    # one agent on an empty 1x4 map: reaches (0, 2) on step 2, gets (0, 0), reaches it on step 4 and is
    # given (0, 0) again (pogema may re-issue a goal): staying there on step 5 reaches it once more
    positions = [[(0, 0)], [(0, 1)], [(0, 2)], [(0, 1)], [(0, 0)], [(0, 0)], [(0, 1)]]
    goals = [[(0, 2)], [(0, 2)], [(0, 0)], [(0, 0)], [(0, 0)], [(0, 3)], [(0, 3)]]
    drawer = FrameDrawer(trajectory(positions, goals, rows=1, cols=4))
    assert drawer.traj.reached().tolist() == [0, 0, 1, 1, 2, 3, 3]
    assert header_text(drawer, 0) == "step 0/6   goals reached 0   throughput -"
    assert header_text(drawer, 4) == "step 4/6   goals reached 2   throughput 0.50"
    assert header_text(drawer, 6) == "step 6/6   goals reached 3   throughput 0.50"


def test_header_counts_arrivals_in_finish_mode():
    positions = [[(0, 0), (0, 3)], [(0, 1), (0, 3)], [(0, 1), (0, 3)]]
    goals = [[(0, 1), (0, 0)]] * 3
    traj = trajectory(positions, goals, on_target="finish", rows=1, cols=4)
    traj.active = [np.array([True, True]), np.array([False, True]), np.array([False, True])]
    drawer = FrameDrawer(traj)
    assert [header_text(drawer, t) for t in range(3)] == ["step 0/2   arrived 0/2", "step 1/2   arrived 1/2",
                                                          "step 2/2   arrived 1/2"]


# three agents on an empty map; agent 0 reads 1 (0.7) and 2 (0.3), agent 1 reads 2 (0.8) and itself,
# agent 0 too little (0.05), agent 2 reads 0 (0.6) and 1 (0.4)
POSITIONS = [[(1, 1), (1, 6), (6, 1)]] * 2
GOALS = [[(7, 7), (7, 6), (7, 5)]] * 2
WEIGHTS = [[0.0, 0.7, 0.3], [0.05, 0.15, 0.8], [0.6, 0.4, 0.0]]


def test_focused_agent_reads_are_drawn_by_weight():
    drawer = FrameDrawer(trajectory(POSITIONS, GOALS, attention=WEIGHTS), attention=AttentionView(focus=0, links=0))
    links = drawer.scene(0)[LINK_LAYER]
    a0, a1, a2 = (drawer.cell_centre(*p) for p in POSITIONS[0])
    assert links == [Line(*a0, *a1, shade(FOCUS, level(0.7)), width=level(0.7)),
                     Line(*a0, *a2, shade(FOCUS, level(0.3)), width=level(0.3))]
    assert (level(0.7), level(0.3), level(0.02)) == (4, 3, 0)
    img = drawer.frame(0)
    middle = ((a0[0] + a1[0]) // 2, a0[1])
    assert img.getpixel(middle) == shade(FOCUS, 4)
    assert drawer.scene(1)[LINK_LAYER] == []  # the last frame: no step, no attention


def test_strongest_link_of_every_agent_goes_to_its_largest_weight():
    link_colors = {shade(LINK, lvl) for lvl in range(1, 5)}  # the strongest links; the focused agent's are black
    drawers = {n: FrameDrawer(trajectory(POSITIONS, GOALS, attention=WEIGHTS), attention=AttentionView(0, n))
               for n in (1, 2)}
    a0, a1, a2 = (drawers[1].cell_centre(*p) for p in POSITIONS[0])

    def strongest(links: int) -> set[Line]:
        return {s for s in drawers[links].scene(0)[LINK_LAYER] if isinstance(s, Line) and s.color in link_colors}

    assert strongest(1) == {Line(*a1, *a2, shade(LINK, level(0.8))), Line(*a2, *a0, shade(LINK, level(0.6)))}
    # the second-strongest: agent 2 -> 1 (0.4); agent 1 -> 0 (0.05) is below MIN_LINK; agent 0 is the focus
    assert strongest(2) == strongest(1) | {Line(*a2, *a1, shade(LINK, level(0.4)))}
    assert 0.05 < MIN_LINK <= 0.4


def test_no_links_when_nobody_cross_attended():
    zeros = np.zeros((3, 3))
    drawer = FrameDrawer(trajectory(POSITIONS, GOALS, attention=zeros), attention=AttentionView(links=2))
    assert drawer.scene(0)[LINK_LAYER] == []


def test_token_strip_shows_the_focused_agents_tokens():
    drawer = FrameDrawer(trajectory(POSITIONS, GOALS, attention=WEIGHTS), attention=AttentionView(focus=1))
    cells = [s for s in drawer.scene(0)[HEADER_LAYER] if isinstance(s, Rect)]
    # tokens [memory 0.1; history 0, 0 (missing), 0.2; current 0.7]
    assert [c.fill for c in cells] == [shade(FOCUS, 2), (255, 255, 255), (255, 255, 255), shade(FOCUS, 3),
                                       shade(FOCUS, 4)]
    crossed = [s for s in drawer.scene(0)[HEADER_LAYER] if isinstance(s, Line)]
    assert len(crossed) == 2  # the two tokens that did not exist


def test_attention_drawing_needs_recorded_attention_and_a_real_focus():
    with pytest.raises(ValueError, match="needs a trajectory played with attention recorded"):
        FrameDrawer(trajectory(POSITIONS, GOALS), attention=AttentionView())
    with pytest.raises(EvalError, match=r"--focus 3 is not an agent of the episode: it has 3 agents \(0..2\)"):
        FrameDrawer(trajectory(POSITIONS, GOALS, attention=WEIGHTS), attention=AttentionView(focus=3))
