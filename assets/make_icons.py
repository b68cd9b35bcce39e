"""Draw the tray-stt icons with Pillow primitives: ``python assets/make_icons.py [OUT_DIR]``.

Writes ``icons/<name>-<size>.png`` for every state and size, ``<state>.png`` (64 px) and
``tray-stt.png`` (the 256 px app icon) into OUT_DIR, by default the folder of this script.
The output is deterministic: the same Pillow makes the same bytes.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

SIZES = (16, 22, 24, 32, 48, 64, 256)
STATES = ("idle", "connecting", "listening", "speech", "error")
APP_ICON = "tray-stt"
APP_ICON_SIZE = 256
SUPERSAMPLE = 4
GRID = 64.0  # every shape is designed on a 64-unit square; at 16 px one unit is a quarter pixel

Colour = tuple[int, int, int, int]
HALO_COLOUR: Colour = (24, 24, 24, 255)
GREY: Colour = (176, 176, 176, 255)
AMBER: Colour = (255, 183, 0, 255)
GREEN: Colour = (76, 200, 80, 255)
RED: Colour = (255, 82, 82, 255)
WHITE: Colour = (255, 255, 255, 255)
APP_DISC: Colour = (30, 110, 210, 255)


@dataclass(frozen=True)
class Frame:
    """Maps design units to canvas pixels: the glyph's own scale and offset, then the canvas's."""

    pixels_per_unit: float
    glyph_scale: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)

    def point(self, x: float, y: float) -> tuple[float, float]:
        """Canvas pixel of design point (x, y)."""
        centre = GRID / 2
        gx = centre + (x - centre) * self.glyph_scale + self.shift[0]
        gy = centre + (y - centre) * self.glyph_scale + self.shift[1]
        return gx * self.pixels_per_unit, gy * self.pixels_per_unit

    def length(self, units: float) -> float:
        """Canvas length of a design length that scales with the glyph."""
        return units * self.glyph_scale * self.pixels_per_unit


@dataclass(frozen=True)
class RoundBox:
    """A rounded rectangle, filled or (with ``stroke``) hollow."""

    box: tuple[float, float, float, float]
    radius: float
    stroke: float = 0.0

    def draw(self, canvas: ImageDraw.ImageDraw, frame: Frame, grow: float, colour: Colour) -> None:
        """Paint the box enlarged by ``grow`` canvas pixels on every side."""
        x0, y0 = frame.point(self.box[0], self.box[1])
        x1, y1 = frame.point(self.box[2], self.box[3])
        bounds = (x0 - grow, y0 - grow, x1 + grow, y1 + grow)
        radius = frame.length(self.radius) + grow
        if self.stroke:
            width = round(frame.length(self.stroke) + 2 * grow)
            canvas.rounded_rectangle(bounds, radius, outline=colour, width=width)
        else:
            canvas.rounded_rectangle(bounds, radius, fill=colour)


@dataclass(frozen=True)
class Arc:
    """A round-capped circular arc; angles in degrees, clockwise from three o'clock."""

    centre: tuple[float, float]
    radius: float
    start: float
    end: float
    width: float

    def draw(self, canvas: ImageDraw.ImageDraw, frame: Frame, grow: float, colour: Colour) -> None:
        """Paint the arc thickened by ``grow`` canvas pixels on every side."""
        cx, cy = frame.point(*self.centre)
        half = frame.length(self.width) / 2 + grow
        outer = frame.length(self.radius) + half
        box = (cx - outer, cy - outer, cx + outer, cy + outer)
        canvas.arc(box, self.start, self.end, fill=colour, width=round(2 * half))
        for angle in (self.start, self.end):
            x = cx + frame.length(self.radius) * math.cos(math.radians(angle))
            y = cy + frame.length(self.radius) * math.sin(math.radians(angle))
            canvas.ellipse((x - half, y - half, x + half, y + half), fill=colour)


@dataclass(frozen=True)
class Segment:
    """A straight round-capped stroke."""

    start: tuple[float, float]
    end: tuple[float, float]
    width: float

    def draw(self, canvas: ImageDraw.ImageDraw, frame: Frame, grow: float, colour: Colour) -> None:
        """Paint the stroke thickened by ``grow`` canvas pixels on every side."""
        a, b = frame.point(*self.start), frame.point(*self.end)
        half = frame.length(self.width) / 2 + grow
        canvas.line((a, b), fill=colour, width=round(2 * half))
        for x, y in (a, b):
            canvas.ellipse((x - half, y - half, x + half, y + half), fill=colour)


@dataclass(frozen=True)
class Dot:
    """A filled circle."""

    centre: tuple[float, float]
    radius: float

    def draw(self, canvas: ImageDraw.ImageDraw, frame: Frame, grow: float, colour: Colour) -> None:
        """Paint the circle enlarged by ``grow`` canvas pixels."""
        x, y = frame.point(*self.centre)
        r = frame.length(self.radius) + grow
        canvas.ellipse((x - r, y - r, x + r, y + r), fill=colour)


