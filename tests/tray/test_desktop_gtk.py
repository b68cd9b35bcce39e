"""Desktop tier: the real GTK menu of the real tray app, opened and used with xdotool.

tests/tray/test_desktop_xorg.py runs pystray's xorg backend, which has no menu. Here the app runs in
a second virtual environment, .venv-gtk (Debian's python3 with --system-site-packages, so that the
system's PyGObject is importable; .ci/setup makes it when given ``test``), in an XEmbed tray
(trayer) on Xvfb with a private D-Bus and a fake notification daemon:

- with ``PYSTRAY_BACKEND=gtk`` (a Gtk.StatusIcon);
- with the backend tray-stt chooses by itself, which is AppIndicator when the Ayatana typelib is
  installed: with no StatusNotifierWatcher on the bus (trayer is not one), libayatana falls back
  to an XEmbed icon, so the icon must still dock and its menu still work.

A right click opens the menu; the test screenshots it (under tmp_path, and $TRAY_STT_ARTIFACTS
when set), starts listening from it with the keyboard, and quits from it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support import REPO
from tests.support.audio_samples import silence, tone
from tests.support.fake_notification_daemon import FakeNotificationDaemon
from tests.support.realtime_server import RealtimeServer
from tests.support.tray_host import docked_icon, need, poll, popup_menus, screenshot
from tests.support.tray_process import TrayProcess, cli, private_env, write_file_microphone
from tray_stt.tray.backend import choose_linux_backend

GTK_PYTHON = REPO / ".venv-gtk" / "bin" / "python"
SYSTEM_PYTHON = "/usr/bin/python3"
TRANSCRIPTS = ["Chosen from the menu."]
# The icon's WM_CLASS: pystray's Gtk.StatusIcon window is named after the program
# ("__main__.py" for python -m), libayatana's fallback icon after the indicator ("tray-stt").
GLIB_COMPLAINT = re.compile(r"^\(.*\): [\w-]+-(CRITICAL|WARNING) \*\*", re.MULTILINE)
ICON_CLASSES = {"gtk": "^__main__\\.py$", None: "^tray-stt$"}


def system_gtk() -> bool:
    """Whether /usr/bin/python3 has PyGObject and GTK 3 (apt install python3-gi gir1.2-gtk-3.0)."""
    if not Path(SYSTEM_PYTHON).exists():
        return False
    check = "import gi; gi.require_version('Gtk', '3.0')"
    return subprocess.run([SYSTEM_PYTHON, "-c", check], capture_output=True).returncode == 0


def xdotool(display_name: str, *args: str) -> None:
    subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display_name}, check=True)


def one_burst() -> np.ndarray:
    rate = 24000
    return np.concatenate([silence(0.5, rate), tone(500, 0.8, rate), silence(6.0, rate)])


def save_artifact(image: Any, path: Path) -> None:
    image.save(path)
    artifacts = os.environ.get("TRAY_STT_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(artifacts) / path.name)


def open_menu(display_name: str, icon_class: str) -> tuple[int, int, int, int]:
    """Right-click the docked icon; the menu's (x, y, width, height) once it is shown."""
    wid = poll(lambda: docked_icon(display_name, icon_class), "the icon never docked")[0]
    assert popup_menus(display_name) == [], "a menu was already open"
    xdotool(display_name, "mousemove", "--window", str(wid), "8", "8", "click", "3")
    menus = poll(lambda: popup_menus(display_name), "the menu never opened")
    assert len(menus) == 1, menus  # no submenu
    return menus[0]


def highlighted_row(image: Any, menu: tuple[int, int, int, int], before: Any) -> int | None:
    """The y (in the menu) of the row that changed since ``before``: the selected item."""
    x, y, width, height = menu
    box = (x, y, x + width, y + height)
    now = np.asarray(image.crop(box).convert("RGB"), dtype=int)
    then = np.asarray(before.crop(box).convert("RGB"), dtype=int)
    rows = np.flatnonzero(np.abs(now - then).sum(axis=(1, 2)) > width)
    return int(rows.mean()) if rows.size else None


