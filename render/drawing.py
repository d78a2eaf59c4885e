"""One drawing description, two outputs: PIL raster frames and an animated SVG.

A frame is a `Scene`: layers of shapes in paint order, each shape a frozen
dataclass in pixel coordinates with exact RGB colours (no transparency:
translucent things are drawn in colours pre-blended with the background, so a
GIF palette built from the colours used reproduces them exactly).
`raster` paints a scene with PIL; `write_svg` writes many scenes as one SVG
animation: a shape that appears in every frame is drawn once, any other is
shown only during its runs of frames (an `<animate>` of `visibility`, looping).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence, Union
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, ImageFont

Color = tuple[int, int, int]


@dataclass(frozen=True)
class Rect:
    """Axis-aligned box, pixel corners inclusive; the outline is drawn inside the box."""

    x0: int
    y0: int
    x1: int
    y1: int
    fill: Color | None = None
    outline: Color | None = None
    width: int = 1


@dataclass(frozen=True)
class Disc:
    """Filled circle of radius `r` around pixel (x, y), optionally outlined (inside)."""

    x: int
    y: int
    r: int
    fill: Color | None
    outline: Color | None = None
    width: int = 1


@dataclass(frozen=True)
class Line:
    """Straight line between two pixel centres."""

    x0: int
    y0: int
    x1: int
    y1: int
    color: Color
    width: int = 1


@dataclass(frozen=True)
class Label:
    """Text: `centred` on (x, y), or with its top-left corner there."""

    x: int
    y: int
    text: str
    color: Color
    size: int
    centred: bool = False


Shape = Union[Rect, Disc, Line, Label]
Scene = Sequence[Sequence[Shape]]
"""Layers of shapes, painted first to last (SVG keeps the same order)."""


def blend(color: Color, opacity: float, background: Color = (255, 255, 255)) -> Color:
    """`color` drawn at `opacity` over `background`, as one opaque colour."""
    return tuple(round(b + (c - b) * opacity) for c, b in zip(color, background))  # type: ignore[return-value]


@lru_cache(maxsize=None)
def font(size: int) -> ImageFont.FreeTypeFont:
    """PIL's default font at `size` pixels."""
    return ImageFont.load_default(size=size)


def colors_of(shapes: Iterable[Shape]) -> set[Color]:
    """Every colour the shapes paint with."""
    out: set[Color] = set()
    for s in shapes:
        for c in (getattr(s, "fill", None), getattr(s, "outline", None), getattr(s, "color", None)):
            if c is not None:
                out.add(c)
    return out


def raster(scene: Scene, size: tuple[int, int], background: Color) -> Image.Image:
    """Paint `scene` on a new RGB image of `size` (width, height)."""
    img = Image.new("RGB", size, background)
    d = ImageDraw.Draw(img)
    for layer in scene:
        for s in layer:
            if isinstance(s, Rect):
                d.rectangle([s.x0, s.y0, s.x1, s.y1], fill=s.fill, outline=s.outline, width=s.width)
            elif isinstance(s, Disc):
                d.ellipse([s.x - s.r, s.y - s.r, s.x + s.r, s.y + s.r], fill=s.fill, outline=s.outline,
                          width=s.width)
            elif isinstance(s, Line):
                d.line([s.x0, s.y0, s.x1, s.y1], fill=s.color, width=s.width)
            else:
                d.text((s.x, s.y), s.text, fill=s.color, font=font(s.size), anchor="mm" if s.centred else "lt")
    return img


def gif_palette(colors: Iterable[Color]) -> Image.Image:
    """A 'P' image whose palette holds exactly `colors` (for `Image.quantize(palette=...)`)."""
    colors = sorted(set(colors))
    if len(colors) > 256:
        raise ValueError(f"the frames use {len(colors)} colours; a GIF palette holds at most 256")
    flat = [v for c in colors for v in c]
    flat += flat[:3] * (256 - len(colors))
    pal = Image.new("P", (1, 1))
    pal.putpalette(flat)
    return pal


def _hex(c: Color) -> str:
    return "#%02x%02x%02x" % c