Part = RoundBox | Arc | Segment | Dot


@dataclass(frozen=True)
class Layer:
    """Parts painted in one colour over one shared halo; later layers cut into earlier ones."""

    parts: tuple[Part, ...]
    colour: Colour
    glyph_scale: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)


# Designed so that at 16 px the capsule, the cradle and their outlines fall on whole pixels.
def microphone(*, hollow: bool) -> tuple[Part, ...]:
    """Capsule, cradle, stem and foot of the microphone glyph."""
    return (
        RoundBox((20, 4, 44, 38), radius=12, stroke=4 if hollow else 0),
        Arc((32, 26), radius=22, start=0, end=180, width=4),
        RoundBox((29, 48, 35, 56), radius=0),
        RoundBox((20, 54, 44, 58), radius=2),
    )


def dotted_ring() -> tuple[Part, ...]:
    """Eight dots on a circle around the whole glyph."""
    return tuple(
        Dot((32 + 26 * math.cos(a), 32 + 26 * math.sin(a)), radius=3.5)
        for a in (math.radians(step * 45 + 22.5) for step in range(8))
    )


def state_layers(state: str) -> tuple[Layer, ...]:
    """What each state shows: the shape and the colour tell it, each on its own."""
    if state == "idle":
        return (Layer(microphone(hollow=True), GREY),)
    if state == "connecting":
        return (
            Layer(microphone(hollow=False), AMBER, glyph_scale=0.62),
            Layer(dotted_ring(), AMBER),
        )
    if state == "listening":
        return (Layer(microphone(hollow=False), GREEN),)
    if state == "speech":
        # Lit up: the listening microphone in white on a filled green disc. At 22 px thin arcs
        # beside the listening glyph were the only difference (issue 14); a disc is not missed.
        return (
            Layer((Dot((32, 32), radius=31),), GREEN),
            Layer(microphone(hollow=False), WHITE, glyph_scale=0.72),
        )
    if state == "error":
        return (
            Layer(microphone(hollow=False), RED),
            Layer((Segment((10, 8), (54, 56), width=6),), RED),
        )
    raise ValueError(f"unknown state {state!r}")


def halo_units(size: int) -> float:
    """Width of the dark outline: one pixel on small icons, 1/32 of the icon on large ones."""
    # One pixel is what keeps a 16 px glyph visible on a light panel; more would eat the glyph.
    return max(GRID / size, GRID / 32)


def render(layers: Sequence[Layer], size: int, *, halo: Colour | None = HALO_COLOUR) -> Image.Image:
    """Draw the layers at SUPERSAMPLE times ``size`` and shrink them with LANCZOS."""
    big = size * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    canvas = ImageDraw.Draw(image)
    pixels_per_unit = big / GRID
    for layer in layers:
        frame = Frame(pixels_per_unit, layer.glyph_scale, layer.shift)
        if halo is not None:
            # The halo does not shrink with the glyph: one pixel at 16 px whatever the scale.
            for part in layer.parts:
                part.draw(canvas, frame, halo_units(size) * pixels_per_unit, halo)
        for part in layer.parts:
            part.draw(canvas, frame, 0.0, layer.colour)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def app_icon(size: int) -> Image.Image:
    """The application icon: a white microphone on a blue disc."""
    disc = Layer((Dot((32, 32), radius=31),), APP_DISC)
    mic = Layer(microphone(hollow=False), WHITE, glyph_scale=0.72)
    return render((disc, mic), size, halo=None)


def save(image: Image.Image, path: Path) -> None:
    """Write a PNG with no metadata, so that the bytes depend only on the pixels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", optimize=False, compress_level=9)


def write_all(out_dir: Path) -> list[Path]:
    """Write every icon into ``out_dir``; returns the paths written."""
    written: list[Path] = []
    for name in (*STATES, APP_ICON):
        for size in SIZES:
            image = app_icon(size) if name == APP_ICON else render(state_layers(name), size)
            path = out_dir / "icons" / f"{name}-{size}.png"
            save(image, path)
            written.append(path)
    for state in STATES:
        save(render(state_layers(state), 64), out_dir / f"{state}.png")
        written.append(out_dir / f"{state}.png")
    save(app_icon(APP_ICON_SIZE), out_dir / f"{APP_ICON}.png")
    written.append(out_dir / f"{APP_ICON}.png")
    return written


def main(argv: Sequence[str]) -> int:
    """Write the icons into the folder given, or next to this script."""
    out_dir = Path(argv[0]) if argv else Path(__file__).resolve().parent
    for path in write_all(out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
