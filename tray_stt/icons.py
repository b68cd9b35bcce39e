"""The tray icon of each application state, and where its PNG files are found.

The PNGs are drawn by ``assets/make_icons.py`` and committed in the repository's ``assets/``
folder. They are found in this order:

1. ``tray_stt/assets`` inside the installed package, through ``importlib.resources``: the wheel
   maps the repository's ``assets/`` folder there (``package-dir`` in pyproject.toml), so an
   installed copy needs no repository;
2. ``<repository>/assets`` beside the package folder: a source checkout or an editable install,
   where ``tray_stt/assets`` does not exist.

Zipped installs are not supported: the notification daemon and desktop entries need real paths.
"""

from __future__ import annotations

from enum import Enum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import TraySttError

if TYPE_CHECKING:
    from PIL import Image

SIZES = (16, 22, 24, 32, 48, 64, 256)
APP_ICON_NAME = "tray-stt"


class IconState(Enum):
    """What the tray icon shows; the value is the file name stem."""

    IDLE = "idle"
    CONNECTING = "connecting"
    LISTENING = "listening"
    SPEECH = "speech"
    ERROR = "error"


class IconNotFound(TraySttError):
    """An icon file is missing from the installation."""


def assets_dir() -> Path:
    """The folder holding the icons: the installed package's, else the source checkout's."""
    for candidate in _candidates():
        if (candidate / f"{APP_ICON_NAME}.png").is_file():
            return candidate
    raise IconNotFound(
        "The tray-stt icons are missing (looked in "
        + " and ".join(str(c) for c in _candidates())
        + "): reinstall tray-stt, or run `python assets/make_icons.py` in a source checkout."
    )


def icon_path(state: IconState, size: int = 64) -> Path:
    """The PNG of ``state`` at ``size`` pixels, one of SIZES."""
    return _existing(assets_dir() / "icons" / f"{state.value}-{_checked(size)}.png")


def app_icon_path(size: int | None = None) -> Path:
    """The application icon (desktop entries, notifications); 256 px unless ``size`` is given."""
    if size is None:
        return _existing(assets_dir() / f"{APP_ICON_NAME}.png")
    return _existing(assets_dir() / "icons" / f"{APP_ICON_NAME}-{_checked(size)}.png")


def load_icon(state: IconState, size: int = 64) -> Image.Image:
    """The icon of ``state`` as a loaded RGBA Pillow image."""
    from PIL import Image  # lazy: only the tray needs Pillow

    with Image.open(icon_path(state, size)) as image:
        return image.convert("RGBA")  # convert() also reads the pixels before the file closes


def _candidates() -> list[Path]:
    packaged = resources.files("tray_stt").joinpath("assets")
    checkout = Path(__file__).resolve().parent.parent / "assets"
    # A Traversable that is not a Path lives in a zip: nothing a daemon could open by name.
    return [packaged, checkout] if isinstance(packaged, Path) else [checkout]


def _checked(size: int) -> int:
    if size not in SIZES:
        raise ValueError(f"no {size} px icon: sizes are {', '.join(map(str, SIZES))}")
    return size


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise IconNotFound(
            f"The icon {path} is missing: reinstall tray-stt, or run "
            "`python assets/make_icons.py` in a source checkout."
        )
    return path