def choose(display_name: str, key: str, menu: tuple[int, int, int, int], shots: Path) -> int:
    """Select an item of the open menu with ``key``, wait until it shows as selected, then
    activate it with Return. Returns the selected row's y in the menu.

    Waiting for the highlight means Return never reaches a menu whose keyboard grab is not in
    place yet, or goes to an item other than the one the key selected."""
    before = screenshot(display_name, shots.with_name(shots.name + "-before-key.png"))
    xdotool(display_name, "key", key)
    after = shots.with_name(shots.name + "-key.png")
    row = poll(
        lambda: highlighted_row(screenshot(display_name, after), menu, before),
        f"{key} selected no menu item",
    )
    xdotool(display_name, "key", "Return")
    poll(lambda: popup_menus(display_name) == [], "the menu stayed open")
    return int(row)


def menu_shot(display_name: str, menu: tuple[int, int, int, int], path: Path) -> Any:
    """The open menu and the tray above it, saved at ``path`` (and as an artifact): the picture
    to look at. Returns the menu alone."""
    x, y, width, height = menu
    whole = screenshot(display_name, path.with_name(path.stem + "-screen.png"))
    save_artifact(whole.crop((max(0, x - 10), 0, x + width, y + height)), path)
    return whole.crop((x, y, x + width, y + height))


def same_first_row(one: Any, other: Any) -> bool:
    """Whether two menus' first items look the same. The menus may differ in width by a few
    pixels (the Usage item's text grows once something is metered): compare what both show."""
    a, b = first_row(one), first_row(other)
    height, width = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    return bool((a[:height, : width - 8] == b[:height, : width - 8]).all())


