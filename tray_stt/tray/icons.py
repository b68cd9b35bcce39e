"""The tray icon of each application state, drawn by ``assets/make_icons.py``."""

from __future__ import annotations

from enum import Enum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from tray_stt.resources import ICON_SIZES, icon_file

if TYPE_CHECKING:
    from PIL import Image

SIZES = ICON_SIZES


class IconState(Enum):
    """What the tray icon shows; the value is the file name stem."""

    IDLE = "idle"
    CONNECTING = "connecting"
    LISTENING = "listening"
    SPEECH = "speech"
    ERROR = "error"


def icon_path(state: IconState, size: int = 64) -> Path:
    """The PNG of ``state`` at ``size`` pixels, one of SIZES."""
    return icon_file(state.value, size)


@cache  # the icon flips between listening and speech on every turn: decode each PNG once
def load_icon(state: IconState, size: int = 64) -> Image.Image:
    """The icon of ``state`` as a loaded RGBA Pillow image, shared: do not modify it."""
    from PIL import Image  # lazy: only the tray needs Pillow

    with Image.open(icon_path(state, size)) as image:
        return image.convert("RGBA")  # convert() also reads the pixels before the file closes
