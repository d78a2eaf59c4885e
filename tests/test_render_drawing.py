"""render/drawing.py: one drawing description painted by PIL and written as an animated SVG."""
import xml.etree.ElementTree as ET

import pytest

from render.drawing import Disc, Label, Line, Rect, blend, gif_palette, raster, write_svg

SVG = "{http://www.w3.org/2000/svg}"
WHITE, RED, BLUE = (255, 255, 255), (200, 0, 0), (0, 0, 200)


def test_raster_paints_each_shape_with_its_exact_colour():
    scene = [[Rect(0, 0, 9, 9, fill=BLUE)], [Disc(20, 5, 3, RED), Line(0, 15, 29, 15, (1, 2, 3), width=1)]]
    img = raster(scene, (30, 20), WHITE)
    assert img.getpixel((5, 5)) == BLUE and img.getpixel((10, 5)) == WHITE
    assert img.getpixel((20, 5)) == RED and img.getpixel((20, 9)) == WHITE
    assert img.getpixel((17, 15)) == (1, 2, 3)
    assert blend(RED, 0.5) == (228, 128, 128)


def test_svg_shows_each_shape_during_its_frames(tmp_path):
    wall = Rect(0, 0, 9, 9, fill=BLUE)
    early, late = Disc(5, 5, 2, RED), Disc(15, 5, 2, RED)
    scenes = [[[wall], [early, Label(0, 0, "a<b", RED, 10)]], [[wall], [early]], [[wall], [late]]]
    write_svg(scenes, (30, 20), WHITE, fps=3, path=tmp_path / "a.svg")
    root = ET.parse(tmp_path / "a.svg").getroot()
    rects = [r for r in root.iter(f"{SVG}rect")]
    assert [r.get("fill") for r in rects] == ["#ffffff", "#0000c8"]  # background, wall: static
    assert not list(rects[1])
    circles = {c.get("cx"): c for c in root.iter(f"{SVG}circle")}
    first, last = circles["5.5"], circles["15.5"]
    assert first.get("visibility") == "hidden" and last.get("visibility") is None  # without SMIL: the last frame
    animate = first.find(f"{SVG}animate")
    assert (animate.get("values"), animate.get("keyTimes")) == ("visible;hidden", "0;0.666667")  # frames 0-1 of 3
    assert animate.get("dur") == "1s"  # 3 frames at 3 fps
    animate = last.find(f"{SVG}animate")
    assert (animate.get("values"), animate.get("keyTimes")) == ("hidden;visible", "0;0.666667")
    text = next(root.iter(f"{SVG}text"))
    assert text.text == "a<b" and text.find(f"{SVG}animate").get("values") == "visible;hidden"


def test_gif_palette_holds_the_colours_used_or_says_it_cannot():
    pal = gif_palette([RED, BLUE, RED])
    assert pal.getpalette()[:6] == [*BLUE, *RED]
    with pytest.raises(ValueError, match="the frames use 300 colours; a GIF palette holds at most 256"):
        gif_palette((k, 0, 0) if k < 256 else (0, k - 200, 0) for k in range(300))
