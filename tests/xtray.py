"""An XEmbed system tray (trayer) on the session's Xvfb, and ways to see our icon in it.

Shared by the desktop-tier tests. The icon is pystray's xorg window, whose WM_CLASS is
("tray-sttSystemTrayIcon", "tray-stt"); screenshots are read straight from the X server with
python-xlib (a pystray dependency), so no ImageMagick is needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ICON_CLASS = "^tray-stt$"


def need(tool: str, package: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (apt install {package})")


@pytest.fixture(scope="session")
def tray_host(xvfb_display: str) -> Iterator[str]:
    """trayer, an XEmbed system tray, on the session's Xvfb: one for all desktop tests."""
    need("trayer", "trayer")
    command = ["trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel"]
    command += ["--width", "200", "--height", "32"]
    host = subprocess.Popen(
        command,
        env={**os.environ, "DISPLAY": xvfb_display},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        poll(lambda: tray_owner(xvfb_display), "trayer never took the system tray selection")
        yield xvfb_display
    finally:
        host.terminate()
        host.wait(10)


def poll(predicate: Any, message: str, timeout: float = 15.0) -> Any:
    waiter = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if value := predicate():
            return value
        waiter.wait(0.05)
    raise AssertionError(message)


def tray_owner(display_name: str) -> bool:
    from Xlib import X, display

    d = display.Display(display_name)
    try:
        atom = d.intern_atom(f"_NET_SYSTEM_TRAY_S{d.get_default_screen()}")
        return bool(d.get_selection_owner(atom) != X.NONE)
    finally:
        d.close()


def docked_icon(display_name: str) -> tuple[int, int, int, int, int] | None:
    """(window id, x, y, width, height) of our icon once the tray has embedded it, else None."""
    from Xlib import display

    found = subprocess.run(
        ["xdotool", "search", "--class", ICON_CLASS],
        env={**os.environ, "DISPLAY": display_name},
        capture_output=True,
        text=True,
    ).stdout.split()
    d = display.Display(display_name)
    try:
        for wid in map(int, found):
            window = d.create_resource_object("window", wid)
            geometry = window.get_geometry()
            if geometry.width > 1 and geometry.height > 1:  # docking is asynchronous
                origin = d.screen().root.translate_coords(window, 0, 0)
                return wid, origin.x, origin.y, geometry.width, geometry.height
    finally:
        d.close()
    return None


def screenshot(display_name: str, path: Path) -> Any:
    """The whole screen as a Pillow image, saved to ``path`` and to $TRAY_STT_ARTIFACTS."""
    from PIL import Image
    from Xlib import X, display

    d = display.Display(display_name)
    try:
        root = d.screen().root
        geometry = root.get_geometry()
        raw = root.get_image(0, 0, geometry.width, geometry.height, X.ZPixmap, 0xFFFFFFFF)
    finally:
        d.close()
    image = Image.frombytes("RGB", (geometry.width, geometry.height), raw.data, "raw", "BGRX")
    image.save(path)
    artifacts = os.environ.get("TRAY_STT_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(artifacts) / path.name)
    return image
