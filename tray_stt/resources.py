"""Where the installed assets are: icons, sounds and the Silero model.

The files live in the repository's ``assets/`` folder. They are found in this order:

1. ``tray_stt/assets`` inside the installed package, through ``importlib.resources``: the wheel
   maps the repository's ``assets/`` folder there (see setup.py), so an installed copy needs no
   repository;
2. ``<repository>/assets`` beside the package folder: a source checkout or an editable install,
   where ``tray_stt/assets`` does not exist.

Zipped installs are not supported: the notification daemon and desktop entries need real paths.
Imports only the standard library, so every layer may use it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from tray_stt import APP_ID
from tray_stt.errors import AssetMissing

ICON_SIZES = (16, 22, 24, 32, 48, 64, 256)
_REBUILD = "reinstall tray-stt, or run `python assets/make_icons.py` in a source checkout"


def assets_dir() -> Path:
    """The folder holding the assets: the installed package's, else the source checkout's."""
    for candidate in _candidates():
        if (candidate / f"{APP_ID}.png").is_file():
            return candidate
    raise AssetMissing(
        "The tray-stt icons are missing (looked in "
        + " and ".join(str(c) for c in _candidates())
        + f"): {_REBUILD}."
    )


def asset(relative: str) -> Path:
    """The asset file at ``relative`` (e.g. ``"sounds/start.wav"``), which must exist."""
    path = assets_dir() / relative
    if not path.is_file():
        raise AssetMissing(f"The file {path} is missing: {_REBUILD}.")
    return path


def icon_file(stem: str, size: int) -> Path:
    """The PNG ``icons/<stem>-<size>.png``; ``size`` is one of ICON_SIZES."""
    if size not in ICON_SIZES:
        raise ValueError(f"no {size} px icon: sizes are {', '.join(map(str, ICON_SIZES))}")
    return asset(f"icons/{stem}-{size}.png")


def app_icon_path(size: int | None = None) -> Path:
    """The application icon (desktop entries, notifications); 256 px unless ``size`` is given."""
    return asset(f"{APP_ID}.png") if size is None else icon_file(APP_ID, size)


def _candidates() -> list[Path]:
    packaged = resources.files("tray_stt").joinpath("assets")
    checkout = Path(__file__).resolve().parent.parent / "assets"
    # A Traversable that is not a Path lives in a zip: nothing a daemon could open by name.
    return [packaged, checkout] if isinstance(packaged, Path) else [checkout]