def first_row(menu_image: Any) -> Any:
    """The pixels of the menu's first item ("Start listening" or "Stop listening")."""
    return np.asarray(menu_image.convert("RGB"))[: menu_image.height // 9]


@pytest.mark.desktop
@pytest.mark.parametrize(
    ("backend", "notifications"),
    [("gtk", True), (None, True), ("gtk", False)],
    ids=["gtk", "chosen", "gtk-no-notification-daemon"],
)
def test_real_menu_starts_listening_and_quits(
    backend: str | None,
    notifications: bool,
    request: pytest.FixtureRequest,
    tray_host: str,
    tmp_path: Path,
    private_session_bus: str,
) -> None:
    need("xdotool", "xdotool")
    if not system_gtk():
        pytest.skip("no PyGObject for /usr/bin/python3 (apt install python3-gi gir1.2-gtk-3.0)")
    if not GTK_PYTHON.exists():
        pytest.skip(".venv-gtk is missing (bash .ci/setup test makes it)")
    daemon: FakeNotificationDaemon | None = None
    if notifications:
        daemon = request.getfixturevalue("notification_daemon")
    env = private_env(
        tmp_path,
        DISPLAY=tray_host,
        DBUS_SESSION_BUS_ADDRESS=private_session_bus,
        NO_AT_BRIDGE="1",  # GTK would otherwise start an accessibility bus of its own
    )
    if backend is not None:
        env["PYSTRAY_BACKEND"] = backend
    icon_class = ICON_CLASSES[backend]
    name = str(request.node.callspec.id)  # artifacts of every case side by side
    shots = tmp_path / name
    device = write_file_microphone(Path(env["HOME"]), one_burst())
    with RealtimeServer(transcripts=TRANSCRIPTS) as server:
        env.update(TRAY_STT_URL=server.url, TRAY_STT_DEVICE=device)
        tray = TrayProcess(env, argv=[str(GTK_PYTHON), "-m", "tray_stt"])
        try:
            assert tray.wait_serving()["state"] == "idle"
            poll(lambda: docked_icon(tray_host, icon_class), "the icon never docked")
            screenshot(tray_host, tmp_path / f"{name}-tray.png")

            menu = open_menu(tray_host, icon_class)
            idle_menu = menu_shot(tray_host, menu, tmp_path / f"{name}-menu.png")
            height = menu[3]
            # 11 items and 2 separators: far taller than a bare window or an empty menu.
            assert menu[2] > 150 and height > 11 * 18, menu
            row = choose(tray_host, "Down", menu, shots)  # the first item: Start listening
            assert row < height // 9, (row, height)
            answer = tray.wait_status(lambda s: s["today"] == len(TRANSCRIPTS))
            assert answer["listening"] is True
            assert server.delivered == TRANSCRIPTS and server.violations == []
            status = cli(env, "status")
            assert status.returncode == 0 and "listening" in status.stdout, status

            menu = open_menu(tray_host, icon_class)
            listening_menu = menu_shot(tray_host, menu, tmp_path / f"{name}-menu-listening.png")
            assert not same_first_row(listening_menu, idle_menu)  # Stop listening
            xdotool(tray_host, "key", "Escape")
            poll(lambda: popup_menus(tray_host) == [], "Escape left the menu open")

            # A change from outside the menu (the control socket, off the GTK thread) reaches
            # the menu GTK shows next.
            assert cli(env, "stop").returncode == 0
            tray.wait_status(lambda s: s["state"] == "idle" and not s["listening"])
            menu = open_menu(tray_host, icon_class)
            stopped_menu = menu_shot(tray_host, menu, tmp_path / f"{name}-menu-stopped.png")
            assert same_first_row(stopped_menu, idle_menu)  # Start listening
            row = choose(tray_host, "Up", menu, shots)  # from nothing selected: the last, Quit
            assert row > height - height // 9, (row, height)
            assert tray.wait() == 0
            poll(lambda: docked_icon(tray_host, icon_class) is None, "the icon stayed after quit")
        finally:
            tray.stop()
    assert "Traceback" not in tray.stderr, tray.stderr
    # GLib's own complaints (Gdk-CRITICAL, Gtk-WARNING, GLib-GObject-CRITICAL …) read like a crash:
    # a start, a menu and a quit print none (libayatana's XEmbed fallback used to, every start).
    assert not GLIB_COMPLAINT.search(tray.stderr), tray.stderr
    if daemon is not None:
        ready = daemon.wait_for_notifications(1)[0]
        # AppIndicator (the backend chosen here) opens the menu on a click; a status icon starts.
        expected = {
            "gtk": "Ready: click the icon to start listening.",
            "chosen": "Ready: open the tray icon's menu and choose Start listening.",
        }
        assert ready["body"] == expected[name.removesuffix("-no-notification-daemon")]


# -- the backend choice with PyGObject (fast: a fake gi module) -----------------------------------


def fake_gi(monkeypatch: pytest.MonkeyPatch, *typelibs: str) -> None:
    """A ``gi`` module that has exactly ``typelibs`` (namespace names)."""

    def require_version(namespace: str, version: str) -> None:
        if namespace not in typelibs:
            raise ValueError(f"Namespace {namespace} not available")

    monkeypatch.setitem(sys.modules, "gi", types.SimpleNamespace(require_version=require_version))


X11 = {"DISPLAY": ":0"}
WAYLAND = {"WAYLAND_DISPLAY": "wayland-0"}
XWAYLAND = {**WAYLAND, **X11}


@pytest.mark.parametrize(
    ("typelibs", "env", "backend"),
    [
        (("Gtk", "AyatanaAppIndicator3"), X11, "appindicator"),
        (("Gtk", "AppIndicator3"), X11, "appindicator"),  # the older, Canonical library
        (("Gtk", "AyatanaAppIndicator3"), WAYLAND, "appindicator"),  # StatusNotifier is not X
        (("Gtk", "AyatanaAppIndicator3"), {}, None),  # no display at all: headless
        (("Gtk",), X11, "gtk"),  # a status icon with the menu, rather than xorg's without
        (("Gtk",), XWAYLAND, "gtk"),
        (("Gtk",), WAYLAND, None),  # XEmbed does not exist on Wayland
        (("AyatanaAppIndicator3",), X11, "xorg"),  # no GTK 3 typelib: neither GTK backend
        (("Gtk", "AyatanaAppIndicator3"), {**X11, "PYSTRAY_BACKEND": "xorg"}, "xorg"),
    ],
)
def test_choose_linux_backend_with_gi(
    typelibs: tuple[str, ...],
    env: dict[str, str],
    backend: str | None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_gi(monkeypatch, *typelibs)
    with caplog.at_level(logging.WARNING, logger="tray_stt.tray.backend"):
        assert choose_linux_backend(env) == backend
    # A fallback to an XEmbed-only icon says so, and how to get AppIndicator.
    warned = [record.getMessage() for record in caplog.records]
    if backend == "gtk":
        assert len(warned) == 1 and "gir1.2-ayatanaappindicator3-0.1" in warned[0], warned
    elif backend == "xorg" and "PYSTRAY_BACKEND" not in env:
        assert len(warned) == 1 and "python3-gi" in warned[0], warned
    else:
        assert warned == []
