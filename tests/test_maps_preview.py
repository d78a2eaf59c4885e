"""maps.preview: ASCII and PNG pictures."""

import pytest
from PIL import Image

from maps.bottleneck import bottleneck_grid
from maps.errors import MapError
from maps.grid import parse_grid
from maps.preview import PALETTE, render_ascii, render_png

ROOM = parse_grid("#####\n#...#\n#....\n#...#\n#####")


def test_ascii_plain_and_with_agents():
    assert render_ascii(ROOM) == "#####\n#...#\n#....\n#...#\n#####"
    assert render_ascii(ROOM, starts=[(1, 1), (3, 3)], goals=[(2, 4), (1, 1)]) == (
        "#####\n#a..#\n#...A\n#..b#\n#####")  # agent 0's start hides agent 1's goal


def test_ascii_is_a_pogema_map_with_those_agents():
    grid_config = pytest.importorskip("pogema").GridConfig
    config = grid_config(map=render_ascii(ROOM, starts=[(1, 1), (3, 3)], goals=[(2, 4), (1, 3)]))
    assert config.agents_xy == [[1, 1], [3, 3]] and config.targets_xy == [[2, 4], [1, 3]]


@pytest.mark.parametrize("starts, goals, message", [
    ([(0, 0)], None, r"start \(0, 0\) of agent 0 is on an obstacle; use a free cell"),
    (None, [(1, 1), (5, 1)], r"goal \(5, 1\) of agent 1 is outside the 5x5 grid"),
    ([(1, 1)], [(1, 2), (1, 3)], r"got 1 starts but 2 goals; give one of each per agent"),
])
def test_bad_positions(starts, goals, message):
    with pytest.raises(MapError, match=message):
        render_ascii(ROOM, starts, goals)


def test_ascii_at_most_26_agents():
    open_grid = parse_grid("." * 27)
    with pytest.raises(MapError, match=r"at most 26 agents \(letters a-z\), got 27; use render_png"):
        render_ascii(open_grid, starts=[(0, c) for c in range(27)])


def test_png(tmp_path):
    grid = parse_grid(bottleneck_grid(3))
    path = render_png(grid, tmp_path / "b.png", starts=[(1, 6), (6, 2)], goals=[(5, 8), (0, 4)], cell=20)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (180, 140)
        pixels = image.convert("RGB")
    assert pixels.getpixel((10, 50)) == (64, 64, 64)      # obstacle (row 2, col 0)
    assert pixels.getpixel((90, 50)) == (255, 255, 255)   # corridor (row 2, col 4)
    assert pixels.getpixel((0, 50)) == (210, 210, 210)    # grid line
    assert pixels.getpixel((130, 30)) == PALETTE[0]       # agent 0: circle centre (row 1, col 6)
    assert pixels.getpixel((124, 24)) == (255, 255, 255)  # ... a circle leaves its box corner empty
    assert pixels.getpixel((164, 104)) == PALETTE[0]      # agent 0: goal square corner (row 5, col 8)
    assert pixels.getpixel((50, 130)) == PALETTE[1]       # agent 1 (row 6, col 2)
    assert pixels.getpixel((84, 4)) == PALETTE[1]         # agent 1's goal (row 0, col 4)


def test_png_cell_too_small(tmp_path):
    with pytest.raises(MapError, match=r"cell must be at least 4 pixels"):
        render_png(ROOM, tmp_path / "x.png", cell=3)
