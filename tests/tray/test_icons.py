"""The tray icons: deterministic, complete, distinct in shape, legible on any panel."""

from __future__ import annotations

import subprocess
import sys
from itertools import combinations
from pathlib import Path

import pytest
from PIL import Image

from tests.support import REPO
from tray_stt.errors import AssetMissing
from tray_stt.resources import app_icon_path, assets_dir
from tray_stt.tray.icons import SIZES, IconState, icon_path, load_icon

ASSETS = REPO / "assets"
SCRIPT = ASSETS / "make_icons.py"
LIGHT_PANEL = (255, 255, 255)
DARK_PANEL = (0x20, 0x20, 0x20)


def _generate(out_dir: Path) -> list[Path]:
    subprocess.run([sys.executable, str(SCRIPT), str(out_dir)], check=True, capture_output=True)
    return sorted(p.relative_to(out_dir) for p in out_dir.rglob("*.png"))


def _relative_luminance(rgb: tuple[int, ...]) -> float:
    def linear(value: int) -> float:
        v = value / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(v) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """The WCAG 2 contrast ratio, from 1 (none) to 21 (black on white)."""
    high, low = sorted((_relative_luminance(a), _relative_luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_make_icons_regenerates_byte_identical_files(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    names = _generate(first)
    assert names == _generate(second)
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_make_icons_output_matches_the_committed_assets(tmp_path: Path) -> None:
    # Pixels, not bytes: another zlib build may compress the same pixels differently.
    names = _generate(tmp_path)
    committed = sorted(p.relative_to(ASSETS) for p in ASSETS.rglob("*.png"))
    assert names == committed
    for name in names:
        with Image.open(tmp_path / name) as fresh, Image.open(ASSETS / name) as kept:
            assert fresh.tobytes() == kept.tobytes(), f"{name} is stale: run assets/make_icons.py"


@pytest.mark.parametrize("state", list(IconState))
@pytest.mark.parametrize("size", SIZES)
def test_icon_path_every_state_and_size_is_rgba_with_transparency(
    state: IconState, size: int
) -> None:
    with Image.open(icon_path(state, size)) as image:
        assert image.size == (size, size)
        assert image.mode == "RGBA"
        low, high = image.getchannel("A").getextrema()
        assert low == 0  # the panel shows through around the glyph
        assert high == 255


def test_icon_path_default_is_the_64_px_icon_also_kept_as_state_png() -> None:
    for state in IconState:
        path = icon_path(state)
        assert path.name == f"{state.value}-64.png"
        assert path.read_bytes() == (assets_dir() / f"{state.value}.png").read_bytes()


def test_icon_path_rejects_a_size_that_was_not_drawn() -> None:
    with pytest.raises(ValueError, match="sizes are 16, 22"):
        icon_path(IconState.IDLE, 20)


def test_app_icon_path_is_256_px_and_exists_in_every_size() -> None:
    with Image.open(app_icon_path()) as image:
        assert image.size == (256, 256)
    for size in SIZES:
        assert app_icon_path(size).is_file()


def test_assets_dir_in_a_source_checkout_is_the_repository_assets() -> None:
    assert assets_dir() == ASSETS


def test_assets_dir_missing_files_raise_a_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tray_stt.resources._candidates", lambda: [Path("/nonexistent/assets")])
    with pytest.raises(AssetMissing, match="make_icons.py"):
        icon_path(IconState.IDLE)


@pytest.mark.parametrize("size", SIZES)
def test_icon_states_differ_pairwise_in_shape_not_only_colour(size: int) -> None:
    # Colour-blind safe: the alpha masks alone (the shapes) must tell every two states apart.
    masks = {s: Image.open(icon_path(s, size)).getchannel("A").tobytes() for s in IconState}
    minimum = max(8, size * size // 32)
    for a, b in combinations(IconState, 2):
        differing = sum(abs(x - y) > 64 for x, y in zip(masks[a], masks[b], strict=True))
        assert differing >= minimum, f"{a.value} and {b.value} look alike at {size} px"


def _squinted(state: IconState, size: int, panel: tuple[int, int, int]) -> list[float]:
    """The icon on ``panel`` as a glance sees it: 4 x 4 blocks of average colour, where thin
    lines blur away and only masses of shape and colour remain."""
    with Image.open(icon_path(state, size)) as icon:
        shown = Image.new("RGBA", icon.size, (*panel, 255))
        shown.alpha_composite(icon)
    blurred = shown.convert("RGB").resize((4, 4), Image.Resampling.BOX)
    return [float(v) for v in blurred.tobytes()]


@pytest.mark.parametrize("size", [16, 22, 24])
def test_icon_states_differ_pairwise_at_a_glance(size: int) -> None:
    """Listening and speech once differed only by two thin arcs, lost at a glance at 22 px
    (mean difference 10 of 255 here, against 16 or more for every other pair)."""
    for a, b in combinations(IconState, 2):
        for panel in (LIGHT_PANEL, DARK_PANEL):
            one, other = _squinted(a, size, panel), _squinted(b, size, panel)
            difference = sum(abs(x - y) for x, y in zip(one, other, strict=True)) / len(one)
            assert difference >= 14, f"{a.value} and {b.value} at {size} px: {difference:.1f}"


@pytest.mark.parametrize("panel", [LIGHT_PANEL, DARK_PANEL], ids=["light", "dark"])
@pytest.mark.parametrize("state", list(IconState))
def test_icon_16px_glyph_contrasts_with_light_and_dark_panels(
    state: IconState, panel: tuple[int, int, int]
) -> None:
    with Image.open(icon_path(state, 16)) as icon:
        shown = Image.new("RGBA", icon.size, (*panel, 255))
        shown.alpha_composite(icon)
        alpha = icon.getchannel("A").tobytes()
    colours = shown.tobytes()
    covered = [tuple(colours[4 * i : 4 * i + 3]) for i, a in enumerate(alpha) if a >= 128]
    visible = [px for px in covered if _contrast(px, panel) >= 3.0]
    assert len(covered) >= 64  # a glyph, not a speck
    assert len(visible) >= max(24, len(covered) // 5), f"{len(visible)} of {len(covered)}"


def test_load_icon_returns_a_loaded_rgba_image() -> None:
    image = load_icon(IconState.SPEECH)
    assert (image.mode, image.size) == ("RGBA", (64, 64))
    assert image.getpixel((32, 20)) != (0, 0, 0, 0)
