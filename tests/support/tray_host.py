"""An XEmbed system tray (trayer) on a test's own Xvfb, and ways to see our icon in it.

Shared by the desktop-tier tests. Each test gets a new X server and a new trayer: a tray host
shared between tests (a session fixture imported into two modules is two fixtures, so two
trayers stacked their panels on one display) hid the icon under the other panel, and windows
of one test were found by the next. The icon is pystray's xorg window, whose WM_CLASS is
("tray-sttSystemTrayIcon", "tray-stt"); screenshots are read straight from the X server with
python-xlib (a pystray dependency), so no ImageMagick is needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.tray_process import end_process

ICON_CLASS = "^tray-stt$"


def need(tool: str, package: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (apt install {package})")


@pytest.fixture
def tray_host(own_xvfb: str) -> Iterator[str]:
    """trayer, an XEmbed system tray, on this test's own Xvfb; yields the display name."""
    with TrayHost(own_xvfb):
        yield own_xvfb


class TrayHost:
    """A running trayer on ``display_name``; ready once it owns the system tray selection."""

    def __init__(self, display_name: str) -> None:
        need("trayer", "trayer")
        assert not tray_owner(display_name), "another tray host already runs on this display"
        command = ["trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel"]
        command += ["--width", "200", "--height", "32"]
        self.process = subprocess.Popen(
            command,
            env={**os.environ, "DISPLAY": display_name},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def owned() -> bool:
            assert self.process.poll() is None, f"trayer exited with {self.process.returncode}"
            return tray_owner(display_name)

        try:
            poll(owned, "trayer never took the system tray selection")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        end_process(self.process)

    def __enter__(self) -> TrayHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def poll(predicate: Any, message: str | Callable[[], str], timeout: float = 15.0) -> Any:
    """The first truthy ``predicate()``; fails with ``message`` (or what it returns then)."""
    waiter = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if value := predicate():
            return value
        waiter.wait(0.05)
    raise AssertionError(message if isinstance(message, str) else message())


def tray_owner(display_name: str) -> bool:
    from Xlib import X, display

    d = display.Display(display_name)
    try:
        atom = d.intern_atom(f"_NET_SYSTEM_TRAY_S{d.get_default_screen()}")
        return bool(d.get_selection_owner(atom) != X.NONE)
    finally:
        d.close()


def docked_icon(
    display_name: str, icon_class: str = ICON_CLASS
) -> tuple[int, int, int, int, int] | None:
    """(window id, x, y, width, height) of our icon once the tray has embedded it, else None.

    Embedded means shown inside another window: an icon whose tray went away is put back on
    the root window by the tray's save-set, still at its docked size.
    """
    from Xlib import X, display, error

    found = subprocess.run(
        ["xdotool", "search", "--class", icon_class],
        env={**os.environ, "DISPLAY": display_name},
        capture_output=True,
        text=True,
    ).stdout.split()
    d = display.Display(display_name)
    try:
        root = d.screen().root
        for wid in map(int, found):
            window = d.create_resource_object("window", wid)
            try:
                geometry = window.get_geometry()
                embedded = window.query_tree().parent != root
                shown = window.get_attributes().map_state == X.IsViewable
                origin = root.translate_coords(window, 0, 0)
            except error.XError:
                continue  # destroyed since xdotool listed it (the app quit)
            if embedded and shown and geometry.width > 1 and geometry.height > 1:
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


def drawn_icon(display_name: str, path: Path) -> Any:
    """Our docked icon as a picture (a screenshot crop saved at ``path``) once drawn, else None."""
    place = docked_icon(display_name)
    if place is None:
        return None
    _, x, y, width, height = place
    icon = screenshot(display_name, path).crop((x, y, x + width, y + height))
    return icon if len(icon.getcolors(4096) or []) > 8 else None  # not blank


def popup_menus(display_name: str) -> list[tuple[int, int, int, int]]:
    """(x, y, width, height) of every shown popup menu window (a GTK menu and its submenus)."""
    from Xlib import X, display, error

    d = display.Display(display_name)
    try:
        root = d.screen().root
        kind = d.intern_atom("_NET_WM_WINDOW_TYPE")
        popup = d.intern_atom("_NET_WM_WINDOW_TYPE_POPUP_MENU")
        found = []
        for window in root.query_tree().children:
            try:
                if window.get_attributes().map_state != X.IsViewable:
                    continue
                types = window.get_full_property(kind, X.AnyPropertyType)
                if types is None or popup not in types.value:
                    continue
                geometry = window.get_geometry()
            except error.XError:
                continue  # destroyed while we looked
            found.append((geometry.x, geometry.y, geometry.width, geometry.height))
        return found
    finally:
        d.close()
