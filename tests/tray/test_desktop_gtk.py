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

import json
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
from tests.support.xvfb import kill_selection_owners
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


def same_rows(one: Any, other: Any, top: int, bottom: int) -> bool:
    """Whether two menus look the same between ``top`` and ``bottom`` (menu coordinates). The
    menus may differ in width by a few pixels (the status row and the Usage item's text grow):
    compare what both show."""
    a = np.asarray(one.convert("RGB"))[top:bottom]
    b = np.asarray(other.convert("RGB"))[top:bottom]
    width = min(a.shape[1], b.shape[1])
    return bool((a[:, : width - 8] == b[:, : width - 8]).all())


def status_band(toggle_row: int) -> tuple[int, int]:
    """The status rows: from the top of the menu to just above the separator over the
    Start/Stop listening item (whose middle is ``toggle_row``)."""
    return 2, toggle_row - 14


def toggle_band(toggle_row: int) -> tuple[int, int]:
    """The Start/Stop listening item's text."""
    return toggle_row - 8, toggle_row + 8


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
            # 15 items and 3 separators: far taller than a bare window or an empty menu.
            assert menu[2] > 150 and height > 15 * 18, menu
            # The first item, the status row ("Idle"), is disabled: the first key selects the
            # second, Start listening, below it and the separator.
            toggle = choose(tray_host, "Down", menu, shots)
            assert height // 16 < toggle < 3 * height // 16, (toggle, height)
            answer = tray.wait_status(lambda s: s["today"] == len(TRANSCRIPTS))
            assert answer["listening"] is True
            assert server.delivered == TRANSCRIPTS and server.violations == []
            status = cli(env, "status")
            assert status.returncode == 0 and "listening" in status.stdout, status

            menu = open_menu(tray_host, icon_class)
            listening_menu = menu_shot(tray_host, menu, tmp_path / f"{name}-menu-listening.png")
            # The status row says it listens and what it heard; the toggle says Stop listening.
            assert not same_rows(listening_menu, idle_menu, *status_band(toggle))
            assert not same_rows(listening_menu, idle_menu, *toggle_band(toggle))
            xdotool(tray_host, "key", "Escape")
            poll(lambda: popup_menus(tray_host) == [], "Escape left the menu open")

            # A change from outside the menu (the control socket, off the GTK thread) reaches
            # the menu GTK shows next.
            assert cli(env, "stop").returncode == 0
            tray.wait_status(lambda s: s["state"] == "idle" and not s["listening"])
            menu = open_menu(tray_host, icon_class)
            stopped_menu = menu_shot(tray_host, menu, tmp_path / f"{name}-menu-stopped.png")
            assert same_rows(stopped_menu, idle_menu, *toggle_band(toggle))  # Start listening
            # "Idle: Chosen from the menu.": neither the first idle status nor the listening one.
            assert not same_rows(stopped_menu, idle_menu, *status_band(toggle))
            assert not same_rows(stopped_menu, listening_menu, *status_band(toggle))
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


# The newest is the one copied; Xvfb here may lack a Korean font (the older row then shows boxes).
RECENT_LOG = "09:15:02  회의는 세 시에 시작합니다.\n09:41:30  Café crème à 10 h, ça marche.\n"


def select(display_name: str, key: str, menu: tuple[int, int, int, int], shots: Path) -> int:
    """Press ``key`` in the open menu and wait until a different row shows as selected."""
    before = screenshot(display_name, shots.with_name(shots.name + f"-before-{key}.png"))
    xdotool(display_name, "key", key)
    after = shots.with_name(shots.name + f"-{key}.png")
    return int(
        poll(
            lambda: highlighted_row(screenshot(display_name, after), menu, before),
            f"{key} selected no menu item",
        )
    )


def clipboard(display_name: str) -> str:
    done = subprocess.run(
        ["xclip", "-selection", "clipboard", "-o"],
        env={**os.environ, "DISPLAY": display_name},
        capture_output=True,
        timeout=5,
    )
    return done.stdout.decode("utf-8", "replace")