def _paint(fill: Color | None, outline: Color | None, width: int) -> str:
    out = f'fill="{_hex(fill)}"' if fill is not None else 'fill="none"'
    if outline is not None:
        out += f' stroke="{_hex(outline)}" stroke-width="{width}"'
    return out


def svg_element(s: Shape, inner: str = "", hidden: bool = False) -> str:
    """`s` as one SVG element (PIL's pixel conventions: a pixel is the unit square right-below its coordinate);
    `inner`: its children (an `<animate>`); `hidden`: invisible unless animated."""
    return _element(s, inner).replace(">", ' visibility="hidden">', 1) if hidden else _element(s, inner)


def _element(s: Shape, inner: str) -> str:
    if isinstance(s, Rect):
        inset = s.width / 2 if s.outline is not None else 0
        return (f'<rect x="{s.x0 + inset:g}" y="{s.y0 + inset:g}" width="{s.x1 - s.x0 + 1 - 2 * inset:g}" '
                f'height="{s.y1 - s.y0 + 1 - 2 * inset:g}" {_paint(s.fill, s.outline, s.width)}>{inner}</rect>')
    if isinstance(s, Disc):
        r = s.r + 0.5 - (s.width / 2 if s.outline is not None else 0)
        return (f'<circle cx="{s.x + 0.5:g}" cy="{s.y + 0.5:g}" r="{r:g}" '
                f'{_paint(s.fill, s.outline, s.width)}>{inner}</circle>')
    if isinstance(s, Line):
        return (f'<line x1="{s.x0 + 0.5:g}" y1="{s.y0 + 0.5:g}" x2="{s.x1 + 0.5:g}" y2="{s.y1 + 0.5:g}" '
                f'stroke="{_hex(s.color)}" stroke-width="{s.width}" stroke-linecap="round">{inner}</line>')
    anchor = 'text-anchor="middle" dominant-baseline="central"' if s.centred else 'dominant-baseline="hanging"'
    return (f'<text x="{s.x}" y="{s.y}" font-size="{s.size}" font-family="DejaVu Sans, sans-serif" '
            f'fill="{_hex(s.color)}" {anchor}>{escape(s.text)}{inner}</text>')


def _runs(frames: list[int]) -> list[tuple[int, int]]:
    """Sorted frame indices -> [(first, last + 1)] of consecutive runs."""
    runs: list[tuple[int, int]] = []
    for t in frames:
        if runs and runs[-1][1] == t:
            runs[-1] = (runs[-1][0], t + 1)
        else:
            runs.append((t, t + 1))
    return runs


def _visibility(runs: list[tuple[int, int]], count: int, seconds: float) -> str:
    """A looping discrete `<animate>` of `visibility`: visible during `runs` of `count` frames."""
    times, values = [0.0], ["visible" if runs[0][0] == 0 else "hidden"]
    for start, stop in runs:
        for t, v in ((start, "visible"), (stop, "hidden")):
            if 0 < t < count:
                times.append(t / count)
                values.append(v)
    return (f'<animate attributeName="visibility" calcMode="discrete" dur="{seconds:g}s" '
            f'repeatCount="indefinite" values="{";".join(values)}" '
            f'keyTimes="{";".join(f"{k:.6g}" for k in times)}"/>')


def write_svg(scenes: Sequence[Scene], size: tuple[int, int], background: Color, fps: int, path: Path) -> None:
    """All `scenes` as one looping SVG animation, one frame each 1/`fps` s; a viewer without SMIL
    animation shows the last scene."""
    count = len(scenes)
    layers: list[dict[Shape, list[int]]] = []
    for t, scene in enumerate(scenes):
        for k, layer in enumerate(scene):
            while len(layers) <= k:
                layers.append({})
            for s in layer:
                seen = layers[k].setdefault(s, [])
                if not seen or seen[-1] != t:
                    seen.append(t)
    width, height = size
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}">',
           f'<rect width="{width}" height="{height}" fill="{_hex(background)}"/>']
    for layer in layers:
        out.append("<g>")
        for s, frames in layer.items():
            inner = "" if len(frames) == count else _visibility(_runs(frames), count, count / fps)
            out.append(svg_element(s, inner, hidden=frames[-1] != count - 1))
        out.append("</g>")
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")