@pytest.mark.desktop
def test_real_menu_recent_submenu_copies_a_transcript(
    tray_host: str, tmp_path: Path, private_session_bus: str
) -> None:
    """The Recent submenu (issue 14, item 6) of the real GTK menu: opened with the keyboard,
    screenshotted beside the menu, and its newest transcript copied to the clipboard."""
    need("xdotool", "xdotool")
    need("xclip", "xclip")
    if not system_gtk() or not GTK_PYTHON.exists():
        pytest.skip("no PyGObject for /usr/bin/python3, or no .venv-gtk (bash .ci/setup test)")
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "2026-11-30.txt").write_text(RECENT_LOG, encoding="utf-8")
    env = private_env(
        tmp_path,
        DISPLAY=tray_host,
        DBUS_SESSION_BUS_ADDRESS=private_session_bus,
        NO_AT_BRIDGE="1",
        PYSTRAY_BACKEND="gtk",
        TRAY_STT_LOG_DIR=str(logs),
    )
    shots = tmp_path / "recent"
    tray = TrayProcess(env, argv=[str(GTK_PYTHON), "-m", "tray_stt"])
    try:
        tray.wait_serving()
        menu = open_menu(tray_host, ICON_CLASSES["gtk"])
        toggle = select(tray_host, "Down", menu, shots)  # Start listening
        recent = select(tray_host, "Down", menu, shots)  # Recent, the row below
        assert recent > toggle, (toggle, recent)
        xdotool(tray_host, "key", "Right")  # opens the submenu, its first item selected
        menus = poll(lambda: m if len(m := popup_menus(tray_host)) == 2 else None, "no submenu")
        left = min(x for x, _, _, _ in menus)
        top = min(y for _, y, _, _ in menus)
        right = max(x + w for x, _, w, _ in menus)
        bottom = max(y + h for _, y, _, h in menus)
        whole = screenshot(tray_host, tmp_path / "recent-screen.png")
        save_artifact(whole.crop((left, top, right, bottom)), tmp_path / "recent-submenu.png")
        submenu = next(m for m in menus if m != menu)
        assert submenu[0] != menu[0] and submenu[1] > menu[1], (menu, submenu)  # beside Recent
        # Two transcripts, newest first: two rows, not the "No transcripts yet" one.
        assert 2 * 18 < submenu[3] < 4 * 30, submenu
        xdotool(tray_host, "key", "Return")
        poll(lambda: popup_menus(tray_host) == [], "the menu stayed open")
        poll(lambda: clipboard(tray_host) == "Café crème à 10 h, ça marche.", clipboard(tray_host))
        assert cli(env, "quit").returncode == 0
        assert tray.wait() == 0
    finally:
        tray.stop()
        kill_selection_owners(tray_host)
    assert "Traceback" not in tray.stderr, tray.stderr


TOOLTIP_SCRIPT = """
import pystray
from gi.repository import GLib
from PIL import Image
from tray_stt.tray.gtk import gtk_icon_class

icon = gtk_icon_class(pystray.Icon)("t", icon=Image.new("RGBA", (16, 16)), title="")


def setup(icon):
    icon.visible = True
    icon.title = "tray-stt: listening · Hello there."

    def read():
        print(icon._status_icon.get_tooltip_text(), flush=True)
        icon.stop()

    GLib.timeout_add(300, read)


icon.run(setup=setup)
"""


@pytest.mark.desktop
def test_gtk_status_icon_shows_the_title_as_its_tooltip(
    own_xvfb: str, private_session_bus: str
) -> None:
    """pystray's Gtk.StatusIcon set only a title, which no XEmbed tray shows (issue 14,
    problem 4): tray.gtk sets the tooltip too, on GTK's main loop."""
    if not system_gtk() or not GTK_PYTHON.exists():
        pytest.skip("no PyGObject for /usr/bin/python3, or no .venv-gtk (bash .ci/setup test)")
    env = {**os.environ, "DISPLAY": own_xvfb, "PYSTRAY_BACKEND": "gtk", "NO_AT_BRIDGE": "1"}
    env["DBUS_SESSION_BUS_ADDRESS"] = private_session_bus  # pystray's GTK notifier needs one
    done = subprocess.run(
        [str(GTK_PYTHON), "-c", TOOLTIP_SCRIPT], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "tray-stt: listening · Hello there.", done.stderr


RELABEL_SCRIPT = """
import json
import traceback

import pystray
from gi.repository import GLib
from PIL import Image
from tray_stt.tray.gtk import gtk_icon_class

item, menu = pystray.MenuItem, pystray.Menu
state = {"status": "Idle", "recent": ["first"], "checked": False, "extra": False}
copied = []


def row(index):
    def copy(icon, _item):
        copied.append(state["recent"][-1 - index])

    return item(
        lambda _: state["recent"][-1 - index] if index < len(state["recent"]) else "",
        copy,
        visible=lambda _: index < len(state["recent"]),
    )


icon = gtk_icon_class(pystray.Icon)(
    "t",
    icon=Image.new("RGBA", (16, 16)),
    menu=menu(
        item(lambda _: state["status"], None, enabled=False),
        menu.SEPARATOR,
        item(lambda _: "Stop" if state["status"] != "Idle" else "Start", None, default=True),
        item("Recent", menu(*(row(index) for index in range(3)))),
        item("Clipboard", None, checked=lambda _: state["checked"]),
        item("Extra", None, visible=lambda _: state["extra"]),
    ),
)
report = {}


def labels(handle):
    return [child.get_label() for child in handle.get_children()]


def look(name, before):
    handle = icon._menu_handle
    recent = handle.get_children()[3].get_submenu()
    report[name] = {
        "same": handle is before,
        "labels": labels(handle),
        "recent": labels(recent),
        "sensitive": [child.get_sensitive() for child in handle.get_children()],
        "checked": handle.get_children()[4].get_active(),
    }
    if name == "relabelled":
        recent.get_children()[0].activate()  # the newest row, as relabelled


def texts():
    state.update(status="Listening: fourth", recent=["second", "third", "fourth"])


STEPS = [  # each: a change, then update_menu(); what GTK shows is read on the next step
    ("grown", lambda: state.update(recent=["first", "second", "third"])),  # 1 -> 3 rows
    ("relabelled", texts),
    ("checked", lambda: state.update(checked=True)),
    ("shown", lambda: state.update(extra=True)),
]


def run_steps(steps, before=None, name=None):
    try:
        if name is not None:
            look(name, before)
        if not steps:
            report["copied"] = copied
            print(json.dumps(report), flush=True)
            icon.stop()
            return False
        (next_name, change), *rest = steps
        handle = icon._menu_handle
        change()
        icon.update_menu()
        GLib.timeout_add(200, run_steps, rest, handle, next_name)
    except Exception:
        traceback.print_exc()
        icon.stop()
    return False


def setup(icon):
    icon.visible = True
    GLib.timeout_add(300, run_steps, STEPS)  # on GTK's loop, once the menu is built


icon.run(setup=setup)
"""


@pytest.mark.desktop
@pytest.mark.parametrize("backend", ["gtk", "appindicator"])
def test_gtk_menu_is_relabelled_in_place_when_only_texts_change(
    backend: str, own_xvfb: str, private_session_bus: str
) -> None:
    """A transcript changed the status rows and Recent, and pystray rebuilt the whole menu each
    time: a third of the tray's CPU while listening to speech (benchmarks/bench_tray.py), and a
    menu the user had open closed under the pointer. Now the menu GTK has is relabelled; each
    item still does what its new label says; a check mark or an item shown rebuilds it."""
    if not system_gtk() or not GTK_PYTHON.exists():
        pytest.skip("no PyGObject for /usr/bin/python3, or no .venv-gtk (bash .ci/setup test)")
    env = {**os.environ, "DISPLAY": own_xvfb, "PYSTRAY_BACKEND": backend, "NO_AT_BRIDGE": "1"}
    env["DBUS_SESSION_BUS_ADDRESS"] = private_session_bus
    done = subprocess.run(
        [str(GTK_PYTHON), "-c", RELABEL_SCRIPT], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout, done.stderr
    report = json.loads(done.stdout)
    grown, relabelled = report["grown"], report["relabelled"]
    assert not grown["same"] and grown["recent"] == ["third", "second", "first"]
    assert relabelled["same"], report  # the same Gtk.Menu: nothing rebuilt
    assert relabelled["labels"][0] == "Listening: fourth"
    assert relabelled["labels"][2] == "<b>Stop</b>"  # the default item stays bold
    assert relabelled["recent"] == ["fourth", "third", "second"]
    assert relabelled["sensitive"][0] is False
    assert report["copied"] == ["fourth"]  # the relabelled row copies what it now says
    checked, shown = report["checked"], report["shown"]
    assert not checked["same"] and checked["checked"] is True
    assert not shown["same"] and shown["labels"][-1] == "Extra"


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
